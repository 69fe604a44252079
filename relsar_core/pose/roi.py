"""Regions of interest around a person: axis-aligned boxes from keypoints, and rotated square
crops (the BlazePose convention) with the maths to map points back to the image.

Coordinates are continuous pixels as MediaPipe has them (normalized × image size), which is
OpenCV's convention: x = 0 is the centre of the first column. `crop_roi` samples exactly where
MediaPipe's ImageToTensorCalculator does (the ROI's corners map onto the crop's corners 0 and N,
no half-pixel shift), so the same ROI gives the landmark model the same input tensor.
"""

from __future__ import annotations

import functools
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


def crop_roi(
    frame: np.ndarray,
    roi: Roi,
    out_size: int,
    border: str = "replicate",
    reuse_map: bool = False,
) -> np.ndarray:
    """The ROI resampled to an (out_size, out_size) upright crop, bilinear.
    `border`: "replicate" repeats the edge pixels (MediaPipe's landmark crop), "zero" pads black
    (its detector input). `reuse_map` keeps the sampling map of the last few ROIs: for a ROI that
    comes back frame after frame (the detector's whole-frame letterbox).

    Bit for bit what MediaPipe 0.10.14's ImageToTensorCalculator feeds its models on the CPU: it
    maps the ROI's box points onto the crop's corners 0..N with cv::warpPerspective of the
    OpenCV 3.4 it links. Newer OpenCV (5.x here) interpolates in floating point, 3.4 in fixed
    point (source positions rounded to 1/32 px, integer weights), which changes 3-4 % of the
    crop's values by 1-3 levels and the landmarks by ~0.05 px: enough to flip the landmark
    model's presence near 0.5 and make a track part from MediaPipe's. So the sampling map is
    built here as 3.4 builds it and applied with a fixed-point cv2.remap."""
    mode = {"replicate": cv2.BORDER_REPLICATE, "zero": cv2.BORDER_CONSTANT}[border]
    map_xy, map_frac = (_kept_map if reuse_map else _fixed_point_map)(roi, out_size)
    return cv2.remap(frame, map_xy, map_frac, cv2.INTER_LINEAR, borderMode=mode)


def _box_points(roi: Roi) -> np.ndarray:
    """cv::RotatedRect::points of OpenCV 3.4 in float32, for MediaPipe's float32 ROI (its angle
    in degrees computed as rotation * 180.f / M_PI)."""
    f32 = np.float32
    cx, cy, side = f32(roi.cx), f32(roi.cy), f32(roi.size)
    angle = f32(float(f32(roi.rotation) * f32(180.0)) / math.pi)
    rad = float(angle) * math.pi / 180.0
    b, a = f32(f32(math.cos(rad)) * f32(0.5)), f32(f32(math.sin(rad)) * f32(0.5))
    p0 = (
        f32(f32(cx - f32(a * side)) - f32(b * side)),
        f32(f32(cy + f32(b * side)) - f32(a * side)),
    )
    p1 = (
        f32(f32(cx + f32(a * side)) - f32(b * side)),
        f32(f32(cy - f32(b * side)) - f32(a * side)),
    )
    p2 = (f32(f32(2) * cx - p0[0]), f32(f32(2) * cy - p0[1]))
    p3 = (f32(f32(2) * cx - p1[0]), f32(f32(2) * cy - p1[1]))
    return np.array([p0, p1, p2, p3], np.float32)


_BLOCK = 64  # OpenCV 3.4's warpPerspective works in blocks 64 columns wide: sums start per block
_GRIDS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_LIMIT = 32767.0 * 32  # int16 pixel positions in 1/32 px


def _grid(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (n, 1), block starts (1, blocks) and columns within a block (64,), as float64."""
    if n not in _GRIDS:
        blocks = -(-n // _BLOCK)
        _GRIDS[n] = (
            np.arange(n, dtype=np.float64)[:, None],
            (np.arange(blocks, dtype=np.float64) * _BLOCK)[None, :],
            np.arange(_BLOCK, dtype=np.float64),
        )
    return _GRIDS[n]


def _fixed_point_map(roi: Roi, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The (int16 x, y) + (uint16 sub-pixel index) maps of OpenCV 3.4's warpPerspective for the
    matrix MediaPipe builds (box points -> crop corners, inverted in double): per output pixel
    the source position × 32 in the same order of double operations, rounded half to even,
    split into whole pixel and 1/32 fraction."""
    box = _box_points(roi)
    corners = np.float32([[0, n], [0, 0], [n, 0], [n, n]])
    m = cv2.invert(cv2.getPerspectiveTransform(box, corners))[1].ravel()
    rows, block, col = _grid(n)
    scale = (m[6] * block + m[7] * rows + m[8])[:, :, None] + m[6] * col  # (n, blocks, 64)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(32.0, scale, out=scale)
    far = not np.all(np.abs(box) < 16000)  # positions could leave int16: clip them
    pos = np.empty((2,) + scale.shape)
    for k, (a, b, c) in enumerate(((m[0], m[1], m[2]), (m[3], m[4], m[5]))):
        np.add((a * block + b * rows + c)[:, :, None], a * col, out=pos[k])
    pos *= scale
    if far:
        np.clip(np.nan_to_num(pos), -_LIMIT, _LIMIT, out=pos)
    np.rint(pos, out=pos)
    fixed = pos.reshape(2, n, -1)[:, :, :n].astype(np.int32)
    xy = np.empty((n, n, 2), np.int16)
    np.right_shift(fixed[0], 5, out=xy[..., 0], casting="unsafe")
    np.right_shift(fixed[1], 5, out=xy[..., 1], casting="unsafe")
    fixed &= 31
    np.left_shift(fixed[1], 5, out=fixed[1])
    frac = np.empty((n, n), np.uint16)
    np.bitwise_or(fixed[1], fixed[0], out=frac, casting="unsafe")
    return xy, frac


_kept_map = functools.lru_cache(maxsize=4)(_fixed_point_map)


def project_from_crop(points: np.ndarray, roi: Roi, out_size: int) -> np.ndarray:
    """(..., 2) points in crop pixels -> image pixels (the inverse of `crop_roi`'s sampling)."""
    pts = np.asarray(points, dtype=np.float32)
    return roi._to_image((pts - out_size / 2.0) * (roi.size / out_size))
