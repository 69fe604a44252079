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

from relsar_core.pose.blazepose.mediapipe_math import (
    F32,
    NormRect,
    project_to_image,
    sigmoid_f32,
    to_pixels,
)
from relsar_core.pose.litert import open_interpreter
from relsar_core.pose.roi import Roi, crop_roi

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
    # (2, 2) the same two points normalized (fractions of the image, float32): what MediaPipe
    # places the next ROI from
    aux: np.ndarray | None = None


def refine_with_heatmap(
    xy: np.ndarray,
    heatmap: np.ndarray,
    kernel: int = HEATMAP_KERNEL,
    min_confidence: float = MIN_HEATMAP_CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (L, 2) in normalized crop coordinates, re-estimated as the sigmoid-weighted mean
    cell of a kernel×kernel heatmap window around each; returns (refined xy, window peak; 1 where
    there was no window). RefineLandmarksFromHeatMap of MediaPipe 0.10.14 to the bit: float32
    sums in its row-major order, the cell index truncated toward zero, the window clipped at the
    heatmap's edges, and its check of the row against the column (a point just below the heatmap
    is still refined from the rows it reaches)."""
    h, w, channels = heatmap.shape
    n = len(xy)  # landmark i uses heatmap channel i
    offsets = np.arange(kernel) - (kernel - 1) // 2
    xy = np.asarray(xy, F32)
    # int(x * w) in C++: truncation toward zero (astype's), after clamping to a defined range.
    col = np.minimum(np.maximum(xy[:, 0] * F32(w), -1e6), 1e6).astype(np.int64)
    row = np.minimum(np.maximum(xy[:, 1] * F32(h), -1e6), 1e6).astype(np.int64)
    valid = (col >= 0) & (col < w) & (row >= 0)
    rows = row[:, None] + offsets  # (L, k)
    cols = col[:, None] + offsets
    ok = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    ok &= valid[:, None, None]
    cells = np.clip(rows, 0, h - 1)[:, :, None] * w + np.clip(cols, 0, w - 1)[:, None, :]
    logits = heatmap.reshape(-1)[cells * channels + np.arange(n)[:, None, None]]
    terms = np.empty((3, n, kernel, kernel), F32)  # confidence, col × it, row × it
    np.multiply(sigmoid_f32(logits), ok, out=terms[0])
    np.multiply(cols[:, None, :].astype(F32), terms[0], out=terms[1])
    np.multiply(rows[:, :, None].astype(F32), terms[0], out=terms[2])
    # cumsum adds one term after the other in float32 in row-major order, as the C++ loop
    # (sum() would add them pairwise).
    total, wcol, wrow = np.cumsum(terms.reshape(3, n, -1), axis=2)[:, :, -1]
    peak = terms[0].reshape(n, -1).max(axis=1)
    refine = valid & (peak >= F32(min_confidence)) & (total > 0)
    out = xy.copy()
    out[refine, 0] = (wcol[refine] / F32(w)) / total[refine]
    out[refine, 1] = (wrow[refine] / F32(h)) / total[refine]
    return out, np.where(valid & (total > 0), peak, F32(1))


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
        """Landmarks in the pixel ROI `roi` (taken as MediaPipe's normalized rect of it)."""
        h, w = frame_bgr.shape[:2]
        rect = NormRect(
            F32(roi.cx / w),
            F32(roi.cy / h),
            F32(roi.size / w),
            F32(roi.size / h),
            F32(roi.rotation),
            (w, h),
        )
        return self.run_rect(frame_bgr, rect)

    def run_rect(self, frame_bgr: np.ndarray, rect: NormRect) -> LandmarkResult:
        """Landmarks in MediaPipe's normalized rect, decoded in its float32 arithmetic."""
        rgb = cv2.cvtColor(crop_roi(frame_bgr, rect.roi(), INPUT_SIZE), cv2.COLOR_BGR2RGB)
        # Written straight into the model's input (no temporary tensor, no copy): v × (1/255)
        # in float32, MediaPipe's conversion.
        np.multiply(rgb, F32(1 / 255), out=self._interpreter.tensor(self._input)()[0])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._landmarks).reshape(NUM_ALL, 5)
        presence = float(self._interpreter.get_tensor(self._flag).reshape(-1)[0])
        used = NUM_BODY + 2  # the 4 other auxiliary points are never used: not decoded
        # The heatmap is read in place (a view of the model's output, gone at the next invoke).
        heatmap = self._interpreter.tensor(self._heatmap)()[0]
        xy, peak = refine_with_heatmap(raw[:used, :2] / F32(INPUT_SIZE), heatmap)
        del heatmap
        norm = project_to_image(xy, rect)
        image_xy = to_pixels(norm, rect.image_size)
        visibility = sigmoid_f32(raw[:NUM_BODY, 3])
        present = np.minimum(sigmoid_f32(raw[:NUM_BODY, 4]), peak[:NUM_BODY])
        conf = np.minimum(visibility, present)
        keypoints = np.concatenate([image_xy[:NUM_BODY], conf[:, None]], axis=1).astype(F32)
        return LandmarkResult(
            keypoints, image_xy[NUM_BODY : NUM_BODY + 2], presence, norm[NUM_BODY : NUM_BODY + 2]
        )
