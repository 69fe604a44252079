"""What every live source hands out: `Frame`s from a `FrameSource`, and `SourceError` for a
source the user named that cannot be opened or read (one line naming the source)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from relsar_core.errors import RelsarError
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.features import MODEL_FPS


class SourceError(RelsarError):
    """A camera, video, stream or replay clip that cannot be opened or read any more."""


@dataclass
class Frame:
    index: int  # position in the source since it was opened (loops keep counting)
    capture_time: float  # time.perf_counter() when the frame was read: latency starts here
    image: np.ndarray | None  # (H, W, 3) uint8 BGR; None for a skeleton replay
    image_size: tuple[int, int]  # (width, height) in pixels
    skeleton: Skeleton | None = None  # given by a replay source; otherwise pose estimates it
    # Seconds on the source's own clock: measured capture time for a camera or stream (whatever
    # fps it claims), media time (index / fps) for files and replays. Windows are timed by it;
    # without one, frames are taken to come at the model's rate.
    timestamp: float | None = None

    def __post_init__(self) -> None:
        if self.timestamp is None:
            self.timestamp = self.index / MODEL_FPS


class FrameSource(ABC):
    """One source of frames. `read()` returns None at the end (never for a live source)."""

    name: str = "source"
    fps: float = 30.0
    image_size: tuple[int, int] = (640, 480)
    live: bool = False  # a camera or stream: frames come at their own pace
    provides_skeletons: bool = False  # a replay: frames carry their skeleton, no pose needed
    num_frames: int | None = None  # frames in one pass, when known (files, replays)

    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime
        self._index = 0
        self._next_due: float | None = None
        self.position = 0  # frame number within the file or replay (files and replays)
        self._seek_to: int | None = None

    def seek(self, frame: int) -> None:
        """Ask for a jump to `frame` (any thread): the capture thread does it on its next read."""
        if self.num_frames:
            self._seek_to = max(0, min(int(frame), self.num_frames - 1))

    def _apply_seek(self, frame: int) -> None:  # noqa: B027 - files and replays override it
        """Jump to `frame` (capture thread)."""

    @abstractmethod
    def _read(self) -> tuple[np.ndarray | None, Skeleton | None] | None:
        """(image, skeleton) of the next frame, or None at the end."""

    def read(self) -> Frame | None:
        if self._seek_to is not None:
            target, self._seek_to = self._seek_to, None
            self._apply_seek(target)
        if self.realtime and not self.live:
            self._pace()
        got = self._read()
        if got is None:
            return None
        image, skeleton = got
        now = time.perf_counter()
        stamp = now if self.live else self._index / self.fps
        frame = Frame(self._index, now, image, self.image_size, skeleton, stamp)
        self._index += 1
        return frame

    def _pace(self) -> None:
        # Sleep until the next frame is due, without drifting; after a stall, restart the clock.
        now = time.perf_counter()
        period = 1.0 / self.fps
        if self._next_due is None or now - self._next_due > 5 * period:
            self._next_due = now
        elif self._next_due > now:
            time.sleep(self._next_due - now)
        self._next_due += period

    def close(self) -> None:  # noqa: B027 - optional hook: nothing to release by default
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
