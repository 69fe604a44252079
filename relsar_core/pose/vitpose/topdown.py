"""Top-down crops for heatmap pose models: person box → 3:4 crop → 256×192 input → back to pixels.

Geometry follows UDP (Huang et al., CVPR 2020, "unbiased data processing"): pixel centres are
integer coordinates and a crop of width `w` spans exactly `input_w - 1` input pixels and
`heatmap_w - 1` heatmap pixels, so crop → input → heatmap → image is one exact affine chain
with no half-pixel bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = (256, 192)  # (height, width)
ASPECT = INPUT_SIZE[1] / INPUT_SIZE[0]  # width / height = 3 / 4
PADDING = 1.25  # mmpose's top-down margin around a person box
# ImageNet statistics (RGB), folded into one multiply-add per pixel.
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_SCALE = 1.0 / (255.0 * _STD)
_SHIFT = -_MEAN / _STD


@dataclass(frozen=True)
class CropBox:
    """A crop of the image: centre and size in pixels, width / height = 3 / 4."""

    cx: float
    cy: float
    width: float
    height: float


def crop_box(box: tuple[float, float, float, float], padding: float = PADDING) -> CropBox:
    """Grow an (x0, y0, x1, y1) person box by `padding` and to a 3:4 aspect (never shrinking)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if w > ASPECT * h:
        h = w / ASPECT
    else:
        w = h * ASPECT
    return CropBox((x0 + x1) / 2, (y0 + y1) / 2, w * padding, h * padding)


def crop_matrix(crop: CropBox, input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """2×3 affine from image pixels to model-input pixels (UDP: the crop spans size − 1)."""
    in_h, in_w = input_size
    sx = (in_w - 1) / crop.width
    sy = (in_h - 1) / crop.height
    return np.array(
        [[sx, 0.0, (in_w - 1) / 2 - sx * crop.cx], [0.0, sy, (in_h - 1) / 2 - sy * crop.cy]],
        dtype=np.float64,
    )


def preprocess(
    frame_bgr: np.ndarray, crop: CropBox, input_size: tuple[int, int] = INPUT_SIZE
) -> np.ndarray:
    """(3, H, W) float32 model input: the crop resampled bilinearly, RGB, ImageNet-normalised.
    Parts of the crop outside the frame are black, as in training."""
    in_h, in_w = input_size
    patch = cv2.warpAffine(
        frame_bgr,
        crop_matrix(crop, input_size),
        (in_w, in_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    rgb = patch[..., ::-1].astype(np.float32)
    return np.ascontiguousarray((rgb * _SCALE + _SHIFT).transpose(2, 0, 1))


def heatmap_to_image(
    coords: np.ndarray, crop: CropBox, heatmap_size: tuple[int, int]
) -> np.ndarray:
    """(..., 2) heatmap pixel coordinates (x, y) → image pixels, the inverse of the UDP crop."""
    hm_h, hm_w = heatmap_size
    out = np.empty_like(coords, dtype=np.float32)
    out[..., 0] = crop.cx + crop.width * (coords[..., 0] / (hm_w - 1) - 0.5)
    out[..., 1] = crop.cy + crop.height * (coords[..., 1] / (hm_h - 1) - 0.5)
    return out


def image_to_heatmap(
    points: np.ndarray, crop: CropBox, heatmap_size: tuple[int, int]
) -> np.ndarray:
    """Image pixels → heatmap pixels; the exact inverse of `heatmap_to_image` (tests, targets)."""
    hm_h, hm_w = heatmap_size
    out = np.empty_like(points, dtype=np.float32)
    out[..., 0] = ((points[..., 0] - crop.cx) / crop.width + 0.5) * (hm_w - 1)
    out[..., 1] = ((points[..., 1] - crop.cy) / crop.height + 0.5) * (hm_h - 1)
    return out
