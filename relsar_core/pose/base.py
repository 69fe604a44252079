"""The one pose interface every backend implements: `estimate(frame_bgr) -> Skeleton | None`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from relsar_core.skeleton.layouts import to_body15


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
