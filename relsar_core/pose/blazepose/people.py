"""BlazePose for several people: every detection after non-maximum suppression (up to
`max_people`) becomes a person with their own ROI tracking, so steady frames run only the
landmark model once per person. The detector runs on the first frame, then every
`detect_every` frames while there is room for another person (someone may have come in), and
at once when everyone is lost. Identities across frames are not kept here: that is
relsar_core.live.tracking's job (the order of the returned skeletons is not an identity).

Speed (docs/pose.md, "Several people"): the tracked people's landmarks run side by side on
`workers` one-thread interpreters (relsar_core.pose.blazepose.landmark_pool), then are applied
to each person in order, so the result is the same as one by one; the landmark model is the
mask-free copy (relsar_core.pose.blazepose.derived, same outputs bit for bit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relsar_core.pose.base import (
    DETECT_EVERY,
    MAX_PEOPLE,
    SAME_PERSON_DISTANCE,
    SAME_PERSON_IOU,
    Skeleton,
)
from relsar_core.pose.blazepose.derived import landmark_model
from relsar_core.pose.blazepose.estimator import (
    LANDMARK_FILE,
    ROI_FILTER,
    BlazePoseDetector,
    PersonDetection,
    _model_path,
    tracking_roi,
)
from relsar_core.pose.blazepose.landmark_pool import LandmarkPool, default_workers
from relsar_core.pose.blazepose.landmarks import LandmarkResult
from relsar_core.pose.blazepose.small_people import MissProbe
from relsar_core.pose.one_euro import OneEuroFilter
from relsar_core.pose.roi import Roi, box_iou

# A detection is a tracked person (SAME_PERSON_*) by its hip centre and the ROI's side.
# Newcomers are looked for with a lower detector bar than BlazePose's 0.5: people ~150 px tall
# in 640×480 score 0.3-0.5 (on the walker clip, frames with two people: 4 of 300 at 0.5, 68 at
# 0.3); the landmark model's presence (>= 0.5) still rejects boxes holding nobody.
MIN_DETECTION_SCORE = 0.3


@dataclass
class _Person:
    roi: Roi
    roi_filter: OneEuroFilter = field(default_factory=lambda: OneEuroFilter(**ROI_FILTER))
    presence: float = 1.0


class MultiPersonBlazePose:
    """`estimate_people(frame) -> list[Skeleton]` (blazepose33), at most `max_people`.

    `num_threads`: the detector's interpreter threads (default: 1 beside several landmark
    workers, as it runs alongside them when it is due); `workers`: landmark interpreters (one
    thread each) run side by side, by default one per usable core, at most one per person;
    `mask_free=False` runs the fetched landmark model as it is and `landmark_threads` gives each
    landmark interpreter more threads (both only to measure against: the defaults are faster)."""

    layout = "blazepose33"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        num_threads: int | None = None,
        max_people: int = MAX_PEOPLE,
        detect_every: int = DETECT_EVERY,
        min_presence: float = 0.5,
        detector: BlazePoseDetector | None = None,
        workers: int | None = None,
        mask_free: bool = True,
        landmark_threads: int = 1,
    ) -> None:
        workers = default_workers(max_people) if workers is None else max(1, workers)
        if num_threads is None and workers > 1:
            num_threads = 1  # the detector then runs beside a landmark worker, not alone
        self.detector = detector or BlazePoseDetector(
            model_dir, num_threads, min_score=MIN_DETECTION_SCORE
        )
        path = _model_path(model_dir, LANDMARK_FILE)
        self.landmark_path = landmark_model(path) if mask_free else path
        self.pool = LandmarkPool(str(self.landmark_path), workers, landmark_threads)
        self.landmarker = self.pool.landmarkers[0]  # newcomers, one at a time
        self.max_people = max_people
        self.detect_every = detect_every
        self.min_presence = min_presence
        self._people: list[_Person] = []
        self._since_detect = 0
        self.detector_runs = 0
        self.landmark_runs = 0
        self._miss = MissProbe(min_score=0.5)  # BlazePose's own bar, not the newcomers' 0.3

    def reset(self) -> None:
        self._people = []
        self._since_detect = 0
        self._miss.reset()

    def miss_reason(self) -> str | None:
        """Why nobody was found in the latest frames: "small" (people were there, too small
        for the detector on the whole frame), "none", or None while someone is tracked."""
        return self._miss.reason

    def estimate_people(self, frame_bgr: np.ndarray) -> list[Skeleton]:
        # Tracked people from their ROI of the previous frame: every landmark run at once, then
        # each result applied in order (as one by one: a later ROI is checked against the
        # earlier ones' moved ROIs).
        runnable = [p for p in self._people if p.roi.size >= 8]
        self.landmark_runs += len(runnable)
        # A detection due this frame anyway (room for someone new, its turn) runs alongside.
        due = len(self._people) < self.max_people and self._since_detect + 1 >= self.detect_every
        detect = (lambda: self.detector.detect(frame_bgr)) if due and self._people else None
        results, detections = self.pool.run(frame_bgr, [p.roi for p in runnable], detect)
        found = dict(zip(map(id, runnable), results, strict=True))
        skeletons, kept = [], []
        for person in self._people:
            result = found.get(id(person))
            sk = None if result is None else self._follow(person, result)
            if sk is not None:
                skeletons.append(sk)
                kept.append(person)
        self._people = kept
        self._since_detect += 1
        room = len(self._people) < self.max_people
        if not self._people or (room and self._since_detect >= self.detect_every):
            skeletons += self._detect_newcomers(frame_bgr, detections)
        if skeletons:
            self._miss.found()
        else:
            self._miss.missed(self.detector, frame_bgr)
        return skeletons

    def _detect_newcomers(
        self, frame_bgr: np.ndarray, detections: list[PersonDetection] | None = None
    ) -> list[Skeleton]:
        """Newcomers among this frame's detections (`detections`: already run on it)."""
        self.detector_runs += 1
        self._since_detect = 0
        found = []
        tracked = [p.roi for p in self._people]
        if detections is None:
            detections = self.detector.detect(frame_bgr)
        for det in detections:
            if len(self._people) >= self.max_people:
                break
            if any(_same_person(det.roi(), t) for t in tracked):
                continue  # already followed
            person = _Person(det.roi())
            start = person.roi
            sk = self._track(frame_bgr, person)
            if sk is not None:
                self._people.append(person)
                tracked += [start, person.roi]
                found.append(sk)
        return found

    def _track(self, frame_bgr: np.ndarray, person: _Person) -> Skeleton | None:
        """Landmarks in the person's ROI; moves the ROI on for the next frame. None: lost."""
        if person.roi.size < 8:
            return None
        self.landmark_runs += 1
        return self._follow(person, self.landmarker.run(frame_bgr, person.roi))

    def _follow(self, person: _Person, result: LandmarkResult) -> Skeleton | None:
        """This frame's landmarks in the person's ROI: the skeleton, and the ROI moved on for
        the next frame. None: nobody there any more."""
        if result.presence < self.min_presence:
            return None
        person.presence = result.presence
        person.roi = tracking_roi(person.roi_filter, result.alignment)
        # Two ROIs that drifted onto one body: the later (newer) one goes next frame.
        for other in self._people:
            if (
                other is not person
                and box_iou(other.roi.bounding_box(), person.roi.bounding_box()) > 0.6
            ):
                person.roi = Roi(person.roi.cx, person.roi.cy, 0.0)  # size 0: dropped next frame
        return Skeleton(result.keypoints, self.layout)

    def close(self) -> None:
        self.detector.close()
        self.pool.close()
        self.landmarker = None  # type: ignore[assignment]


def _same_person(a: Roi, b: Roi) -> bool:
    """Two ROIs on one body: overlapping, or centred (on the hips) close together."""
    if box_iou(a.bounding_box(), b.bounding_box()) > SAME_PERSON_IOU:
        return True
    return float(np.hypot(a.cx - b.cx, a.cy - b.cy)) < SAME_PERSON_DISTANCE * max(a.size, b.size)
