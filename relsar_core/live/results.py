"""What the live pipeline hands out per frame: a `FrameResult`, with a `Prediction` on the frames
that classify a window (one per person in view in people mode), each timestamped so the
frame-to-label latency is measured."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from relsar_core.live.sources import Frame
from relsar_core.pose.base import Skeleton
from relsar_core.runtime.smoothing import NO_ACTION, SmoothedLabel

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


@dataclass(frozen=True)
class Prediction:
    frame_index: int  # the last frame of the classified window
    capture_time: float  # when that frame was captured (time.perf_counter())
    label_time: float  # when its label was ready
    smoothed: SmoothedLabel
    logits: np.ndarray | None  # (K,) raw model output; None when nobody was in view
    probabilities: np.ndarray | None  # (K,) raw, before smoothing
    embedding: np.ndarray | None  # (E,)
    class_names: tuple[str, ...]
    classify_ms: float = (
        0.0  # features + classifier + smoothing, the part of the latency after pose
    )
    # Who: the track id (one-person mode: 1 while someone is in view), None when nobody is;
    # their box in the frame; why they were not classified (people mode), None when they were.
    person: int | None = None
    box: Box | None = None
    reason: str | None = None

    @property
    def latency_ms(self) -> float:
        return (self.label_time - self.capture_time) * 1e3

    @property
    def raw_label(self) -> str | None:
        return (
            None
            if self.probabilities is None
            else self.class_names[int(np.argmax(self.probabilities))]
        )


def no_label(num_classes: int) -> SmoothedLabel:
    """The "—" label of a window that was not classified (nobody, or a reason)."""
    return SmoothedLabel(NO_ACTION, None, 0.0, np.zeros(num_classes, np.float32))


@dataclass(frozen=True)
class FrameResult:
    frame: Frame
    skeleton: Skeleton | None  # as estimated (or replayed), in its own layout; None: nobody seen
    pose_ms: float  # time spent estimating the pose of this frame (0 for a replay)
    prediction: Prediction | None  # set on the frames that complete a window step
    latest: Prediction | None  # the most recent prediction so far, for drawing
    fps: float = 0.0  # frames processed per second, over the last second
    dropped: int = 0  # frames the capture thread dropped so far because inference was busy
    # People mode: everyone in view this frame (relsar_core.live.people.PersonResult), and on a
    # classification step one Prediction per person (a "nobody" one when nobody is in view).
    # `skeleton`, `prediction` and `latest` are then the selected person's. One-person mode:
    # `people` is empty and `predictions` is (prediction,) on a classification step.
    people: tuple = ()
    predictions: tuple[Prediction, ...] = field(default=())
    selected: int | None = None  # the selected person's track id (people mode)
