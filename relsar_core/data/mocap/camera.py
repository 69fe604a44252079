"""Virtual pinhole cameras around the performer: sampling set-ups and projecting 3-D joints.

World frame as in `kinematics`: y up, metres. A set-up is described relative to the performer
(azimuth from their starting heading, elevation, how much of the image height a standing body
fills), so it means the same for every motion; the distance follows from the field of view.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

BODY_HEIGHT = 1.75  # metres, for framing
IMAGE_SIZES = ((640, 480), (1280, 720), (960, 540), (1920, 1080), (480, 640))


@dataclass(frozen=True)
class CameraRig:
    azimuth: float  # degrees; 0 = in front of the performer's starting heading, 90 = their left
    elevation: float  # degrees the camera looks down at the hips from (negative: from below)
    fill: float  # fraction of the image height a standing body fills
    fov: float  # horizontal field of view, degrees
    roll: float  # degrees, a slightly tilted camera
    image_size: tuple[int, int]  # width, height
    offset: tuple[
        float, float
    ]  # where the body centre lands, as a fraction of the image from its centre
    aim: float = 0.0  # metres above the hips the camera looks at (0.45: the chest, upper body)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def focal(self) -> float:
        return self.image_size[0] / 2 / np.tan(np.radians(self.fov) / 2)

    @property
    def distance(self) -> float:
        return self.focal * BODY_HEIGHT / (self.fill * self.image_size[1])


def sample_rig(rng: np.random.Generator, azimuth_range: tuple[float, float]) -> CameraRig:
    """One camera set-up with its azimuth drawn from `azimuth_range` (degrees)."""
    size = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    return CameraRig(
        azimuth=float(rng.uniform(*azimuth_range) % 360),
        elevation=float(rng.uniform(-10, 30)),
        fill=float(rng.uniform(0.35, 0.85)),
        fov=float(rng.uniform(45, 80)),
        roll=float(rng.normal(0, 2.5)),
        image_size=(int(size[0]), int(size[1])),
        offset=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.08, 0.08))),
    )


def camera_axes(
    rig: CameraRig, target: np.ndarray, heading: float
) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre (3,) and rotation rows (right, down, forward) (3, 3) in the world frame."""
    az, el = np.radians(rig.azimuth) + heading, np.radians(rig.elevation)
    # Direction from the target to the camera; heading rotates +x about +y like kinematics does.
    away = np.array([np.cos(el) * np.cos(az), np.sin(el), -np.cos(el) * np.sin(az)])
    centre = target + rig.distance * away
    forward = -away
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    roll = np.radians(rig.roll)
    right, up = np.cos(roll) * right + np.sin(roll) * up, -np.sin(roll) * right + np.cos(roll) * up
    return centre, np.stack([right, -up, forward])


def project(
    points: np.ndarray, rig: CameraRig, target: np.ndarray, heading: float
) -> tuple[np.ndarray, np.ndarray]:
    """World points (..., 3) → pixels (..., 2) and depth along the optical axis (...,) in metres."""
    centre, rot = camera_axes(rig, target, heading)
    cam = (points - centre) @ rot.T
    depth = cam[..., 2]
    w, h = rig.image_size
    principal = np.array([w / 2 + rig.offset[0] * w, h / 2 + rig.offset[1] * h])
    pixels = rig.focal * cam[..., :2] / np.maximum(depth, 1e-3)[..., None] + principal
    return pixels, depth
