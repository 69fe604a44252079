"""Scoring converted models on the held-out mocap side and picking the shipped demo clips.

TensorFlow-free: models are run with relsar_core.runtime.tflite.TfliteClassifier, exactly as the app does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from relsar_core.data.datasets import load_clip_folder
from relsar_core.data.report import write_report
from relsar_core.errors import DataError
from relsar_core.files import read_json_object
from relsar_core.runtime.tflite import TfliteClassifier
from relsar_core.skeleton.clip import load_clip

# Demo clips are chosen by a rule fixed before any model saw them: from the test side, a clip
# seen from the front half (a webcam faces its user), with moderate estimator noise, long
# enough to replay for a few seconds.
DEMO_MAX_AZIMUTH = 60.0
DEMO_MAX_NOISE = 1.0
DEMO_MIN_FRAMES = 45


def evaluate_tflite(
    model_path: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    stride: int = 5,
    title: str = "test",
) -> dict:
    """Window and clip accuracy, macro-F1 and confusion matrix of a .tflite on a clip folder;
    writes report.json and the confusion matrix (CSV, PNG) into out_dir and returns the report."""
    model = TfliteClassifier(model_path)
    data = load_clip_folder(data_dir, model.window, stride, class_names=model.class_names)
    probabilities = np.concatenate(
        [
            model.predict_batch(data.windows[i : i + 512]).probabilities
            for i in range(0, len(data), 512)
        ]
    )
    return write_report(probabilities, data, out_dir, title)


def _azimuth_from_front(azimuth: float) -> float:
    return abs((azimuth + 180.0) % 360.0 - 180.0)


def choose_demo_clips(data_dir: str | os.PathLike) -> dict[str, Path]:
    """One held-out clip per class from `<data_dir>/test` (written by relsar-data mocap), by the rule above."""
    data_dir = Path(data_dir)
    manifest_path = data_dir / "manifest.json"
    manifest = read_json_object(
        manifest_path, DataError, "not a readable relsar-data mocap manifest"
    )
    cameras = manifest["cameras"]["test"]
    chosen: dict[str, Path] = {}
    for entry in manifest["clips"]["test"]:
        label = entry["file"].split("/")[1]
        if label in chosen:
            continue
        if (
            _azimuth_from_front(cameras[entry["camera"]]["azimuth"]) <= DEMO_MAX_AZIMUTH
            and entry["noise_level"] <= DEMO_MAX_NOISE
            and entry["frames"] >= DEMO_MIN_FRAMES
        ):
            chosen[label] = data_dir / entry["file"]
    missing = sorted(set(manifest["classes"]) - set(chosen))
    if missing:
        raise DataError(f"{manifest_path}: no test clip fits the demo rule for {missing}")
    return {name: chosen[name] for name in manifest["classes"]}


def copy_demo_clips(clips: dict[str, Path], out_dir: str | os.PathLike) -> list[Path]:
    """Copy the chosen clips to `<out_dir>/<class>.npz` (they keep their label inside)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, src in clips.items():
        dst = out_dir / f"{name}.npz"
        shutil.copyfile(src, dst)
        written.append(dst)
    return written


def comparison_table(rows: list[dict]) -> str:
    """Markdown table of {name, accuracy, clip_accuracy, macro_f1, size_kb?} rows."""
    lines = [
        "| model | window accuracy | clip accuracy | macro-F1 | size |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = f"{r['size_kb']:.0f} KB" if r.get("size_kb") else "–"
        lines.append(
            f"| {r['name']} | {r['accuracy']:.3f} | {r['clip_accuracy']:.3f} | {r['macro_f1']:.3f} | {size} |"
        )
    return "\n".join(lines)


def confusion_table(report: dict) -> str:
    """The report's confusion matrix as a markdown table (rows true, columns predicted)."""
    names = report["class_names"]
    lines = ["| true \\ predicted | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for name, row in zip(names, report["confusion_matrix"], strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def choose_webcam_demo_clips(data_dir: str | os.PathLike) -> dict[str, Path]:
    """One held-out clip per class from `<data_dir>/test` of `relsar-data webcam`, by a rule fixed
    before any model saw them: a front view (|azimuth| <= 8°), moderate estimator noise, long
    enough to replay, at the model's frame rate; the whole body for whole-body classes, the upper
    body for the others."""
    from relsar_core.data.mocap.webcam import UPPER_BODY_CLASSES

    data_dir = Path(data_dir)
    manifest_path = data_dir / "manifest.json"
    manifest = read_json_object(
        manifest_path, DataError, "not a readable relsar-data webcam manifest"
    )
    chosen: dict[str, Path] = {}
    for entry in manifest["clips"]["test"]:
        label = entry["file"].split("/")[1]
        want = "upper" if label in UPPER_BODY_CLASSES and label != "idle" else "whole"
        clip_ok = (
            label not in chosen
            and entry["framing"] == want
            and _azimuth_from_front(entry["camera"]["azimuth"]) <= 8.0
            and entry["noise_level"] <= 0.6
            and entry.get("capture_fps", 30.0) >= 30.0
        )
        if clip_ok and load_clip(data_dir / entry["file"]).num_frames >= DEMO_MIN_FRAMES:
            chosen[label] = data_dir / entry["file"]
    missing = sorted(set(manifest["classes"]) - set(chosen))
    if missing:
        raise DataError(f"{manifest_path}: no test clip fits the demo rule for {missing}")
    return {name: chosen[name] for name in manifest["classes"]}
