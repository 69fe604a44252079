"""Decoding an SSD-style detector's raw outputs (MediaPipe `TensorsToDetections` semantics) and
merging overlapping boxes with weighted non-maximum suppression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    Offsets are in input pixels relative to the anchor centre (x first), as BlazePose emits."""
    # float64: exp(100) overflows float32.
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -score_clip, score_clip)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    raw = raw_boxes.reshape(len(logits), -1)[keep] / np.float32(input_size)
    anchors = anchor_centers[keep]
    cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
    half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    kps = raw[:, 4 : 4 + 2 * num_keypoints].reshape(-1, num_keypoints, 2) + anchors[:, None, :]
    return RawDetections(
        boxes.astype(np.float32), kps.astype(np.float32), scores[keep].astype(np.float32)
    )


def _iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(dets: RawDetections, iou_threshold: float = 0.3) -> RawDetections:
    """Each cluster of boxes overlapping the best remaining one by more than `iou_threshold`
    becomes one detection: score-weighted mean of boxes and keypoints, the best score.
    Averaging (MediaPipe's WEIGHTED algorithm) steadies the box from frame to frame."""
    order = np.argsort(-dets.scores, kind="stable")
    boxes, kps, scores = dets.boxes[order], dets.keypoints[order], dets.scores[order]
    out_boxes, out_kps, out_scores = [], [], []
    remaining = np.arange(len(scores))
    while len(remaining):
        best = remaining[0]
        overlap = _iou_one_to_many(boxes[best], boxes[remaining]) > iou_threshold
        overlap[0] = True
        cluster = remaining[overlap]
        w = scores[cluster] / scores[cluster].sum()
        out_boxes.append((boxes[cluster] * w[:, None]).sum(axis=0))
        out_kps.append((kps[cluster] * w[:, None, None]).sum(axis=0))
        out_scores.append(scores[best])
        remaining = remaining[~overlap]
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
