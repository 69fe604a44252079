"""BlazePose's landmark model (pose_landmark_full.tflite): one rotated ROI in, 33 body landmarks
(`blazepose33`) in image pixels out, plus the two auxiliary points that place the next ROI.

Decoding follows MediaPipe's pose_landmark graph: 39 landmarks × (x, y, z, visibility,
presence) in 256-pixel crop units, visibility and presence through a sigmoid, positions refined
on the 64×64 heatmap (9×9 window, when its peak is confident), then projected back through the
ROI's rotation and scale. A joint's confidence is min(visibility, presence): a joint outside the
frame is absent, one hidden behind the body is present but not visible, and both count as
unreliable for action features."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from relsar_core.pose.litert import open_interpreter
from relsar_core.pose.roi import Roi, crop_roi, project_from_crop

INPUT_SIZE = 256
NUM_BODY = 33
NUM_ALL = 39  # 33 body + 2 ROI alignment points + 4 unused auxiliary points
HEATMAP_KERNEL = 9  # MediaPipe 0.10.14's RefineLandmarksFromHeatmap default
MIN_HEATMAP_CONFIDENCE = 0.5


@dataclass
class LandmarkResult:
    keypoints: np.ndarray  # (33, 3) x, y in image pixels, confidence in [0, 1]
    alignment: np.ndarray  # (2, 2) hip centre and full-body scale point, image pixels
    presence: float  # the model's "a person is in this ROI" score in [0, 1]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


def refine_with_heatmap(
    xy: np.ndarray,
    heatmap: np.ndarray,
    kernel: int = HEATMAP_KERNEL,
    min_confidence: float = MIN_HEATMAP_CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (L, 2) in normalized crop coordinates, re-estimated as the sigmoid-weighted mean
    cell of a kernel×kernel heatmap window around each; returns (refined xy, window peak).
    Points off the heatmap, or whose window peak is below `min_confidence`, are kept as they are."""
    h, w, n = heatmap.shape
    half = (kernel - 1) // 2
    col = np.floor(xy[:, 0] * w).astype(int)
    row = np.floor(xy[:, 1] * h).astype(int)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    # Pad with a very negative logit: the window shrinks at the edges (sigmoid -> 0 weight).
    padded = np.pad(heatmap, ((half, half), (half, half), (0, 0)), constant_values=-1e4)
    offsets = np.arange(-half, half + 1)
    rows = np.clip(row, 0, h - 1)[:, None] + offsets[None, :]  # (L, k) in unpadded coordinates
    cols = np.clip(col, 0, w - 1)[:, None] + offsets[None, :]
    chan = np.arange(n)[:, None, None]
    conf = _sigmoid(padded[rows[:, :, None] + half, cols[:, None, :] + half, chan])  # (L, k, k)
    total = conf.sum(axis=(1, 2))
    peak = conf.max(axis=(1, 2))
    mean_row = (conf * rows[:, :, None]).sum(axis=(1, 2)) / np.maximum(total, 1e-12)
    mean_col = (conf * cols[:, None, :]).sum(axis=(1, 2)) / np.maximum(total, 1e-12)
    refine = inside & (peak >= min_confidence) & (total > 0)
    out = xy.copy()
    # MediaPipe maps the mean cell index straight back (no half-cell offset); so do we.
    out[refine, 0] = mean_col[refine] / w
    out[refine, 1] = mean_row[refine] / h
    return out, np.where(inside, peak, 1.0)


class BlazePoseLandmarker:
    """Runs pose_landmark_full.tflite on one ROI of a BGR frame."""

    def __init__(self, model_path: str, num_threads: int | None = None) -> None:
        self._interpreter = open_interpreter(model_path, num_threads)
        inp = self._interpreter.get_input_details()[0]
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            from relsar_core.errors import ModelFileError

            raise ModelFileError(
                f"{model_path}: expected a 1×256×256×3 landmark model, got {inp['shape']}"
            )
        self._input = inp["index"]
        # Outputs by shape: names differ between exports, shapes do not.
        by_shape = {
            tuple(d["shape"][1:]): d["index"] for d in self._interpreter.get_output_details()
        }
        self._landmarks = by_shape[(NUM_ALL * 5,)]
        self._flag = by_shape[(1,)]
        self._heatmap = by_shape[(64, 64, NUM_ALL)]

    def run(self, frame_bgr: np.ndarray, roi: Roi) -> LandmarkResult:
        crop = crop_roi(frame_bgr, roi, INPUT_SIZE)
        tensor = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1 / 255)
        self._interpreter.set_tensor(self._input, tensor[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._landmarks).reshape(NUM_ALL, 5)
        presence = float(self._interpreter.get_tensor(self._flag).reshape(-1)[0])
        heatmap = self._interpreter.get_tensor(self._heatmap)[0]
        xy, peak = refine_with_heatmap(raw[:, :2] / INPUT_SIZE, heatmap)
        image_xy = project_from_crop(xy * INPUT_SIZE, roi, INPUT_SIZE)
        visibility = _sigmoid(raw[:NUM_BODY, 3])
        present = np.minimum(_sigmoid(raw[:NUM_BODY, 4]), peak[:NUM_BODY])
        conf = np.minimum(visibility, present)
        keypoints = np.concatenate([image_xy[:NUM_BODY], conf[:, None]], axis=1).astype(np.float32)
        return LandmarkResult(keypoints, image_xy[NUM_BODY : NUM_BODY + 2], presence)
