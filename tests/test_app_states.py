"""What the window says after a state change the tester drove under Xvfb: a good model after a
bad one, Space and Esc while a source opens, and switching source (nothing stale stays up)."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here
from __future__ import annotations

import shutil

from tests.test_app import WAIT_MS, make_window, model_copy, toy_clip, wait_idle  # noqa: F401


def test_a_good_model_after_a_bad_one_clears_the_error(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    bad = model_copy.parent.parent / "bad" / "bad.tflite"
    bad.parent.mkdir()
    bad.write_bytes(model_copy.read_bytes()[:1000])  # truncated, its sidecar intact
    shutil.copy(model_copy.with_suffix(".json"), bad.with_suffix(".json"))
    window.load_model(bad)
    wait_idle(qtbot, window)
    assert window.banner.level == "error" and "Model not loaded" in window.banner.text
    window.load_model(model_copy)
    wait_idle(qtbot, window)
    loaded = f"Loaded toy.tflite — {len(window.classifier.class_names)} actions"
    assert window.banner.level == "info" and window.banner.text == loaded
    assert window.statusBar().currentMessage() == loaded
    window.stop()
