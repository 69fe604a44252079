"""Webcam camera set-ups and framings, and the held-out viewpoints (closed under mirroring).

Framings: `whole` (the whole body at 1-5 m), `upper` (the image looks at the chest and the hips
and legs fall below its edge, or a desk hides them), `partial` (the body cut by a side edge).
Cameras sit at laptop or desk height (elevation -5..20°) and now and then on a shelf or a
wall (20..50°, a surveillance view like the real sample video's); a quarter of whole-body views
see a small person far away.
Azimuth 0 = the performer faces the camera. The test side's azimuths are |az| <= 8° and
90 ± 10°, 270 ± 10°: a set equal to its own mirror image (az -> -az), so a mirrored training
body never shows the test's view; training draws from 8 < |az| <= 60 (most) and the side
views 60..80, 100..135 and the back 135..179 (some), never inside the test's set.
"""

from __future__ import annotations

import numpy as np

from relsar_core.data.mocap.camera import IMAGE_SIZES, CameraRig

FRAMINGS = ("whole", "upper", "partial")
TEST_AZIMUTHS = ((-8.0, 8.0), (80.0, 100.0), (260.0, 280.0))
# and their mirror images; the last range is people seen from behind (walking away)
TRAIN_AZIMUTHS = ((8.0, 60.0), (60.0, 80.0), (100.0, 135.0), (135.0, 179.0))
TRAIN_AZIMUTH_WEIGHTS = (0.6, 0.13, 0.15, 0.12)
TEST_AZIMUTH_WEIGHTS = (0.6, 0.2, 0.2)


def in_test_view(azimuth: float) -> bool:
    a = (azimuth + 180.0) % 360.0 - 180.0
    return abs(a) <= 8.0 or abs(abs(a) - 90.0) <= 10.0


def sample_azimuth(rng: np.random.Generator, side: str) -> float:
    if side == "test":
        lo, hi = TEST_AZIMUTHS[rng.choice(3, p=TEST_AZIMUTH_WEIGHTS)]
        return float(rng.uniform(lo, hi) % 360.0)
    lo, hi = TRAIN_AZIMUTHS[rng.choice(len(TRAIN_AZIMUTHS), p=TRAIN_AZIMUTH_WEIGHTS)]
    a = rng.uniform(lo, hi) * (1 if rng.random() < 0.5 else -1)
    a = float(np.clip(abs(a), 8.01, 179.0) * np.sign(a))
    return a % 360.0


def sample_webcam_rig(rng: np.random.Generator, side: str, framing: str) -> CameraRig:
    """One camera set-up of `framing` for `side` (train | test, or `any` for out-of-set data)."""
    size = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    azimuth = sample_azimuth(rng, "train" if side == "any" and rng.random() < 0.5 else side)
    high = rng.random() < 0.25 and framing != "upper"  # a shelf or surveillance camera
    elevation = rng.uniform(20, 50) if high else rng.uniform(-5, 20)
    offset = (rng.uniform(-0.12, 0.12), rng.uniform(-0.06, 0.06))
    if framing == "whole":
        far = rng.random() < 0.25  # a small person far away (the real sample video: ~0.2)
        fill = rng.uniform(0.15, 0.3) if far else rng.uniform(0.3, 0.9)
        aim = rng.uniform(-0.05, 0.05)
    elif framing == "upper":
        fill, aim = rng.uniform(1.5, 2.6), rng.uniform(0.35, 0.55)
    else:  # partial: a whole-body view slid sideways until one side leaves the image
        fill, aim = rng.uniform(0.45, 0.9), rng.uniform(-0.05, 0.1)
        offset = (rng.choice([-1, 1]) * rng.uniform(0.3, 0.45), offset[1])
    return CameraRig(
        azimuth=azimuth,
        elevation=float(elevation),
        fill=float(fill),
        fov=float(rng.uniform(50, 78)),
        roll=float(rng.normal(0, 2.0)),
        image_size=(int(size[0]), int(size[1])),
        offset=(float(offset[0]), float(offset[1])),
        aim=float(aim),
    )
