"""The hand-over between the capture thread and the inference thread: at most one frame."""

from __future__ import annotations

import threading

from relsar_core.live.sources import Frame


class FrameSlot:
    """A hand-over of at most one frame. `drop=True`: a new frame replaces an untaken one (live);
    `drop=False`: the producer waits until the frame is taken (files read as fast as processed)."""

    def __init__(self, drop: bool = True) -> None:
        self.drop = drop
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> bool:
        """Hand over a frame; False when the slot was closed."""
        with self._cond:
            while not self.drop and self._frame is not None and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                return False
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, waiting for one; None when closed (and empty) or on timeout."""
        with self._cond:
            if self._frame is None and not self._closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
