"""Validation-only breakdown of a model (ungated): macro-F1 per framing, per azimuth band, per
noise level and per keyframe style, on the trainer's own validation clips of a `relsar-data
webcam` folder. Never reads the test side; used to choose training changes (MODEL_CARD.md).

    python tools/val_breakdown.py MODEL(.tflite|best.keras) DATA_DIR [--config webcam_model]
                                  [--flip-average | --no-flip-average]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from relsar_core.config import RunConfig, load_config
from relsar_core.data.datasets import load_clip_folder, split_clips
from relsar_core.data.mocap.webcam import UPPER_BODY_CLASSES


def _predictor(path: Path, flip_average: bool | None = None):
    """(class names, windows → top class) of a .tflite or of a run folder's .keras, with flip
    test-time averaging as the sidecar says (None; a .keras has none: off) or forced on/off,
    through the runtime's one flip-averaging function."""
    from relsar_core.runtime.flip_average import flip_averaged

    if path.suffix == ".tflite":
        from relsar_core.runtime.tflite import TfliteClassifier

        model = TfliteClassifier(path, flip_average=flip_average)
        return list(model.class_names), lambda w: model.predict_batch(w).probabilities.argmax(1)
    from relsar_core.train.supervised import load_model

    keras_model = load_model(path)
    names = json.loads((path.parent / "run.json").read_text())["class_names"]

    def run(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = keras_model.predict(w, batch_size=512, verbose=0)
        return out["logits"], out["embedding"]

    def top(w: np.ndarray) -> np.ndarray:
        return (flip_averaged(run, w) if flip_average else run(w))[0].argmax(1)

    return names, top


def _macro_f1(pred: np.ndarray, true: np.ndarray, classes: list[int]) -> float:
    """relsar-eval's macro-F1 (over the classes the windows hold), restricted to `classes`."""
    present = [k for k in classes if np.any(true == k)]
    if not present:
        return float("nan")
    return round(float(f1_score(true, pred, labels=present, average="macro", zero_division=0)), 4)


def breakdown(
    model: Path, data: Path, config: str = "webcam_model", flip_average: bool | None = None
) -> dict:
    cfg = load_config(config, RunConfig)
    names, predict = _predictor(model, flip_average)
    clips = load_clip_folder(data / "train", cfg.data.window, cfg.data.stride, names)
    _, val_idx, _ = split_clips(clips.clip_labels, cfg.data.val_fraction, 0.0, cfg.data.seed)
    val = clips.subset(val_idx)
    manifest = json.loads((data / "manifest.json").read_text())["clips"]["train"]
    entries = {e["file"]: e for e in manifest}
    meta = [
        entries[Path(p).resolve().relative_to(data.resolve()).as_posix()] for p in clips.clip_paths
    ]
    per_window = [meta[i] for i in val.clip_ids]
    framing = np.array([m["framing"] for m in per_window])
    azimuth = np.array([abs((m["camera"]["azimuth"] + 180) % 360 - 180) for m in per_window])
    noise = np.array([m["noise_level"] for m in per_window])
    style = np.array([m["style"] for m in per_window])
    pred, true = predict(val.windows), val.labels
    actions = [i for i, n in enumerate(names) if n != "other"]
    upper = [names.index(c) for c in UPPER_BODY_CLASSES]
    out: dict = {
        "windows": int(len(true)),
        "accuracy": round(float(np.mean(pred == true)), 4),
        "macro_f1": _macro_f1(pred, true, actions),
    }
    for f in ("whole", "upper", "partial"):
        out[f"macro_f1_{f}"] = _macro_f1(pred[framing == f], true[framing == f], actions)
    up = framing == "upper"
    out["macro_f1_upper_classes_upper_framing"] = _macro_f1(pred[up], true[up], upper)
    for lo, hi in ((0, 30), (30, 60), (60, 90), (90, 135), (135, 181)):
        band = (azimuth >= lo) & (azimuth < hi)
        out[f"accuracy_azimuth_{lo}_{hi}"] = round(float(np.mean(pred[band] == true[band])), 4)
    for lo, hi in ((0.0, 0.33), (0.33, 0.66), (0.66, 1.01)):
        level = (noise >= lo) & (noise < hi)
        out[f"macro_f1_noise_{lo}_{hi}"] = _macro_f1(pred[level], true[level], actions)
    out["accuracy_per_style"] = {
        f"{names[k]}/{s}": round(float(np.mean(pred[(true == k) & (style == s)] == k)), 3)
        for k in upper
        for s in sorted(set(style[true == k]))
    }
    wrong = Counter((names[t], names[p]) for t, p in zip(true, pred, strict=True) if t != p)
    out["top_confusions"] = [[t, p, n] for (t, p), n in wrong.most_common(8)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("data", type=Path)
    p.add_argument("--config", default="webcam_model")
    p.add_argument(
        "--flip-average",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force flip test-time averaging on/off (default: the sidecar's; .keras: off)",
    )
    args = p.parse_args()
    print(json.dumps(breakdown(args.model, args.data, args.config, args.flip_average), indent=1))


if __name__ == "__main__":
    main()
