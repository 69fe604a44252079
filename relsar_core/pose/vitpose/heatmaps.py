"""Heatmaps → keypoints with sub-pixel accuracy (DARK refinement on UDP-aligned heatmaps).

The integer argmax of a 64×48 heatmap is a quarter of the input resolution; DARK (Zhang et al.,
CVPR 2020) treats the blurred heatmap around the peak as a Gaussian, whose log is quadratic,
and takes one Newton step: offset = −H⁻¹∇ of the log-heatmap. As in mmpose's `post_dark_udp`,
heatmaps are blurred first (kernel 11 for 64×48), clipped to [0.001, 50] and logged.
"""

from __future__ import annotations

import cv2
import numpy as np

DARK_KERNEL = 11


def argmax_2d(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer peak (x, y) and peak value of each (..., H, W) map → (..., 2) float32, (...)."""
    h, w = heatmaps.shape[-2:]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], h * w)
    idx = flat.argmax(axis=-1)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    return coords, maxvals.astype(np.float32)


def _blur(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """Gaussian blur of every map of a (K, H, W) stack (OpenCV's sigma for this kernel size).
    Zero outside the map: mirroring a peak near the edge would pull it outwards."""
    return np.stack(
        [cv2.GaussianBlur(m, (kernel, kernel), 0, borderType=cv2.BORDER_CONSTANT) for m in heatmaps]
    )


def dark_refine(heatmaps: np.ndarray, coords: np.ndarray, kernel: int = DARK_KERNEL) -> np.ndarray:
    """Refine integer peaks `coords` (..., 2) of `heatmaps` (..., H, W) by one DARK Newton step."""
    shape = heatmaps.shape
    h, w = shape[-2:]
    maps = heatmaps.reshape(-1, h, w).astype(np.float32)
    pts = coords.reshape(-1, 2)
    logs = np.log(np.clip(_blur(maps, kernel), 0.001, 50.0))
    padded = np.pad(logs, ((0, 0), (1, 1), (1, 1)), mode="edge")
    n = np.arange(len(maps))
    x = pts[:, 0].astype(np.int64) + 1
    y = pts[:, 1].astype(np.int64) + 1

    def at(dx: int, dy: int) -> np.ndarray:
        return padded[n, y + dy, x + dx]

    centre = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = at(1, 0) - 2 * centre + at(-1, 0)
    hyy = at(0, 1) - 2 * centre + at(0, -1)
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    # A Newton step only means something at a true local maximum (negative-definite Hessian);
    # elsewhere (flat or saddle) keep the integer peak.
    ok = (det > 1e-12) & (hxx < 0)
    safe = np.where(ok, det, 1.0)
    ox = np.where(ok, -(hyy * gx - hxy * gy) / safe, 0.0)
    oy = np.where(ok, -(hxx * gy - hxy * gx) / safe, 0.0)
    # On the map's edge a derivative across it is meaningless: keep that axis integer. A sampled
    # unimodal peak is nearest its true centre, so the step never needs more than half a pixel.
    ox = np.where((x == 1) | (x == w), 0.0, ox)
    oy = np.where((y == 1) | (y == h), 0.0, oy)
    offset = np.clip(np.stack([ox, oy], axis=-1), -0.5, 0.5)
    return (pts + offset).astype(np.float32).reshape(coords.shape)


def decode_heatmaps(heatmaps: np.ndarray, refine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(..., K, H, W) heatmaps → keypoints (..., K, 2) in heatmap pixels (x, y) and confidences
    (..., K) = peak heights clipped to [0, 1]."""
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    coords, maxvals = argmax_2d(heatmaps)
    if refine:
        coords = dark_refine(heatmaps, coords)
    return coords, np.clip(maxvals, 0.0, 1.0)
