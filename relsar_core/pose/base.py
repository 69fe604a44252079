"""The one pose interface every backend implements: `estimate(frame_bgr) -> Skeleton | None`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from relsar_core.skeleton.layouts import to_body15

# Several people, the same rules for every backend's several-people estimator.
MAX_PEOPLE = 4
DETECT_EVERY = 10  # frames: a newcomer waits at most a third of a second at 30 fps
SAME_PERSON_IOU = 0.4  # a detection overlapping a tracked person's box this much is that person
# ... and so is one centred this close to a tracked person's centre (a share of the tracked
# region's size): the detector's box and a tracked region can differ in size enough to miss the
# IoU.
SAME_PERSON_DISTANCE = 0.25


@dataclass
class Skeleton:
    keypoints: np.ndarray  # (joints, 3): x, y in image pixels, confidence in [0, 1]
    layout: str  # a name from relsar_core.skeleton.layouts.LAYOUTS

    def to_body15(self) -> np.ndarray:
        """(15, 3) float32 in the canonical layout."""
        return to_body15(self.keypoints, self.layout)


class PoseEstimator(ABC):
    """Estimates the pose of one person per frame, tracking them from frame to frame."""

    layout: str

    @abstractmethod
    def estimate(self, frame_bgr: np.ndarray) -> Skeleton | None:
        """Pose of the tracked person in an (H, W, 3) uint8 BGR frame; None when nobody is seen."""

    def reset(self) -> None:  # noqa: B027 - optional hook: stateless backends have nothing to forget
        """Forget the tracked person (a new video or camera starts)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models and threads."""
