"""SSD anchors for MediaPipe's BlazePose detector (`SsdAnchorsCalculator` semantics).

The detector predicts one box per anchor as offsets from the anchor centre. With
`fixed_anchor_size` every anchor is 1 × 1 (normalized), so only the centres matter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SsdAnchorOptions:
    input_size: int = 224
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    # One aspect ratio plus the interpolated scale anchor: two anchors per cell per layer.
    anchors_per_layer: int = 2
    anchor_offset: float = 0.5


# pose_detection.tflite: 224×224 input, 2254 anchors.
POSE_DETECTOR_ANCHORS = SsdAnchorOptions()


def ssd_anchor_centers(options: SsdAnchorOptions = POSE_DETECTOR_ANCHORS) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1], in the model's output order."""
    centers = []
    layer = 0
    strides = options.strides
    while layer < len(strides):
        # Consecutive layers with the same stride share one grid (their anchors interleave).
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = options.anchors_per_layer * (last - layer)
        cells = int(np.ceil(options.input_size / strides[layer]))
        coords = (np.arange(cells, dtype=np.float32) + options.anchor_offset) / cells
        yy, xx = np.meshgrid(coords, coords, indexing="ij")
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
        centers.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(centers).astype(np.float32)
