"""ViTPose for several people, top-down and batched: every person's box becomes a crop, all
crops go through the model in ONE call (PyTorch or ONNX Runtime, whichever the estimator runs),
and each person's heatmaps are decoded on their own.

Boxes come from the person detector (BlazePose's SSD, when its model is fetched) on the first
frame, then every `detect_every` frames while there is room for another person, and at once when
everyone is lost; in between, from each person's keypoints of the previous frame. As with
MultiPersonBlazePose the order of the returned skeletons is not an identity
(relsar_core.live.tracking keeps identities)."""

from __future__ import annotations

import numpy as np

from relsar_core.pose.base import (
    DETECT_EVERY,
    MAX_PEOPLE,
    SAME_PERSON_DISTANCE,
    SAME_PERSON_IOU,
    Skeleton,
)
from relsar_core.pose.roi import Box, box_from_keypoints, box_iou
from relsar_core.pose.vitpose.estimator import (
    MIN_CONFIDENCE,
    MIN_JOINTS,
    TRACK_MARGIN,
    ViTPoseEstimator,
)
from relsar_core.pose.vitpose.heatmaps import decode_heatmaps
from relsar_core.pose.vitpose.topdown import crop_box, heatmap_to_image, preprocess

# A detection is a tracked person (SAME_PERSON_*) by box centres and the taller box's height.
DUPLICATE_IOU = 0.6  # two tracked boxes overlapping this much have drifted onto one body


class MultiPersonViTPose:
    """`estimate_people(frame) -> list[Skeleton]` (coco25 / coco), at most `max_people`.

    Wraps a `ViTPoseEstimator` for its model runner, layout and crop geometry; its detector (if
    any) finds people. Without a detector the whole frame is one person's box."""

    def __init__(
        self,
        estimator: ViTPoseEstimator,
        max_people: int = MAX_PEOPLE,
        detect_every: int = DETECT_EVERY,
    ) -> None:
        self.estimator = estimator
        self.layout = estimator.layout
        self.max_people = max(1, int(max_people))
        self.detect_every = max(1, int(detect_every))
        self._boxes: list[Box] = []
        self._since_detect = 0
        self.detector_runs = 0
        self.landmark_runs = 0  # person crops through the model (the pipeline's counter name)
        self.batch_runs = 0  # model calls: one per frame with anyone to look at

    def reset(self) -> None:
        self._boxes = []
        self._since_detect = 0

    def estimate_boxes(self, frame_bgr: np.ndarray, boxes: list[Box]) -> list[Skeleton]:
        """One skeleton per (x0, y0, x1, y1) box, all crops in one model call."""
        if not boxes:
            return []
        est = self.estimator
        crops = [crop_box(box, est.padding) for box in boxes]
        pixels = np.stack([preprocess(frame_bgr, crop) for crop in crops])
        heatmaps = est._infer(pixels)  # (N, K, H, W)
        self.batch_runs += 1
        self.landmark_runs += len(boxes)
        coords, conf = decode_heatmaps(heatmaps)
        out = []
        for i, crop in enumerate(crops):
            xy = heatmap_to_image(coords[i], crop, est.heatmap_size)
            keypoints = np.concatenate([xy, conf[i][:, None]], axis=1).astype(np.float32)
            out.append(Skeleton(keypoints, self.layout))
        return out

    def estimate_people(self, frame_bgr: np.ndarray) -> list[Skeleton]:
        if frame_bgr is None or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError("estimate_people() expects an (H, W, 3) BGR frame")
        h, w = frame_bgr.shape[:2]
        self._since_detect += 1
        boxes = list(self._boxes)
        room = len(boxes) < self.max_people
        if not boxes or (room and self._since_detect >= self.detect_every):
            boxes += self._newcomer_boxes(frame_bgr, boxes)
        kept_boxes: list[Box] = []
        skeletons: list[Skeleton] = []
        for sk in self.estimate_boxes(frame_bgr, boxes):
            if int((sk.keypoints[:, 2] >= MIN_CONFIDENCE).sum()) < MIN_JOINTS:
                continue  # nobody in that crop (any more)
            box = box_from_keypoints(sk.keypoints, (w, h), MIN_CONFIDENCE, TRACK_MARGIN)
            if box is None:
                continue
            if any(box_iou(box, other) > DUPLICATE_IOU for other in kept_boxes):
                continue  # drifted onto someone already followed: the earlier one keeps them
            kept_boxes.append(box)
            skeletons.append(sk)
        self._boxes = kept_boxes
        return skeletons

    def _newcomer_boxes(self, frame_bgr: np.ndarray, tracked: list[Box]) -> list[Box]:
        """Detector boxes of people not yet followed (room permitting)."""
        self._since_detect = 0
        detector = self.estimator.detector
        if detector is None:
            h, w = frame_bgr.shape[:2]
            return [] if tracked else [(0.0, 0.0, float(w), float(h))]
        self.detector_runs += 1
        found: list[Box] = []
        for det in detector.detect(frame_bgr):
            if len(tracked) + len(found) >= self.max_people:
                break
            box: Box = tuple(float(v) for v in det.box)  # type: ignore[assignment]
            if any(_same_person(box, t) for t in tracked + found):
                continue  # already followed
            found.append(box)
        return found

    def close(self) -> None:
        self.estimator.close()


def _same_person(a: Box, b: Box) -> bool:
    """Two boxes on one body: overlapping, or centred close together."""
    if box_iou(a, b) > SAME_PERSON_IOU:
        return True
    gap = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    return float(gap) < SAME_PERSON_DISTANCE * max(a[3] - a[1], b[3] - b[1])
