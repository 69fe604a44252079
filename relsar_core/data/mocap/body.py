"""Variations of the performer in 3-D: body proportions, mirroring, postural sway, time warping.

All act on body15 joint arrays (F, 15, 3) in the kinematics' world frame (y up, metres) and are
vectorised over frames.
"""

from __future__ import annotations

import numpy as np

from relsar_core.skeleton.layouts import get_layout

# Kinematic tree of body15 rooted at mid_hip: (parent, child, segment group) in parent-first order.
_TREE = (
    (8, 9, "hip"),
    (8, 12, "hip"),
    (9, 10, "thigh"),
    (12, 13, "thigh"),
    (10, 11, "shank"),
    (13, 14, "shank"),
    (8, 1, "torso"),
    (1, 0, "head"),
    (1, 2, "shoulder"),
    (1, 5, "shoulder"),
    (2, 3, "upper_arm"),
    (5, 6, "upper_arm"),
    (3, 4, "forearm"),
    (6, 7, "forearm"),
)
# Relative spread of each segment's length across adults, and how much wider a pose model puts the
# hips than this humanoid's narrow hip joints (BlazePose/COCO hips sit near the trochanters).
SEGMENT_RANGES = {
    "hip": (1.0, 1.6),
    "thigh": (0.9, 1.1),
    "shank": (0.9, 1.1),
    "torso": (0.88, 1.12),
    "head": (0.8, 1.2),
    "shoulder": (0.85, 1.15),
    "upper_arm": (0.9, 1.1),
    "forearm": (0.9, 1.1),
}


def sample_proportions(rng: np.random.Generator) -> dict[str, float]:
    return {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in SEGMENT_RANGES.items()}


def apply_proportions(joints: np.ndarray, factors: dict[str, float]) -> np.ndarray:
    """Rescale each segment of (F, 15, 3) joints about its parent, keeping the mid-hip path."""
    out = joints.copy()
    for parent, child, group in _TREE:
        out[:, child] = out[:, parent] + factors[group] * (joints[:, child] - joints[:, parent])
    # Keep the lowest ankle where it was, so a longer leg does not sink into the floor.
    ground = joints[:, [11, 14], 1].min(axis=1) - out[:, [11, 14], 1].min(axis=1)
    out[..., 1] += ground[:, None]
    return out


def mirror(joints: np.ndarray) -> np.ndarray:
    """The same motion by a mirror-image performer: negate the lateral axis, swap left and right."""
    out = joints[:, get_layout("body15").flip_permutation].copy()
    out[..., 2] *= -1
    return out


def smooth_noise(
    rng: np.random.Generator, frames: int, fps: float, cutoff_hz: float, shape=()
) -> np.ndarray:
    """Band-limited noise (frames, *shape) with unit standard deviation: sums of random sinusoids."""
    t = np.arange(frames) / fps
    freqs = rng.uniform(0.05, cutoff_hz, size=(4, *shape))
    phases = rng.uniform(0, 2 * np.pi, size=(4, *shape))
    waves = np.sin(
        2 * np.pi * freqs[None] * t.reshape(-1, *([1] * (len(shape) + 1))) + phases[None]
    )
    return waves.sum(axis=1) / np.sqrt(2.0)


def add_sway(joints: np.ndarray, rng: np.random.Generator, fps: float, amount: float) -> np.ndarray:
    """Postural sway: the body leans as an inverted pendulum about the ankles (about 1 degree at
    amount 1, below 0.7 Hz), the upper body and arms drift a little on their own, and the head turns."""
    frames = len(joints)
    feet = joints[:, [11, 14]].mean(axis=1, keepdims=True)
    lean = np.radians(1.0 * amount) * smooth_noise(rng, frames, fps, 0.7, (2,))  # about x and z
    d = joints - feet
    height = np.clip(d[..., 1:2], 0, None)  # lean grows with height above the feet
    out = joints.copy()
    out[..., 0] += height[..., 0] * lean[:, None, 1]
    out[..., 2] += height[..., 0] * lean[:, None, 0]
    drift = 0.01 * amount * smooth_noise(rng, frames, fps, 0.5, (15, 3))
    upper = np.zeros((15, 1))
    upper[[0, 2, 3, 4, 5, 6, 7]] = 1.0
    upper[[3, 4, 6, 7]] = 2.0  # arms hang freer than the trunk
    return out + drift * upper


def warp_times(
    rng: np.random.Generator, frames: int, fps: float, speed: float, variation: float
) -> np.ndarray:
    """Source times (s) of `frames` output frames at `fps` played at `speed`, the speed itself drifting
    smoothly by about ± `variation` (people do not move at a constant tempo)."""
    rate = speed * (1.0 + variation * smooth_noise(rng, frames, fps, 0.5) / 1.5)
    rate = np.clip(rate, 0.3 * speed, 3.0 * speed)
    return np.concatenate([[0.0], np.cumsum(rate[:-1])]) / fps


def reduce_travel(joints: np.ndarray, keep: float) -> np.ndarray:
    """Keep only `keep` of the steady horizontal travel of (F, 15, 3) joints (the straight-line trend
    of the mid-hip), leaving the in-step bobbing and sway: in front of a webcam people walk or run a
    few steps, or on the spot, rather than crossing 10 m of floor."""
    frames = len(joints)
    if frames < 2:
        return joints
    t = np.arange(frames) - (frames - 1) / 2
    hips = joints[:, 8, [0, 2]]
    slope = (t[:, None] * (hips - hips.mean(axis=0))).sum(axis=0) / (t**2).sum()
    out = joints.copy()
    out[..., [0, 2]] -= (1.0 - keep) * (t[:, None] * slope)[:, None, :]
    return out


def sample_at(dense: np.ndarray, rate: float, times: np.ndarray) -> np.ndarray:
    """Linear interpolation of a densely sampled (F, 15, 3) sequence at `times` seconds (clamped)."""
    pos = np.clip(times * rate, 0, len(dense) - 1 - 1e-9)
    i0 = np.floor(pos).astype(int)
    frac = (pos - i0)[:, None, None]
    return dense[i0] * (1 - frac) + dense[np.minimum(i0 + 1, len(dense) - 1)] * frac
