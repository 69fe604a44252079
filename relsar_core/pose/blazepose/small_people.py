"""Why BlazePose found nobody: were there people, only too small for the detector?

The detector sees the whole frame shrunk to 224×224, so a walker 150 px tall in a 768×576
frame is about 45 px there and goes unseen. Looking again at overlapping quarter tiles (each
shown at about twice the scale) tells the difference: someone found in a tile but not in the
whole frame is there, only small. The probe runs at most once every `PROBE_EVERY` frames without
anyone, in the inference thread, and never changes what the estimator returns."""

from __future__ import annotations

from collections import deque

import numpy as np

SMALL, NONE = "small", "none"  # miss reasons, as app/texts.py words them
PROBE_EVERY = 30  # frames without anyone between two probes (about a second of video)
TILE = 0.6  # each tile's side as a share of the frame's; tiles start at 0 and 1 - TILE
# A probe finds walkers in some seconds of the sample video and not in others: people seen in
# any of the last 3 probes (about 3 s) keep the reason "small", so it does not flicker.
REMEMBER_PROBES = 3


def tiles(frame: np.ndarray) -> list[np.ndarray]:
    """Four overlapping tiles covering the frame (views, no copies)."""
    h, w = frame.shape[:2]
    th, tw = int(round(h * TILE)), int(round(w * TILE))
    return [frame[y : y + th, x : x + tw] for y in (0, h - th) for x in (0, w - tw)]


def people_in_tiles(detector, frame: np.ndarray, min_score: float = 0.0) -> int:
    """How many people the detector finds in the frame's tiles (scoring at least `min_score`:
    a detector with a lower bar for newcomers must not call an empty room "small people")."""
    found = (detector.detect(np.ascontiguousarray(t)) for t in tiles(frame))
    return sum(1 for dets in found for d in dets if min_score <= 0 or d.score >= min_score)


class MissProbe:
    """Keeps the reason for the latest run of frames without anyone: SMALL or NONE, or None
    while someone is found."""

    def __init__(self, min_score: float = 0.0) -> None:
        self.min_score = min_score
        self.reason: str | None = None
        self.probes = 0
        self._unseen = 0
        self._recent: deque[bool] = deque(maxlen=REMEMBER_PROBES)

    def found(self) -> None:
        self._unseen, self.reason = 0, None

    def missed(self, detector, frame: np.ndarray) -> None:
        if self._unseen % PROBE_EVERY == 0:
            self.probes += 1
            self._recent.append(people_in_tiles(detector, frame, self.min_score) > 0)
            self.reason = SMALL if any(self._recent) else NONE
        self._unseen += 1

    def reset(self) -> None:
        """A new source: what the last one held says nothing."""
        self.found()
        self._recent.clear()
