"""Decoding an SSD-style detector's raw outputs (MediaPipe `TensorsToDetections` semantics) and
merging overlapping boxes with weighted non-maximum suppression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relsar_core.pose.blazepose.mediapipe_math import F32, sigmoid_f32


@dataclass
class RawDetections:
    """Detections in the model's normalized input frame ([0, 1] on both axes)."""

    boxes: np.ndarray  # (N, 4) x0, y0, x1, y1
    keypoints: np.ndarray  # (N, K, 2) x, y
    scores: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.scores)


def decode_ssd(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchor_centers: np.ndarray,
    input_size: int,
    num_keypoints: int,
    min_score: float,
    score_clip: float = 100.0,
) -> RawDetections:
    """Boxes and keypoints from (A, 4 + 2K) offsets and (A, 1) logits for A unit anchors.
    Offsets are in input pixels relative to the anchor centre (x first), as BlazePose emits.
    TensorsToDetectionsCalculator's float32 arithmetic: clipped logits, sigmoid, centre =
    offset / size + anchor, box = centre ∓ size / 2."""
    logits = np.clip(raw_scores.reshape(-1).astype(F32), F32(-score_clip), F32(score_clip))
    scores = sigmoid_f32(logits)
    keep = scores >= F32(min_score)
    raw = raw_boxes.reshape(len(logits), -1)[keep].astype(F32) / F32(input_size)
    anchors = anchor_centers[keep].astype(F32)
    cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
    half_w, half_h = raw[:, 2] / F32(2), raw[:, 3] / F32(2)
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    kps = raw[:, 4 : 4 + 2 * num_keypoints].reshape(-1, num_keypoints, 2) + anchors[:, None, :]
    return RawDetections(boxes.astype(F32), kps.astype(F32), scores[keep].astype(F32))


def _iou(a: np.ndarray, b: np.ndarray) -> F32:
    """OverlapSimilarity INTERSECTION_OVER_UNION of two (xmin, ymin, width, height) boxes."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    if bx1 < a[0] or ax1 < b[0] or by1 < a[1] or ay1 < b[1]:
        return F32(0)
    inter = (min(ax1, bx1) - max(a[0], b[0])) * (min(ay1, by1) - max(a[1], b[1]))
    return F32(inter / ((a[2] * a[3] + b[2] * b[3]) - inter))


def weighted_nms(dets: RawDetections, iou_threshold: float = 0.3) -> RawDetections:
    """Each cluster of boxes overlapping the best remaining one by more than `iou_threshold`
    becomes one detection: score-weighted mean of boxes and keypoints, the best score.
    Averaging (MediaPipe's WEIGHTED algorithm) steadies the box from frame to frame. Float32
    sums in MediaPipe's order (best first), so the result is its own to the bit."""
    order = np.argsort(-dets.scores, kind="stable")
    kps, scores = dets.keypoints[order].astype(F32), dets.scores[order].astype(F32)
    b = dets.boxes[order].astype(F32)
    # MediaPipe's Detection keeps xmin, ymin, width, height; its box right edge is xmin + width.
    xywh = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    out_boxes, out_kps, out_scores = [], [], []
    remaining = list(range(len(scores)))
    threshold = F32(iou_threshold)
    while remaining:
        best = remaining[0]
        cluster = [i for i in remaining if _iou(xywh[i], xywh[best]) > threshold]
        if not cluster:  # a box without area overlaps nothing, not even itself: kept as it is
            out_boxes.append(b[best])
            out_kps.append(kps[best])
            out_scores.append(scores[best])
            break
        rest = [i for i in remaining if i not in cluster]
        total, box, points = F32(0), np.zeros(4, F32), np.zeros(kps.shape[1:], F32)
        for i in cluster:
            s = scores[i]
            total = F32(total + s)
            x0, y0, w, h = xywh[i]
            box += np.array([x0, y0, x0 + w, y0 + h], F32) * s
            points += kps[i] * s
        x0, y0 = box[0] / total, box[1] / total
        out_boxes.append([x0, y0, x0 + (box[2] / total - x0), y0 + (box[3] / total - y0)])
        out_kps.append(points / total)
        out_scores.append(scores[best])
        remaining = rest
    if not out_scores:
        return RawDetections(
            np.zeros((0, 4), np.float32),
            np.zeros((0,) + dets.keypoints.shape[1:], np.float32),
            np.zeros(0, np.float32),
        )
    return RawDetections(
        np.asarray(out_boxes, np.float32),
        np.asarray(out_kps, np.float32),
        np.asarray(out_scores, np.float32),
    )
