"""Motion material per class, posed once in 3-D at a dense rate so time warps can resample it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relsar_core.data.mocap.classes import CLASSES, STILL_FRAMES
from relsar_core.data.mocap.kinematics import HumanoidKinematics, motion_body15
from relsar_core.data.mocap.motions import load_named_motion, resample

DENSE_RATE = (
    120.0  # Hz: dense enough that linear interpolation of joint positions keeps bone lengths
)


@dataclass
class Source:
    name: str  # e.g. "walk" or "still:kick@0.00"
    joints: np.ndarray  # (F, 15, 3) at DENSE_RATE; a single frame for a held still pose
    kind: str  # cycle | once | still
    cycle_duration: float  # seconds of one cycle (the whole clip for `once`, 0 for `still`)


def body_heading(joints: np.ndarray) -> float:
    """Heading (radians about +y, 0 = facing +x) of a body from its hips and shoulders, (15, 3)."""
    right = (joints[9] - joints[12]) + (joints[2] - joints[5])
    return float(np.arctan2(right[0], right[2]))


def still_pose(kin: HumanoidKinematics, motion: str, at: float) -> np.ndarray:
    """One real frame of a motion (at seconds; negative counts from the end) as body15 (1, 15, 3)."""
    m = load_named_motion(motion)
    poses = resample(m, DENSE_RATE)
    index = int(round((at if at >= 0 else m.duration + at) * DENSE_RATE))
    return kin.body15(poses[min(max(index, 0), len(poses) - 1)][None])


def load_sources(kin: HumanoidKinematics, side: str, span: float) -> dict[str, list[Source]]:
    """Per class name, its sources. Still poses depend on the side (train / test); repeated
    cycles are posed for at least `span` seconds plus one cycle (for the phase offset)."""
    out: dict[str, list[Source]] = {}
    for cls in CLASSES:
        if cls.kind == "still":
            out[cls.name] = [
                Source(f"still:{m}@{t:.2f}", still_pose(kin, m, t), "still", 0.0)
                for m, t in STILL_FRAMES[side]
            ]
            continue
        sources = []
        for name in cls.motions:
            motion = load_named_motion(name)
            cycles = int(np.ceil(span / motion.duration)) + 1 if cls.kind == "cycle" else 1
            joints = motion_body15(kin, motion, DENSE_RATE, cycles=cycles)
            sources.append(Source(name, joints, cls.kind, motion.duration))
        out[cls.name] = sources
    return out
