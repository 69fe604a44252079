"""DeepMimic motion files (`humanoid3d_*.txt` in pybullet_data): parsing and resampling.

A file is JSON with `Loop` ("wrap" for cycles, "none" for one-shot motions) and `Frames`, each
row = [duration, root position (3), root rotation (4), then per joint a w-first quaternion
(spherical joints) or one angle in radians (knees, elbows)], in the humanoid's y-up frame.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relsar_core.errors import DataError

# (pybullet joint index of humanoid.urdf, degrees of freedom) in the order the file stores them.
JOINT_ORDER: tuple[tuple[int, int], ...] = (
    (1, 4),
    (2, 4),  # chest, neck
    (3, 4),
    (4, 1),
    (5, 4),
    (6, 4),
    (7, 1),  # right hip, knee, ankle, shoulder, elbow
    (9, 4),
    (10, 1),
    (11, 4),
    (12, 4),
    (13, 1),  # left hip, knee, ankle, shoulder, elbow
)
POSE_DIM = 7 + sum(dof for _, dof in JOINT_ORDER)  # root position + rotation + joints = 43


def motion_dir() -> Path:
    import pybullet_data  # a data-only package: cheap to import, no pybullet module load

    return Path(pybullet_data.getDataPath()) / "data" / "motions"


@dataclass
class Motion:
    name: str
    poses: np.ndarray  # (F, 43) float64: root pos, root quat (w-first), joint quats/angles
    frame_time: float  # seconds between frames
    loop: bool  # a cycle: the last frame is the first frame of the next cycle

    @property
    def duration(self) -> float:
        return (len(self.poses) - 1) * self.frame_time


def load_motion(path: str | os.PathLike) -> Motion:
    """Read one DeepMimic motion file; a malformed file raises DataError naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        frames = np.asarray(data["Frames"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a readable DeepMimic motion file ({exc})") from None
    if frames.ndim != 2 or frames.shape[1] != 1 + POSE_DIM or len(frames) < 2:
        raise DataError(
            f"{path}: expected frames of {1 + POSE_DIM} numbers, got shape {frames.shape}"
        )
    if not np.isfinite(frames).all():
        raise DataError(f"{path}: motion contains NaN or infinite values")
    # The last row's duration is 0 in most files (it only ends the clip): use the first.
    frame_time = float(frames[0, 0])
    if frame_time <= 0:
        raise DataError(f"{path}: first frame duration must be positive, got {frame_time}")
    name = path.stem.removeprefix("humanoid3d_")
    return Motion(name, frames[:, 1:], frame_time, str(data.get("Loop", "none")) == "wrap")


def load_named_motion(name: str) -> Motion:
    path = motion_dir() / f"humanoid3d_{name}.txt"
    if not path.is_file():
        known = sorted(
            p.stem.removeprefix("humanoid3d_") for p in motion_dir().glob("humanoid3d_*.txt")
        )
        raise DataError(f"{path}: no such motion (known: {', '.join(known)})")
    return load_motion(path)


def _quat_slices() -> list[slice]:
    slices, at = [slice(3, 7)], 7
    for _, dof in JOINT_ORDER:
        if dof == 4:
            slices.append(slice(at, at + 4))
        at += dof
    return slices


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of (..., 4) unit quaternions, t (...,) in [0, 1]; takes the short arc."""
    q0 = q0 / np.linalg.norm(q0, axis=-1, keepdims=True)
    q1 = q1 / np.linalg.norm(q1, axis=-1, keepdims=True)
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where(dot[..., None] < 0, -q1, q1)
    dot = np.abs(dot).clip(0.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6  # nearly equal: a plain lerp is exact enough and avoids 0/0
    safe = np.where(small, 1.0, sin)
    w0 = np.where(small, 1 - t, np.sin((1 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    out = w0[..., None] * q0 + w1[..., None] * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (..., 4) w-first quaternions."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def close_cycle(motion: Motion) -> Motion:
    """A looped motion whose last frame equals its first (apart from the travel), so cycles join.

    DeepMimic's cycles do not close exactly (the last frame differs from the first by 8-20 cm at
    some joint), which would make a visible jump at every seam. The mismatch of every rotation
    (root included, so a repeated cycle does not slowly turn) and of the hip height is spread
    evenly over the cycle; rotations stay rotations, so bone lengths are untouched."""
    poses = motion.poses.copy()
    ramp = np.linspace(0.0, 1.0, len(poses))
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    for sl in _quat_slices():
        first, last = poses[0, sl], poses[-1, sl]
        if np.dot(first, last) < 0:
            last = -last
        delta = quat_multiply(first, last * np.array([1.0, -1.0, -1.0, -1.0]))  # first · last⁻¹
        correction = slerp(
            np.broadcast_to(identity, (len(poses), 4)),
            np.broadcast_to(delta, (len(poses), 4)),
            ramp,
        )
        poses[:, sl] = quat_multiply(correction, poses[:, sl])
    at = 7
    for _, dof in JOINT_ORDER:
        if dof == 1:
            poses[:, at] += (poses[0, at] - poses[-1, at]) * ramp
        at += dof
    poses[:, 1] += (poses[0, 1] - poses[-1, 1]) * ramp
    return Motion(motion.name, poses, motion.frame_time, motion.loop)


def resample(motion: Motion, rate: float) -> np.ndarray:
    """Poses at `rate` Hz over the motion's duration: positions and angles lerped, rotations slerped.
    The first and last samples are the clip's own first and last frames (so a cycle closes exactly);
    the step is the nearest to 1 / rate that fits a whole number of times."""
    times = np.linspace(0.0, motion.duration, int(round(motion.duration * rate)) + 1)
    pos = np.minimum(times / motion.frame_time, len(motion.poses) - 1 - 1e-9)
    i0 = np.floor(pos).astype(int)
    frac = pos - i0
    a, b = motion.poses[i0], motion.poses[i0 + 1]
    out = a + (b - a) * frac[:, None]
    for sl in _quat_slices():
        out[:, sl] = slerp(a[:, sl], b[:, sl], frac)
    return out
