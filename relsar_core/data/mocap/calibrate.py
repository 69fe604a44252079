"""Measure what a real pose estimator outputs, to calibrate `estimator_noise` (model card values).

Runs a pose backend over a video (the real sample video by default) and summarises, on body15:
confidence quantiles per joint, jitter per joint (distance of each position from the mean of its
two neighbouring frames, in torso lengths), the share of frames each joint is below
MIN_CONFIDENCE (dropouts), left/right swap rate of wrists and ankles (a frame where the two
sides fit the previous frame better swapped), frames with nobody found, and how dropouts and
confidences run in time (mean dropout run in frames, the chance a dropout lasts into the next
frame, the lag-1 autocorrelation of each joint's confidence), over consecutive frames with a
person. `python -m relsar_core.data.mocap.calibrate VIDEO` prints the summary as JSON.
"""

from __future__ import annotations

import os

import numpy as np

from relsar_core.errors import DataError
from relsar_core.pose.factory import DEFAULT_POSE_BACKEND
from relsar_core.skeleton.features import MIN_CONFIDENCE

_PAIRS = {"wrists": (4, 7), "ankles": (11, 14), "elbows": (3, 6), "knees": (10, 13)}


def _time_structure(conf: np.ndarray, person: np.ndarray) -> dict:
    """Per joint, over runs of frames with a person: mean dropout run (frames), P(dropout |
    dropout in the frame before) and lag-1 autocorrelation of confidence (each run's own mean off)."""
    low = (conf < MIN_CONFIDENCE) & person[:, None]
    pair = person[1:] & person[:-1]
    starts = low.copy()
    starts[1:] &= ~(low[:-1] & pair[:, None])
    run = low.sum(axis=0) / np.maximum(starts.sum(axis=0), 1)
    stay = (low[1:] & low[:-1] & pair[:, None]).sum(axis=0) / np.maximum(
        (low[:-1] & pair[:, None]).sum(axis=0), 1
    )
    segment = np.cumsum(np.concatenate([[True], ~pair]))  # a new id after every gap
    centred = np.zeros_like(conf)
    for sid in np.unique(segment[person]):
        rows = (segment == sid) & person
        centred[rows] = conf[rows] - conf[rows].mean(axis=0)
    num = (centred[1:] * centred[:-1])[pair].sum(axis=0)
    den = (centred[person] ** 2).sum(axis=0) * max(pair.sum(), 1) / max(person.sum(), 1)
    return {
        "dropout_run_frames": [round(float(v), 2) for v in run],
        "dropout_persistence": [round(float(v), 3) for v in stay],
        "confidence_lag1_autocorr": [round(float(v), 3) for v in num / np.maximum(den, 1e-9)],
    }


def summarise(keypoints: np.ndarray) -> dict:
    """body15 frames (F, 15, 3) with all-zero frames for nobody → the calibration summary."""
    kp = np.asarray(keypoints, np.float64)
    person = (kp[..., 2] >= MIN_CONFIDENCE).any(axis=1)
    seen = kp[person]
    conf = seen[..., 2]
    torso = np.linalg.norm(seen[:, 1, :2] - seen[:, 8, :2], axis=-1)
    size = float(np.median(torso[(conf[:, 1] >= 0.5) & (conf[:, 8] >= 0.5)])) if len(seen) else 1.0
    good = conf >= MIN_CONFIDENCE
    mid = seen[1:-1, :, :2] - (seen[:-2, :, :2] + seen[2:, :, :2]) / 2
    ok = good[1:-1] & good[:-2] & good[2:]
    jitter = np.linalg.norm(mid, axis=-1) / max(size, 1e-6)
    swaps = {}
    for name, (a, b) in _PAIRS.items():
        prev, cur = seen[:-1, :, :2], seen[1:, :, :2]
        same = np.linalg.norm(cur[:, a] - prev[:, a], axis=-1) + np.linalg.norm(
            cur[:, b] - prev[:, b], axis=-1
        )
        crossed = np.linalg.norm(cur[:, a] - prev[:, b], axis=-1) + np.linalg.norm(
            cur[:, b] - prev[:, a], axis=-1
        )
        both = good[1:, [a, b]].all(axis=1) & good[:-1, [a, b]].all(axis=1)
        swaps[name] = float(((crossed < 0.5 * same) & both).mean()) if both.any() else 0.0
    return {
        "frames": int(len(kp)),
        "nobody_fraction": round(float(1 - person.mean()), 4),
        "torso_px_median": round(size, 1),
        "confidence_quantiles": {
            q: [round(float(v), 3) for v in np.quantile(conf, float(q), axis=0)]
            for q in ("0.05", "0.25", "0.5", "0.75", "0.95")
        },
        "dropout_fraction": [round(float(v), 4) for v in 1 - good.mean(axis=0)],
        "jitter_median_torso": [
            round(float(np.median(jitter[:, j][ok[:, j]])) if ok[:, j].any() else 0.0, 4)
            for j in range(15)
        ],
        "swap_rate": {k: round(v, 4) for k, v in swaps.items()},
        **_time_structure(kp[..., 2], person),
    }


def measure_video(
    path: str | os.PathLike, backend: str = DEFAULT_POSE_BACKEND, limit: int = 0
) -> dict:
    """Run `backend` over the video at `path` (first `limit` frames, 0 = all) and summarise."""
    import cv2

    from relsar_core.pose.factory import create_pose_estimator

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():  # before loading a pose model: a wrong path fails at once
        raise DataError(f"{path}: not a readable video")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    est = create_pose_estimator(backend, None)
    rows = []
    while limit <= 0 or len(rows) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        skel = est.estimate(frame)
        rows.append(np.zeros((15, 3)) if skel is None else skel.to_body15())
    cap.release()
    est.close()
    if not rows:
        raise DataError(f"{path}: no frames could be read")
    out = summarise(np.stack(rows))
    out.update(video=os.path.basename(str(path)), backend=backend, fps=fps)
    return out


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m relsar_core.data.mocap.calibrate VIDEO")
    try:
        print(json.dumps(measure_video(sys.argv[1]), indent=1))
    except DataError as error:
        sys.exit(f"error: {error}")
