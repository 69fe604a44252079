"""Timing by timestamps: one resampler for clips and live frames, and the live skeleton window.

A model window is `WINDOW` frames at `MODEL_FPS`, i.e. (WINDOW - 1) / MODEL_FPS seconds of real
time. Clips (a nominal or measured fps) and live frames (capture timestamps, which may be uneven:
a camera that delivers 15 fps while claiming 30, frames dropped while the model was busy) are
both brought onto that grid by `features.resample_at`, so movement never looks faster or slower than it was.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from relsar_core.skeleton.features import (
    MIN_CONFIDENCE,
    MODEL_FPS,
    NUM_JOINTS,
    WINDOW,
    drop_absurd,
    resample_at,
)


class SkeletonWindow:
    """The skeletons of the last `window` model frames of real time, from timestamped pushes.

    `push(keypoints, timestamp)` adds one frame (None or all-low-confidence: nobody in view);
    `full` says the frames cover the window's duration; `array()` gives them resampled to
    (window, joints, 3) at `rate`, ending at the newest frame. Frames older than the window are
    dropped. A timestamp that goes backwards (a new timeline, e.g. a reopened source) starts a
    new window; without timestamps, frames are taken to come at `rate`.
    """

    def __init__(
        self, window: int = WINDOW, rate: float = MODEL_FPS, joints: int = NUM_JOINTS
    ) -> None:
        self.window, self.rate, self.joints = int(window), float(rate), int(joints)
        self.duration = (self.window - 1) / self.rate  # seconds from the first to the last frame
        self.clear()

    def clear(self) -> None:
        self._frames: deque[tuple[float, np.ndarray, bool]] = deque()
        self.count = 0  # frames pushed since the last clear
        self.missing_run = 0  # consecutive newest frames with nobody in them

    def push(self, keypoints: np.ndarray | None, timestamp: float | None = None) -> None:
        if timestamp is None:
            timestamp = self.count / self.rate
        if self._frames and timestamp < self._frames[-1][0]:
            self.clear()
        if keypoints is None:
            kp, person = np.zeros((self.joints, 3), np.float32), False
        else:
            # NaN or absurd coordinates are a missing joint, never a confident point.
            kp = drop_absurd(keypoints)
            person = bool((kp[:, 2] >= MIN_CONFIDENCE).any())
        if self._frames and timestamp == self._frames[-1][0]:
            self._frames.pop()  # the same instant twice: keep the newer skeleton
        self._frames.append((float(timestamp), kp, person))
        self.missing_run = 0 if person else self.missing_run + 1
        self.count += 1
        start = timestamp - self.duration
        while len(self._frames) > 1 and self._frames[1][0] <= start + 1e-9:
            self._frames.popleft()  # keep one frame at or before the window's start

    @property
    def full(self) -> bool:
        """The frames cover the whole window (to within half a model frame)."""
        if len(self._frames) < 2:
            return self.duration <= 0 and bool(self._frames)
        return self._frames[-1][0] - self._frames[0][0] >= self.duration - 0.5 / self.rate

    @property
    def newest_time(self) -> float | None:
        return self._frames[-1][0] if self._frames else None

    @property
    def person_fraction(self) -> float:
        """Share of the window's frames with somebody in them (0 when empty)."""
        if not self._frames:
            return 0.0
        return sum(p for _, _, p in self._frames) / len(self._frames)

    def array(self) -> np.ndarray:
        """(window, joints, 3) at the model's rate, ending at the newest frame (a copy)."""
        times = np.array([t for t, _, _ in self._frames])
        kp = np.stack([k for _, k, _ in self._frames])
        query = times[-1] - self.duration + np.arange(self.window) / self.rate
        return resample_at(times, kp, query)
