"""Synthetic skeleton motions: small, clearly separable toy data sets for tests, smoke runs and
benchmarks, made in the project's own clip format (no download needed).

Each class is a distinct periodic motion of a standing body15 figure; clips vary in position,
size, speed, phase, amplitude, noise and dropped joints, so a model must learn the motion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from relsar_core.skeleton.clip import Clip, save_clip

TOY_CLASSES = ("wave", "squat", "jump", "arms_up", "still")

# A standing figure in body units (torso = 1), y pointing down, origin at the mid-hip.
_REST = np.array(
    [
        [0, -1.45],
        [0, -1.0],
        [-0.35, -1.0],
        [-0.45, -0.55],
        [-0.5, -0.1],
        [0.35, -1.0],
        [0.45, -0.55],
        [0.5, -0.1],
        [0, 0],
        [-0.18, 0],
        [-0.2, 0.65],
        [-0.2, 1.3],
        [0.18, 0],
        [0.2, 0.65],
        [0.2, 1.3],
    ],
    dtype=np.float32,
)


def _motion(cls: str, phase: np.ndarray, amp: float) -> np.ndarray:
    """Offsets (frames, 15, 2) from the rest pose for one class at the given phase (radians)."""
    f = len(phase)
    off = np.zeros((f, 15, 2), np.float32)
    s, c = np.sin(phase), np.cos(phase)
    if cls == "wave":  # right forearm raised and swinging side to side
        off[:, 3] = [-0.05, -0.45]
        off[:, 4, 0] = -0.1 + 0.35 * amp * s
        off[:, 4, 1] = -0.95 + 0.05 * c
    elif cls == "squat":  # everything above the knees goes down and up
        depth = 0.4 * amp * (1 - c) / 2
        off[:, :10, 1] += depth[:, None]
        off[:, 12, 1] += depth
        off[:, [10, 13], 0] += np.array([-1, 1]) * 0.15 * depth[:, None]
    elif cls == "jump":  # the whole body leaves the ground
        off[..., 1] -= (0.5 * amp * np.maximum(s, 0))[:, None]
    elif cls == "arms_up":  # both arms go from the sides to straight up
        lift = (1 - c) / 2 * amp
        off[:, [3, 6], 1] -= 0.9 * lift[:, None]
        off[:, [4, 7], 1] -= 1.8 * lift[:, None]
        off[:, [3, 4], 0] += 0.1 * lift[:, None]
        off[:, [6, 7], 0] -= 0.1 * lift[:, None]
    elif cls == "still":  # natural sway only
        off[..., 0] += (0.03 * s)[:, None]
    else:
        raise ValueError(f"unknown toy class {cls!r}")
    return off


def toy_clip(cls: str, frames: int, rng: np.random.Generator, image_size=(640, 480)) -> np.ndarray:
    """One body15 clip (frames, 15, 3) in pixels of the given class."""
    period = rng.uniform(20, 40)
    phase = 2 * np.pi * (np.arange(frames) / period) + rng.uniform(0, 2 * np.pi)
    pose = _REST + _motion(cls, phase.astype(np.float32), rng.uniform(0.8, 1.2))
    pose *= rng.uniform(0.9, 1.1, size=(1, 1, 2)).astype(np.float32)  # body proportions
    size = rng.uniform(60, 110)
    centre = np.array(
        [rng.uniform(0.35, 0.65) * image_size[0], rng.uniform(0.4, 0.6) * image_size[1]]
    )
    xy = pose * size + centre + rng.normal(0, 0.02 * size, pose.shape)
    conf = rng.uniform(0.6, 1.0, (frames, 15))
    conf[rng.random((frames, 15)) < 0.03] = 0.0  # dropped joints, as a pose estimator gives
    return np.concatenate([xy, conf[..., None]], axis=-1).astype(np.float32)


def make_toy_dataset(
    root: str | os.PathLike,
    classes: tuple[str, ...] = TOY_CLASSES,
    clips_per_class: int = 12,
    frames: int = 60,
    seed: int = 0,
) -> Path:
    """Write `<root>/<class>/<class>_<i>.npz` clips and return root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for cls in classes:
        for i in range(clips_per_class):
            save_clip(
                root / cls / f"{cls}_{i:03d}.npz",
                Clip(toy_clip(cls, frames, rng), fps=30.0, label=cls),
            )
    return root


def toy_windows(count: int, seed: int = 0, window: int = 30) -> np.ndarray:
    """`count` model-input windows (count, window, 60) of the toy motions, classes mixed: inputs
    for benchmarks and calibration where only realistic values matter, not labels."""
    from relsar_core.skeleton.features import clip_features

    rng = np.random.default_rng(seed)
    per_clip = max(1, (60 - window) // 10 + 1)  # 60-frame clips, a window every 10 frames
    clips = [
        clip_features(toy_clip(cls, 60, rng), window, stride=10)
        for _ in range(count // (len(TOY_CLASSES) * per_clip) + 1)
        for cls in TOY_CLASSES
    ]
    windows = np.concatenate(clips)
    return windows[rng.permutation(len(windows))[:count]].astype(np.float32)
