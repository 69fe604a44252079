"""Keyframed styles → DeepMimic poses → body15 in 3-D through the same humanoid kinematics.

Per clip the performance is randomised: amplitude (how far each keyframe goes from the base
posture), timing (tempo and per-keyframe jitter), handedness, repetitions, base posture
(standing or seated) and a layer of idle motion (slow drift of the trunk, head and arms).
Keyframes are interpolated with a shape-preserving cubic (PCHIP), so motion eases between keys.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.spatial.transform import Rotation

from relsar_core.data.mocap.body import smooth_noise
from relsar_core.data.mocap.keyframes import DESK, REST, Style
from relsar_core.data.mocap.motions import JOINT_ORDER, POSE_DIM

# DeepMimic joint order with their kind: 3-angle joints and 1-angle hinges.
JOINTS = (
    "chest", "neck", "r_hip", "r_knee", "r_ankle", "r_shoulder", "r_elbow",
    "l_hip", "l_knee", "l_ankle", "l_shoulder", "l_elbow",
)  # fmt: skip
_HINGES = {"r_knee", "l_knee", "r_elbow", "l_elbow"}
ANKLE_HEIGHT = 0.07  # metres: the humanoid's ankle centre above the floor when standing
VARY = 8.0  # degrees
SEATED = {"r_hip": (90, 0, 0), "l_hip": (90, 0, 0), "r_knee": 90, "l_knee": 90, "chest": (5, 0, 0)}


def _vector(angles: dict) -> np.ndarray:
    """{joint: angles} (missing = 0) → flat vector: 3 per ball joint, 1 per hinge, + lift."""
    out = []
    for j in JOINTS:
        v = angles.get(j, 0.0 if j in _HINGES else (0.0, 0.0, 0.0))
        out.extend([float(v)] if j in _HINGES else [float(x) for x in v])
    out.append(float(angles.get("lift", 0.0)))
    return np.array(out)


def _hinge_positions() -> list[int]:
    at, out = 0, []
    for j in JOINTS:
        if j in _HINGES:
            out.append(at)
        at += 1 if j in _HINGES else 3
    return out


_HINGE_AT = _hinge_positions()


def _swap_sides(angles: dict) -> dict:
    out = {}
    for k, v in angles.items():
        k2 = "l_" + k[2:] if k.startswith("r_") else "r_" + k[2:] if k.startswith("l_") else k
        if k in ("chest", "neck"):  # a left-handed twist/lean is the opposite one
            v = (v[0], -v[1], -v[2])
        out[k2] = v
    return out


def _quats(joint: str, angles: np.ndarray) -> np.ndarray:
    """Anatomical angles (F, 3) degrees (flexion, abduction, twist) → w-first quaternions (F, 4)
    in the humanoid's joint frame."""
    flex, abd, twist = angles[:, 0], angles[:, 1], angles[:, 2]
    if joint in ("chest", "neck"):
        zxy = (-flex, abd, twist)
    elif joint.startswith("r_"):
        zxy = (flex, -abd, twist)
    else:
        zxy = (flex, abd, -twist)
    # One call per joint for the whole clip: per-frame calls were most of the generator's time.
    q = Rotation.from_euler("ZXY", np.stack(zxy, axis=1), degrees=True).as_quat()  # x, y, z, w
    return q[:, [3, 0, 1, 2]]


def to_poses(vectors: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """(F, V) angle vectors + forward travel (F,) metres → DeepMimic poses (F, 43)."""
    poses = np.zeros((len(vectors), POSE_DIM))
    poses[:, 0] = travel
    poses[:, 1] = 0.9
    poses[:, 3] = 1.0
    at, i = 7, 0
    for name, (_, dof) in zip(JOINTS, JOINT_ORDER, strict=True):
        if dof == 4:
            poses[:, at : at + 4] = _quats(name, vectors[:, i : i + 3])
            i += 3
        else:
            poses[:, at] = np.radians(vectors[:, i]) * (-1.0 if "knee" in name else 1.0)
            i += 1
        at += dof
    return poses


def perform(
    style: Style, rng: np.random.Generator, fps: float, base: str, amplitude: float, tempo: float
) -> tuple[np.ndarray, np.ndarray]:
    """One randomised performance of `style` → (angle vectors (F, V), forward travel (F,) m)."""
    rest = {**REST, **(SEATED if base == "seated" else {})}
    if base == "seated":
        rest.update(DESK if rng.random() < 0.6 else {})
    left = rng.random() < 0.5
    reps = int(rng.integers(style.reps[0], style.reps[1] + 1))
    keys = list(style.intro) + list(style.cycle) * reps + list(style.outro)
    base_vec = _vector(rest)
    # Per-clip style variation: every joint angle a keyframe moves is offset by the same random
    # amount (σ `VARY` degrees) in all of the clip's keyframes, so a style is a family of poses.
    offset = rng.normal(0.0, VARY, base_vec.shape)
    offset[-1] = 0.0  # `lift` is metres, not an angle
    times, values = [0.0], [base_vec]
    lead = rng.uniform(0.1, 0.6)  # rest before the action starts
    times.append(lead)
    values.append(base_vec)
    for seconds, pose in keys:
        pose = _swap_sides(pose) if left else pose
        target = _vector({**rest, **pose})
        target = np.where(np.abs(target - base_vec) > 1e-6, target + offset, target)
        target[_HINGE_AT] = np.maximum(target[_HINGE_AT], 0.0)
        jitter = rng.uniform(0.85, 1.15)
        times.append(times[-1] + max(0.08, seconds * jitter / tempo))
        values.append(base_vec + amplitude * rng.uniform(0.9, 1.1) * (target - base_vec))
    times.append(times[-1] + rng.uniform(0.1, 0.6))
    values.append(values[-1])  # hold the last pose (a sit-down ends seated)
    t = np.arange(0.0, times[-1], 1.0 / fps)
    vectors = PchipInterpolator(np.array(times), np.stack(values), axis=0)(t)
    # Idle layer: slow drift of trunk, head and arms (degrees), on top of every action.
    idle = rng.uniform(0.5, 2.0)
    vectors[:, :-1] += idle * 2.5 * smooth_noise(rng, len(t), fps, 0.6, (vectors.shape[1] - 1,))
    travel = style.travel * (0.6 + 0.4 * rng.uniform(0.0, 1.0)) * tempo * t
    return vectors, travel


def grounded(joints: np.ndarray, lift: np.ndarray) -> np.ndarray:
    """Stand (F, 15, 3) body15 on the floor: lowest ankle at ANKLE_HEIGHT, plus the jump `lift`."""
    low = joints[:, [11, 14], 1].min(axis=1)
    out = joints.copy()
    out[..., 1] += (ANKLE_HEIGHT - low + lift)[:, None]
    return out
