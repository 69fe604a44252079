"""Pose descriptors of model input windows, for the few-shot head beside the embedding.

A window's features (T, 60) are already centred on the hip and scaled by the torso, so these
are cheap summaries of them that keep what a supervised embedding tends to discard: which side
of the body moves (laterality), the posture, and the order of the movement in time. Blocks:
mean position per joint, its spread over time, mean speed per joint, eight joint angles
(elbows, shoulders, knees, hips: mean cos/sin and spread), and the positions in each third of
the window relative to the window's mean (direction of movement), and which coordinate leads
which (the antisymmetric part of their cross-covariance at a lag of LEAD_LAG frames: the order
of a movement and the direction of a turn, which mirror images and reversals flip). Each of
these blocks is L2-normalised, so no block outweighs the others because of its units or size.

The last block, `turn`, is not normalised, because its size is the point: how much and which
way the body turns about the vertical in each half of the window (the area swept by the pair
(shoulder-line width, nose offset from the neck), and by (hip-line width, nose offset), in
the image: a body turning one way traces it clockwise, the other way anticlockwise, from any
camera in front of the person), squashed by tanh. A still or non-turning window has about
zero there, so base classes that do not turn stay where they were, and a taught turn (the
spin and its mirror twin of `relsar-bench teach`) moves away from them and from its twin.
"""

from __future__ import annotations

import numpy as np

from relsar_core.skeleton.features import features_as_joints

# (a, b, c): the angle at joint b between b→a and b→c, body15 indices.
ANGLES = (
    (2, 3, 4),  # right elbow
    (5, 6, 7),  # left elbow
    (1, 2, 3),  # right shoulder
    (1, 5, 6),  # left shoulder
    (9, 10, 11),  # right knee
    (12, 13, 14),  # left knee
    (8, 9, 10),  # right hip
    (8, 12, 13),  # left hip
)
BLOCKS = ("posture", "spread", "speed", "angles", "thirds", "lead", "turn")
LEAD_LAG = 3  # frames at the model's 30 fps: 0.1 s
_PAIRS = np.triu_indices(30, 1)  # coordinate pairs of the lead block (15 joints × x, y)
TURN_DIM = 4  # (shoulders, hips) × (first, second half of the window)
# Swept area (torso lengths², per half window) at which tanh reaches 0.76: a fast turn of the
# bench's spin is 1–2, base-class windows stay within ±0.2 (build measurements, docs/teach.md).
TURN_SCALE = 0.5
# Weight of the turn block beside the six unit blocks (norm √6): chosen on relsar-bench teach
# seeds 0–2 among 2 / 2.5 / 3 for two values per window (here four, so / √2).
TURN_WEIGHT = 2.0 / np.sqrt(2.0)
DESCRIPTOR_DIM = 30 + 30 + 15 + 24 + 90 + len(_PAIRS[0]) + TURN_DIM  # 628


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-6)


def _angles(pos: np.ndarray) -> np.ndarray:
    """pos (..., T, 15, 2) → (..., 24): mean cos, mean sin and spread of each joint angle."""
    out = []
    for a, b, c in ANGLES:
        u, v = pos[..., a, :] - pos[..., b, :], pos[..., c, :] - pos[..., b, :]
        ang = np.arctan2(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0], (u * v).sum(-1))
        cos, sin = np.cos(ang).mean(-1), np.sin(ang).mean(-1)
        out += [cos, sin, np.sqrt(np.maximum(0.0, 1.0 - cos**2 - sin**2))]
    return np.stack(out, axis=-1)


def _lead(pos: np.ndarray) -> np.ndarray:
    """pos (..., T, 15, 2) → (..., 435): for each pair of coordinates (a, b), how much a's
    movement precedes b's by LEAD_LAG frames minus the reverse (zero for a still window)."""
    p = pos.reshape(*pos.shape[:-2], -1)
    p = p - p.mean(axis=-2, keepdims=True)
    a, b = p[..., :-LEAD_LAG, :], p[..., LEAD_LAG:, :]
    cov = np.einsum("...ti,...tj->...ij", a, b) / max(a.shape[-2], 1)
    anti = cov - np.swapaxes(cov, -1, -2)
    return anti[..., _PAIRS[0], _PAIRS[1]]


def _turn(pos: np.ndarray) -> np.ndarray:
    """pos (..., T, 15, 2) → (..., 4): signed area swept per half window by (shoulder-line
    width, nose offset) and (hip-line width, nose offset), tanh-squashed (see the docstring)."""

    def d_dt(a: np.ndarray) -> np.ndarray:
        return np.gradient(a, axis=-1) if a.shape[-1] > 1 else np.zeros_like(a)

    nose = pos[..., 0, 0] - pos[..., 1, 0]
    d_nose = d_dt(nose)
    half = nose.shape[-1] // 2
    out = []
    for right, left in ((2, 5), (9, 12)):  # shoulders, hips
        width = pos[..., left, 0] - pos[..., right, 0]
        d_width = d_dt(width)
        swept = width * d_nose - nose * d_width
        # Each half scaled to a whole window's worth, so the size does not depend on T.
        out += [2.0 * swept[..., :half].sum(-1), 2.0 * swept[..., half:].sum(-1)]
    return TURN_WEIGHT * np.tanh(np.stack(out, axis=-1) / TURN_SCALE)


def pose_descriptors(features: np.ndarray) -> np.ndarray:
    """Feature windows (..., T, 60) → descriptors (..., 628) float32 (see the module docstring)."""
    joints = features_as_joints(np.asarray(features, np.float32))
    pos, vel = joints[..., :2], joints[..., 2:]
    mean = pos.mean(axis=-3)
    thirds = np.array_split(np.arange(pos.shape[-3]), 3)
    blocks = [
        mean.reshape(*mean.shape[:-2], -1),
        pos.std(axis=-3).reshape(*mean.shape[:-2], -1),
        np.linalg.norm(vel, axis=-1).mean(axis=-2),
        _angles(pos),
        np.concatenate(
            [
                (pos[..., t, :, :].mean(axis=-3) - mean).reshape(*mean.shape[:-2], -1)
                for t in thirds
            ],
            axis=-1,
        ),
        _lead(pos),
    ]
    return np.concatenate([_unit(b) for b in blocks] + [_turn(pos)], axis=-1).astype(np.float32)
