"""Fitting the open-set gate (relsar_core.runtime.rejection) of a converted model on
VALIDATION data only: class means from the training clips of the trainer's own split, the
threshold from its validation clips and from validation-only out-of-set motions
(`mocap.validation_motions`), never from the test or the rejection test's motions.

The threshold is the lowest on THRESHOLDS whose validation out-of-set windows are shown as an
action (the app's default smoothing) at most `target` of the time: the weakest gate that meets
the rejection target on validation, so it costs the classes as little as it can.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from relsar_core.data.datasets import find_clips, load_clip_folder, split_clips
from relsar_core.data.evaluate import APP_SMOOTHING, APP_STRIDE
from relsar_core.errors import DataError, ModelFileError
from relsar_core.files import write_json
from relsar_core.runtime.flip_average import SIDECAR_KEY as FLIP_KEY
from relsar_core.runtime.rejection import DEFAULT_SHARPNESS, read_rejection, rejection_entry
from relsar_core.runtime.smoothing import NO_ACTION, REJECT_CLASSES, REST_CLASSES, LabelSmoother
from relsar_core.runtime.tflite import TfliteClassifier, sidecar_path
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.features import clip_features

THRESHOLDS = tuple(round(0.5 + 0.025 * i, 3) for i in range(19))  # 0.5 … 0.95
DEFAULT_TARGET = 0.2  # issue #14: at most 20 % of out-of-set windows shown as an action


def smoothed_rates(probs: np.ndarray, clips: np.ndarray, labels, class_names) -> dict:
    """App smoothing run over each clip's windows in order: share shown as an action (not "—",
    not a rest class), as any class, and as the window's own label."""
    n = action = shown = own = 0
    for c in np.unique(clips):
        smoother = LabelSmoother(list(class_names), **APP_SMOOTHING)
        for i in np.flatnonzero(clips == c):
            label = smoother.update(probs[i]).label
            n += 1
            shown += label != NO_ACTION
            action += label != NO_ACTION and label not in REST_CLASSES
            own += label == labels[i]
    d = max(n, 1)
    return {"shown_as_action": action / d, "shown_as_any_class": shown / d, "own": own / d}


def _macro_f1(pred: np.ndarray, true: np.ndarray, classes: list[int]) -> float:
    f1 = []
    for k in classes:
        tp = np.sum((pred == k) & (true == k))
        denom = np.sum(pred == k) + np.sum(true == k)
        f1.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1))


def _clip_outputs(model, folder: Path, stride: int):
    pairs, _ = find_clips(folder)
    windows, clips = [], []
    for ci, (path, _) in enumerate(pairs):
        w = clip_features(load_clip(path).body15_at_model_rate(), model.window, stride)
        windows.append(w)
        clips += [ci] * len(w)
    if not clips:
        raise DataError(f"{folder}: no windows of {model.window} frames in its clips")
    return model.predict_batch(np.concatenate(windows)), np.asarray(clips)


def tune_rejection(
    model_path: str | os.PathLike,
    train: str | os.PathLike,
    val_out_of_set: str | os.PathLike,
    val_fraction: float,
    split_seed: int,
    target: float = DEFAULT_TARGET,
    stride: int = APP_STRIDE,
    flip_average: bool | None = None,
) -> dict:
    """The sidecar `rejection` entry for the model, with the tuning table in it. The threshold
    is tuned on the scores the model gives with `flip_average` (None: as its sidecar says;
    runtime.flip_average), recorded in the tuning so write_rejection writes the two together."""
    model = TfliteClassifier(model_path, flip_average=flip_average)
    names = list(model.class_names)
    rejects = [i for i, n in enumerate(names) if n in REJECT_CLASSES]
    if not rejects:
        raise ModelFileError(
            f"{model_path}: the model has no rejection class ({sorted(REJECT_CLASSES)})"
        )
    data = load_clip_folder(train, model.window, stride, names)
    tr, va, _ = split_clips(data.clip_labels, val_fraction, 0.0, split_seed)
    if len(va) == 0:
        raise DataError(f"{train}: no validation clips with val_fraction {val_fraction}")
    fit, val = data.subset(tr), data.subset(va)
    fit_emb = model.predict_batch(fit.windows).embedding
    val_out = model.predict_batch(val.windows)
    oos_out, oos_clips = _clip_outputs(model, Path(val_out_of_set), stride)
    oos_p = oos_out.probabilities
    actions = [i for i in range(len(names)) if i not in rejects]
    val_names = [names[i] for i in val.labels]
    table, chosen = [], None
    entry = rejection_entry(fit_emb, fit.labels, names, THRESHOLDS[0])  # centres fitted once
    base_gate = read_rejection({"rejection": entry}, names, fit_emb.shape[1])
    assert base_gate is not None and base_gate.reject == rejects[0]

    def score(threshold: float | None) -> dict:
        if threshold is None:
            pv, po = val_out.probabilities, oos_p
        else:
            gate = replace(base_gate, threshold=threshold)
            pv = gate.gate(val_out.probabilities, val_out.embedding, val_out.mirror_embedding)
            po = gate.gate(oos_p, oos_out.embedding, oos_out.mirror_embedding)
        v = smoothed_rates(pv, val.clip_ids, val_names, names)
        o = smoothed_rates(po, oos_clips, [""] * len(po), names)
        return {
            "threshold": threshold,
            "val_macro_f1": round(_macro_f1(pv.argmax(1), val.labels, actions), 4),
            "val_shown_as_own_class": round(v["own"], 4),
            "val_out_of_set_shown_as_action": round(o["shown_as_action"], 4),
        }

    ungated = score(None)
    for t in THRESHOLDS:
        row = score(t)
        table.append(row)
        if chosen is None and row["val_out_of_set_shown_as_action"] <= target:
            chosen = row
    if chosen is None:
        chosen = table[-1]
    tuning = {
        "target": target,
        "chosen": chosen,
        "ungated": ungated,
        "table": table,
        "fit_windows": int(len(fit_emb)),
        "val_windows": int(len(val.labels)),
        "val_out_of_set_windows": int(len(oos_p)),
        "val_out_of_set": str(val_out_of_set),
        "flip_average": model.flip_average,
    }
    return {**entry, "threshold": chosen["threshold"], "tuning": tuning}


def write_rejection(model_path: str | os.PathLike, entry: dict) -> None:
    """Put `entry` into the model's sidecar as `rejection`, with the flip averaging its threshold
    was tuned with (the .tflite is unchanged)."""
    path = sidecar_path(model_path)
    meta = dict(TfliteClassifier(model_path).metadata)
    meta["rejection"] = entry
    meta[FLIP_KEY] = bool(entry.get("tuning", {}).get("flip_average", False))
    try:
        write_json(path, meta)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot write ({exc.strerror})") from None


__all__ = ["DEFAULT_SHARPNESS", "THRESHOLDS", "tune_rejection", "write_rejection", "smoothed_rates"]
