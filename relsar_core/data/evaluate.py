"""Scoring a `.tflite` classifier (with its taught actions, if any) on labelled clip folders, as
`relsar-eval` does, and measuring how often motions that are no class are shown as one.

TensorFlow-free: the model runs through the same runtime and label smoothing as the app.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from relsar_core.data.datasets import find_clips, load_clip_folder
from relsar_core.data.report import clip_probabilities, write_report
from relsar_core.runtime.smoothing import NO_ACTION, REST_CLASSES, LabelSmoother
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.features import clip_features

# The app's default label smoothing (LivePipeline's defaults): the rejection rate is measured with it.
APP_SMOOTHING = dict(alpha=0.5, threshold=0.5, margin=0.1, hold=2)
APP_STRIDE = 5


def _probabilities(model, windows: np.ndarray) -> np.ndarray:
    if len(windows) == 0:
        return np.zeros((0, len(model.class_names)), np.float32)
    return np.concatenate(
        [
            model.predict_batch(windows[i : i + 512]).probabilities
            for i in range(0, len(windows), 512)
        ]
    )


def evaluate_folder(
    model,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    stride: int = APP_STRIDE,
    title: str = "eval",
) -> dict:
    """Window/clip accuracy, macro-F1, per-class precision/recall and confusion matrix (CSV, PNG
    in out_dir) plus per-clip predictions of `model` on a `<class>/<clip>.npz` folder."""
    data = load_clip_folder(data_dir, model.window, stride, class_names=list(model.class_names))
    probs = _probabilities(model, data.windows)
    report = write_report(probs, data, out_dir, title)
    clip_probs, clip_true = clip_probabilities(probs, data)
    used = np.unique(data.clip_ids)
    names = data.class_names
    report["clip_predictions"] = [
        {
            "clip": data.clip_paths[c],
            "true": names[int(t)],
            "predicted": names[int(p.argmax())],
            "confidence": round(float(p.max()), 4),
            "windows": int((data.clip_ids == c).sum()),
        }
        for c, t, p in zip(used, clip_true, clip_probs, strict=True)
    ]
    present = sorted(set(int(t) for t in clip_true))
    report["classes_present"] = [names[i] for i in present]
    return report


def shown_rates(model, folder: str | os.PathLike, stride: int = APP_STRIDE) -> dict:
    """For clips of motions that are no class (`<motion>/<clip>.npz`): the share of windows the
    app would show as an action (any class but a rest class) and as any class, with the app's
    default smoothing run over each clip's windows in order. On a labelled folder of the model's
    classes, `shown_as_own_class` is the other side of the same settings: how often the app
    shows the right label (not "—", not another class)."""
    pairs, motions = find_clips(folder)
    per_motion: dict[str, list[int]] = {
        m: [0, 0, 0, 0] for m in motions
    }  # windows, action, any, own
    for path, motion in pairs:
        windows = clip_features(load_clip(path).body15_at_model_rate(), model.window, stride)
        smoother = LabelSmoother(list(model.class_names), **APP_SMOOTHING)
        for p in _probabilities(model, windows):
            label = smoother.update(p).label
            counts = per_motion[motion]
            counts[0] += 1
            counts[1] += label != NO_ACTION and label not in REST_CLASSES
            counts[2] += label != NO_ACTION
            counts[3] += label == motion
    total = np.array(list(per_motion.values())).sum(axis=0)

    def rate(n, d):
        return round(float(n) / max(int(d), 1), 4)

    return {
        "windows": int(total[0]),
        "shown_as_action": rate(total[1], total[0]),
        "shown_as_any_class": rate(total[2], total[0]),
        "shown_as_own_class": rate(total[3], total[0]),
        "per_motion": {
            m: {
                "windows": c[0],
                "shown_as_action": rate(c[1], c[0]),
                "shown_as_any_class": rate(c[2], c[0]),
                "shown_as_own_class": rate(c[3], c[0]),
            }
            for m, c in per_motion.items()
        },
        "smoothing": APP_SMOOTHING,
        "stride": stride,
    }


def out_dir_for(out_json: Path) -> Path:
    """Where the confusion matrix files of `results.json` go: `results/` beside it."""
    return out_json.with_suffix("") if out_json.suffix else Path(f"{out_json}_report")
