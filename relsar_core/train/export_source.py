"""What a TFLite conversion starts from: a trained .keras classifier (or a run folder), its class
names, window and layout, and how its training data was loaded (run.json)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from relsar_core.config import DataConfig
from relsar_core.errors import ModelFileError, first_line
from relsar_core.files import read_json_object
from relsar_core.skeleton.features import FEATURE_DIM


@dataclass
class SourceModel:
    """A trained two-output classifier and what the sidecar needs to know about it."""

    model: object  # keras.Model with outputs {"logits", "embedding"}
    checkpoint: Path
    class_names: list[str]
    window: int
    layout: str
    embedding_dim: int
    data_args: dict | None  # how run.json says the training data was loaded (load_splits arguments)
    data_config: DataConfig  # split settings, so validation windows are the run's own


def _load_keras(path: Path):
    import keras

    import relsar_core.train.model  # noqa: F401  registers the custom layer before loading
    from relsar_core.train.model import keras_problem

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive; all mean "unusable file"
        raise ModelFileError(
            f"{path}: not a loadable .keras model ({keras_problem(exc)})"
        ) from None


def _run_data_args(run: dict) -> dict | None:
    """relsar-train records {"data_args": {"data", "data_format", "protocol", "test_data"}};
    a plain {"data": DIR} (a folder of clips) is accepted too."""
    args = run.get("data_args") or ({"data": run["data"]} if run.get("data") else None)
    if not args or not args.get("data"):
        return None
    return {
        k: args.get(k)
        for k in ("data", "data_format", "protocol", "test_data")
        if args.get(k) is not None
    }


def load_source(path: str | os.PathLike, classes: list[str] | None = None) -> SourceModel:
    """A RUN_DIR (best.keras + run.json) or a bare .keras file (class names from a run.json beside
    it, else `classes`, else class_0 … class_{K-1})."""
    path = Path(path)
    if path.is_dir():
        checkpoint = path / "best.keras"
        if not checkpoint.is_file():
            raise ModelFileError(f"{path}: run folder has no best.keras")
    elif path.is_file():
        if path.suffix != ".keras":
            raise ModelFileError(f"{path}: expected a run folder or a .keras file")
        checkpoint = path
    else:
        raise ModelFileError(f"{path}: no such run folder or .keras file")
    run_json = checkpoint.parent / "run.json"
    run = read_json_object(run_json, ModelFileError) if run_json.is_file() else {}
    model = _load_keras(checkpoint)
    x = np.zeros((1, *model.input_shape[1:]), np.float32)
    out = model(x, training=False)
    if not isinstance(out, dict) or set(out) != {"logits", "embedding"}:
        raise ModelFileError(
            f"{checkpoint}: model must output {{'logits', 'embedding'}}, not {type(out).__name__}"
        )
    window, dim = model.input_shape[1], model.input_shape[2]
    if dim != FEATURE_DIM or window is None:
        raise ModelFileError(
            f"{checkpoint}: model input {model.input_shape}, expected (None, T, {FEATURE_DIM})"
        )
    k, e = int(out["logits"].shape[-1]), int(out["embedding"].shape[-1])
    if run.get("class_names") and classes and list(classes) != run["class_names"]:
        raise ModelFileError(
            f"{run_json}: names the classes {run['class_names']}; --classes is for a bare "
            ".keras file without them (drop it)"
        )
    names = run.get("class_names") or classes or [f"class_{i}" for i in range(k)]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ModelFileError(f"{run_json}: 'class_names' must be a list of names")
    if len(names) != k:
        where = run_json if run.get("class_names") else "--classes"
        raise ModelFileError(f"{where}: {len(names)} class names for a model with {k} outputs")
    if run.get("window") not in (None, window):
        raise ModelFileError(
            f"{run_json}: window {run['window']} but the model takes {window} frames"
        )
    try:
        data_config = DataConfig(**((run.get("config") or {}).get("data") or {}))
    except (ValidationError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{run_json}: unusable 'config.data' ({first_line(exc)})") from None
    return SourceModel(
        model=model,
        checkpoint=checkpoint,
        class_names=[str(n) for n in names],
        window=int(window),
        layout=str(run.get("layout", "body15")),
        embedding_dim=e,
        data_args=_run_data_args(run),
        data_config=data_config,
    )
