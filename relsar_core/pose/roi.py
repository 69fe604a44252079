"""Regions of interest around a person: axis-aligned boxes from keypoints, and rotated square
crops (the BlazePose convention) with the maths to map points back to the image.

Coordinates are continuous pixels as MediaPipe has them (normalized × image size), which is
OpenCV's convention: x = 0 is the centre of the first column. `crop_roi` samples exactly where
MediaPipe's ImageToTensorCalculator does (the ROI's corners map onto the crop's corners 0 and N,
no half-pixel shift), so the same ROI gives the landmark model the same input tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def box_from_keypoints(
    keypoints: np.ndarray,
    image_size: tuple[int, int],
    min_confidence: float = 0.3,
    margin: float = 0.25,
) -> Box | None:
    """A person box from a skeleton: the extent of the joints with confidence >= min_confidence,
    grown by `margin` of its size on every side (limbs and head reach past the joints), clipped
    to the image (w, h). None when fewer than two joints are confident or the box is empty."""
    kp = np.asarray(keypoints, dtype=np.float32)
    good = kp[kp[:, 2] >= min_confidence, :2]
    good = good[np.isfinite(good).all(axis=1)]
    if len(good) < 2:
        return None
    (x0, y0), (x1, y1) = good.min(axis=0), good.max(axis=0)
    # A straight arm can make a box with no height: pad by the larger side instead.
    pad = margin * max(x1 - x0, y1 - y0)
    w, h = image_size
    box = (max(0.0, x0 - pad), max(0.0, y0 - pad), min(float(w), x1 + pad), min(float(h), y1 + pad))
    if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
        return None
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Roi:
    """A rotated square in the image: centre, side length (pixels) and rotation (radians).
    rotation 0 = upright; positive = the person's "up" leans towards +x (clockwise on screen)."""

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def corners(self) -> np.ndarray:
        """(4, 2) corners: top-left, top-right, bottom-right, bottom-left (in ROI orientation)."""
        local = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float32)
        return self._to_image(local * self.size)

    def bounding_box(self) -> Box:
        c = self.corners()
        return (
            float(c[:, 0].min()),
            float(c[:, 1].min()),
            float(c[:, 0].max()),
            float(c[:, 1].max()),
        )

    def _to_image(self, local: np.ndarray) -> np.ndarray:
        """ROI-local offsets (x right, y down in the ROI's frame, pixels) -> image points."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        x = self.cx + local[..., 0] * cos - local[..., 1] * sin
        y = self.cy + local[..., 0] * sin + local[..., 1] * cos
        return np.stack([x, y], axis=-1).astype(np.float32)


def roi_from_alignment(center: np.ndarray, scale_point: np.ndarray, scale: float = 1.25) -> Roi:
    """The BlazePose ROI from two alignment points (pixels): the body centre (hip midpoint) and a
    point whose distance sets the body radius and whose direction from the centre is "up".
    Side = 2 × radius × scale, as MediaPipe's AlignmentPointsRects + RectTransformation."""
    dx, dy = float(scale_point[0] - center[0]), float(scale_point[1] - center[1])
    radius = math.hypot(dx, dy)
    # Upright person: scale point straight above (dy < 0) -> rotation 0.
    rotation = _normalize_radians(math.pi / 2 - math.atan2(-dy, dx))
    return Roi(float(center[0]), float(center[1]), 2.0 * radius * scale, rotation)


def _normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def crop_roi(frame: np.ndarray, roi: Roi, out_size: int, border: str = "replicate") -> np.ndarray:
    """The ROI resampled to an (out_size, out_size) upright crop, bilinear.
    `border`: "replicate" repeats the edge pixels (MediaPipe's landmark crop), "zero" pads black
    (its detector input).

    Done as MediaPipe's ImageToTensorCalculator on the CPU: the ROI's box points mapped onto the
    crop's corners by a perspective transform (the same geometry as an affine warp), on the
    uint8 image. (Sampling in float32 instead agrees less with MediaPipe 0.10.14, measured.)"""
    mode = {"replicate": cv2.BORDER_REPLICATE, "zero": cv2.BORDER_CONSTANT}[border]
    corners = cv2.boxPoints(((roi.cx, roi.cy), (roi.size, roi.size), math.degrees(roi.rotation)))
    n = float(out_size)
    crop_corners = np.float32([[0, n], [0, 0], [n, 0], [n, n]])
    matrix = cv2.getPerspectiveTransform(corners, crop_corners)
    return cv2.warpPerspective(
        frame, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=mode
    )


def project_from_crop(points: np.ndarray, roi: Roi, out_size: int) -> np.ndarray:
    """(..., 2) points in crop pixels -> image pixels (the inverse of `crop_roi`'s sampling)."""
    pts = np.asarray(points, dtype=np.float32)
    return roi._to_image((pts - out_size / 2.0) * (roi.size / out_size))
