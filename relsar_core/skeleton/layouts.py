"""Skeleton layouts and converters into the canonical `body15` layout.

`body15` is the first 15 joints of OpenPose BODY_25. Every other layout maps into it by a pair
of source indices per target joint: the target is their midpoint (the same index twice for a
plain copy), and its confidence is the lower of the two, since a midpoint is only as good as
its weaker end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relsar_core.errors import ClipError

BODY15_JOINTS = (
    "nose",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "mid_hip",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
)
# Bones used for drawing and for checks: (parent, child).
BODY15_BONES = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (1, 5),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (10, 11),
    (8, 12),
    (12, 13),
    (13, 14),
)
NECK, MID_HIP = 1, 8


@dataclass(frozen=True)
class Layout:
    name: str
    num_joints: int
    # Left/right pairs: flipping an image must swap these, not only negate x.
    flip_pairs: tuple[tuple[int, int], ...]
    # For each body15 joint, the two source joints whose midpoint it is.
    to_body15: tuple[tuple[int, int], ...]

    @property
    def flip_permutation(self) -> np.ndarray:
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _same(*idx: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, i) for i in idx)


LAYOUTS: dict[str, Layout] = {
    "body15": Layout(
        "body15", 15, ((2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14)), _same(*range(15))
    ),
    "body25": Layout(
        "body25",
        25,
        (
            (2, 5),
            (3, 6),
            (4, 7),
            (9, 12),
            (10, 13),
            (11, 14),
            (15, 16),
            (17, 18),
            (19, 22),
            (20, 23),
            (21, 24),
        ),
        _same(*range(15)),
    ),
    "coco17": Layout(
        "coco17",
        17,
        ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
        (
            (0, 0),
            (5, 6),
            (6, 6),
            (8, 8),
            (10, 10),
            (5, 5),
            (7, 7),
            (9, 9),
            (11, 12),
            (12, 12),
            (14, 14),
            (16, 16),
            (11, 11),
            (13, 13),
            (15, 15),
        ),
    ),
    "coco25": Layout(
        "coco25",
        25,
        (
            (1, 2),
            (3, 4),
            (6, 7),
            (8, 9),
            (10, 11),
            (12, 13),
            (15, 16),
            (17, 18),
            (19, 22),
            (20, 23),
            (21, 24),
        ),
        (
            (0, 0),
            (5, 5),
            (7, 7),
            (9, 9),
            (11, 11),
            (6, 6),
            (8, 8),
            (10, 10),
            (14, 14),
            (13, 13),
            (16, 16),
            (18, 18),
            (12, 12),
            (15, 15),
            (17, 17),
        ),
    ),
    "blazepose33": Layout(
        "blazepose33",
        33,
        (
            (1, 4),
            (2, 5),
            (3, 6),
            (7, 8),
            (9, 10),
            (11, 12),
            (13, 14),
            (15, 16),
            (17, 18),
            (19, 20),
            (21, 22),
            (23, 24),
            (25, 26),
            (27, 28),
            (29, 30),
            (31, 32),
        ),
        (
            (0, 0),
            (11, 12),
            (12, 12),
            (14, 14),
            (16, 16),
            (11, 11),
            (13, 13),
            (15, 15),
            (23, 24),
            (24, 24),
            (26, 26),
            (28, 28),
            (23, 23),
            (25, 25),
            (27, 27),
        ),
    ),
}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        known = ", ".join(sorted(LAYOUTS))
        raise ClipError(f"unknown skeleton layout {name!r} (known: {known})") from None


def to_body15(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """Convert (..., J, 3) keypoints of `layout` into (..., 15, 3) body15, float32."""
    lay = get_layout(layout)
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape[-2:] != (lay.num_joints, 3):
        raise ClipError(
            f"keypoints of shape {kp.shape} do not match layout {layout!r} "
            f"({lay.num_joints} joints × 3 channels)"
        )
    a, b = (np.array(ix) for ix in zip(*lay.to_body15, strict=True))
    xy = (kp[..., a, :2] + kp[..., b, :2]) * np.float32(0.5)
    conf = np.minimum(kp[..., a, 2], kp[..., b, 2])
    return np.concatenate([xy, conf[..., None]], axis=-1)
