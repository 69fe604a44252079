"""Who is who from frame to frame: identities for several people's skeletons, kept by
`norfair-enough` (a Kalman filter per joint, matching by a keypoint distance) rather than by a
tracker of our own.

Lifecycle, in frames of the source (`fps` turns the design's seconds into frames):
- birth: a skeleton no track claims starts one; it gets an id after `BIRTH_FRAMES` matches in a
  row (one stray false detection never gets an id);
- occlusion and crossings: an unmatched track is predicted on by its Kalman filter and keeps its
  id while it is gone for less than about `FORGET_S` seconds;
- death: gone longer, the track is dropped; whoever appears later gets a new id.
Only live tracks are kept (norfair drops dead ones), so nothing grows with time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

MIN_JOINT_CONFIDENCE = 0.2  # as the features: below this a joint is missing
FORGET_S = 1.0  # a person unseen for longer than this gets a new id when they come back
BIRTH_FRAMES = 2
# Match when the visible joints are on average within this many body sizes of the prediction.
MATCH_DISTANCE = 0.6


@dataclass
class TrackedPerson:
    """One person this frame: their id, body15 keypoints (pixels + confidence) and box."""

    person: int
    keypoints: np.ndarray  # (15, 3)
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the visible joints
    index: int = 0  # which of the skeletons given to `update` this frame this person is


def body_size(keypoints: np.ndarray) -> float:
    """Diagonal of the visible joints' box, at least 1 px: the scale of a person."""
    good = keypoints[keypoints[:, 2] >= MIN_JOINT_CONFIDENCE, :2]
    if len(good) < 2:
        return 1.0
    return max(float(np.hypot(*(good.max(axis=0) - good.min(axis=0)))), 1.0)


def _skeleton_distance(detection, tracked) -> float:
    """Mean distance of the joints visible in the detection to the track's estimate, in the
    detection's body sizes (a far small person and a near large one match equally well).
    (Adding a body-size-change term made crossings worse: 32 switches against 2 in
    relsar-bench's synthetic crossings.)"""
    seen = detection.scores >= MIN_JOINT_CONFIDENCE
    if not seen.any():
        return 1e6
    err = np.hypot(*(detection.points[seen] - tracked.estimate[seen]).T)
    return float(err.mean()) / detection.data["size"]


def body_box(keypoints: np.ndarray) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of the visible joints (of all joints when none is visible)."""
    good = keypoints[keypoints[:, 2] >= MIN_JOINT_CONFIDENCE, :2]
    if len(good) == 0:
        good = keypoints[:, :2]
    (x0, y0), (x1, y1) = good.min(axis=0), good.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


class PersonTracker:
    """Feed every frame's skeletons (body15, (15, 3) each), get them back with ids."""

    def __init__(self, fps: float = 30.0, forget_s: float = FORGET_S) -> None:
        self.fps = fps
        self._frame = 0
        from norfair import Tracker  # imported when needed: it takes seconds (scipy, rich)

        # norfair logs a speed hint for every scalar distance; a few skeletons need no vectors.
        logging.getLogger("norfair").setLevel(logging.ERROR)
        # norfair: hits count up to hit_counter_max when matched, down by one per frame unseen;
        # the track dies below zero, so a well-seen person survives ~forget_s seconds unseen.
        self._tracker = Tracker(
            distance_function=_skeleton_distance,
            distance_threshold=MATCH_DISTANCE,
            hit_counter_max=max(1, round(forget_s * fps)),
            initialization_delay=BIRTH_FRAMES,
            pointwise_hit_counter_max=4,
            detection_threshold=MIN_JOINT_CONFIDENCE,
        )

    def update(self, skeletons: list[np.ndarray]) -> list[TrackedPerson]:
        """This frame's people with ids (only those seen this frame; a person hidden this frame
        keeps their id for when they reappear)."""
        from norfair import Detection

        detections = []
        for i, kp in enumerate(skeletons):
            kp = np.asarray(kp, np.float32)
            if (kp[:, 2] >= MIN_JOINT_CONFIDENCE).sum() < 2:
                continue  # nothing to track by
            points = np.nan_to_num(kp[:, :2])
            detections.append(
                Detection(
                    points,
                    scores=kp[:, 2].copy(),
                    data={"index": i, "size": body_size(kp), "frame": self._frame},
                )
            )
        people = []
        for obj in self._tracker.update(detections):
            det = obj.last_detection
            if obj.id is None or det.data["frame"] != self._frame:  # unborn, or unseen now
                continue
            kp = np.asarray(skeletons[det.data["index"]], np.float32)
            people.append(TrackedPerson(int(obj.id), kp, body_box(kp), det.data["index"]))
        self._frame += 1
        return sorted(people, key=lambda p: p.person)

    @property
    def live_ids(self) -> set[int]:
        """Ids of every track still alive, seen this frame or not (per-person state keyed by id
        should be dropped when its id leaves this set)."""
        return {int(o.id) for o in self._tracker.tracked_objects if o.id is not None}

    def __len__(self) -> int:
        return len(self._tracker.tracked_objects)
