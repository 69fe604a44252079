"""The errors a real 2-D pose estimator makes, applied to clean projected joints.

Per clip a noise `level` (0 = clean) scales everything. Modelled on what BlazePose / ViTPose do
on webcam video: per-joint jitter (white plus slow drift, larger at wrists and ankles), lower
confidence and more jitter for joints hidden behind the body, joints outside the image lost,
short dropouts with near-zero confidence, a few whole frames with nobody found, and occasional
left/right swaps of arms or legs for a few frames (most often in side views).
"""

from __future__ import annotations

import numpy as np

from relsar_core.data.mocap.body import smooth_noise
from relsar_core.skeleton.layouts import get_layout

_EXTREMITIES = [4, 7, 11, 14]
_ARMS = [(2, 5), (3, 6), (4, 7)]
_LEGS = [(9, 12), (10, 13), (11, 14)]


def _spans(rng: np.random.Generator, frames: int, count: int, max_len: int) -> list[slice]:
    starts = rng.integers(0, frames, size=count)
    lengths = rng.integers(1, max_len + 1, size=count)
    return [slice(int(s), int(min(frames, s + n))) for s, n in zip(starts, lengths, strict=True)]


def estimator_errors(
    pixels: np.ndarray,
    depth: np.ndarray,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    level: float,
    side_view: float,
    fps: float = 30.0,
) -> np.ndarray:
    """Clean (F, 15, 2) pixels + depth (F, 15) → keypoints (F, 15, 3) float32 with confidence.
    `side_view` in [0, 1] (|sin azimuth|) raises the chance of left/right swaps."""
    frames = len(pixels)
    xy = pixels.astype(np.float64).copy()
    torso = np.linalg.norm(xy[:, 1] - xy[:, 8], axis=-1)
    height = xy[..., 1].max(axis=1) - xy[..., 1].min(axis=1)
    size = float(np.median(np.maximum(torso, height / 3.5)))  # body size in pixels

    # Joints further from the camera than the body's centre by a hand's width are hidden behind it.
    hidden = depth > depth[:, [1, 8]].mean(axis=1, keepdims=True) + 0.08
    scale = np.ones((frames, 15))
    scale[:, _EXTREMITIES] = 1.6
    scale = np.where(hidden, scale * 2.0, scale)
    white = rng.normal(size=(frames, 15, 2)) * rng.uniform(0.008, 0.025)
    drift = smooth_noise(rng, frames, fps, 2.0, (15, 2)) * rng.uniform(0.0, 0.025)
    xy += (white + drift) * size * level * scale[..., None]

    conf = rng.uniform(0.6, 0.98, size=(1, 15)) + rng.normal(0, 0.04, size=(frames, 15))
    conf = np.where(hidden, conf * rng.uniform(0.45, 0.85), conf)

    # Left/right swaps: a pose model's classic mistake when the body is seen from the side.
    flip = get_layout("body15").flip_permutation
    for span in _spans(rng, frames, rng.poisson(level * (0.2 + 1.2 * side_view)), 6):
        pairs = [_ARMS, _LEGS, _ARMS + _LEGS][rng.integers(3)]
        idx = [j for pair in pairs for j in pair]
        xy[span, idx] = xy[span][:, flip[idx]]
        conf[span, idx] *= 0.8

    # Short dropouts of single joints: low confidence and a wrong position.
    n_drop = rng.poisson(level * frames * 0.04)
    for span, joint in zip(
        _spans(rng, frames, n_drop, 8), rng.integers(0, 15, n_drop), strict=True
    ):
        conf[span, joint] = rng.uniform(0.0, 0.15)
        xy[span, joint] += rng.normal(0, 0.5 * size, size=2)
    # Whole frames with nobody found.
    for span in _spans(rng, frames, rng.poisson(level * frames * 0.006), 3):
        conf[span] = 0.0

    w, h = image_size
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    conf = np.where(outside, 0.0, conf)
    xy[..., 0] = xy[..., 0].clip(0, w - 1)
    xy[..., 1] = xy[..., 1].clip(0, h - 1)
    return np.concatenate([xy, conf.clip(0, 1)[..., None]], axis=-1).astype(np.float32)
