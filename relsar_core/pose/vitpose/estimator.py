"""ViTPose as a `PoseEstimator`: top-down crop → ViTPose (PyTorch or ONNX Runtime) → DARK decoding.

The first box comes from a person detector (BlazePose's, when its model is fetched), else the
whole frame; afterwards from the previous skeleton, so steady-state frames run no detector.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from relsar_core.errors import ConfigError, ModelFileError
from relsar_core.pose.base import PoseEstimator, Skeleton
from relsar_core.pose.roi import Box, box_from_keypoints, box_iou
from relsar_core.pose.vitpose.config import LAYOUT_BY_JOINTS, RUNTIMES
from relsar_core.pose.vitpose.heatmaps import decode_heatmaps
from relsar_core.pose.vitpose.topdown import PADDING, crop_box, heatmap_to_image, preprocess
from relsar_core.threads import default_threads

MIN_CONFIDENCE = 0.3  # a joint counts as seen above this heatmap peak
MIN_JOINTS = 4  # a crop holds a person when at least this many joints are seen
TRACK_MARGIN = 0.1  # box around the previous joints, before the top-down padding


class ViTPoseEstimator(PoseEstimator):
    """ViTPose (S/B/L/H, coco_25 or coco17) from an easy_ViTPose `.pth`, or an exported `.onnx`.

    runtime "torch" runs the checkpoint in PyTorch; "onnx" runs it in ONNX Runtime, exported once
    and cached, int8-quantized unless `quantize=False` (the float graph matches PyTorch)."""

    def __init__(
        self,
        weights: str,
        runtime: str = "torch",
        detector=None,
        num_threads: int | None = None,
        quantize: bool = True,
        tracking: bool = True,
        padding: float = PADDING,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigError(
                f"unknown ViTPose runtime {runtime!r} (choose from {', '.join(RUNTIMES)})"
            )
        threads = num_threads or default_threads()
        path = Path(weights)
        if path.suffix == ".onnx" or runtime == "onnx":
            self._infer, num_joints, self.heatmap_size = _onnx_runner(path, quantize, threads)
            self.runtime = "onnx"
        else:
            self._infer, num_joints, self.heatmap_size = _torch_runner(path, threads)
            self.runtime = "torch"
        if num_joints not in LAYOUT_BY_JOINTS:
            raise ModelFileError(
                f"{path}: the model has {num_joints} joints; supported are 25 (coco_25) and 17 (coco)"
            )
        self.layout = LAYOUT_BY_JOINTS[num_joints]
        self.weights = path
        self.detector = detector
        self.tracking = tracking
        self.padding = padding
        self._box: Box | None = None
        self._last_box: Box | None = None
        self.detector_runs = 0
        self.frames = 0

    def reset(self) -> None:
        self._box = None
        self._last_box = None

    def estimate_in_box(self, frame_bgr: np.ndarray, box: Box) -> Skeleton:
        """Pose of the person in `box` (x0, y0, x1, y1), keypoints in image pixels."""
        crop = crop_box(box, self.padding)
        heatmaps = self._infer(preprocess(frame_bgr, crop)[None])[0]
        coords, conf = decode_heatmaps(heatmaps)
        xy = heatmap_to_image(coords, crop, self.heatmap_size)
        return Skeleton(np.concatenate([xy, conf[:, None]], axis=1).astype(np.float32), self.layout)

    def estimate(self, frame_bgr: np.ndarray) -> Skeleton | None:
        if frame_bgr is None or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError("estimate() expects an (H, W, 3) BGR frame")
        self.frames += 1
        h, w = frame_bgr.shape[:2]
        skeleton = None
        if self.tracking and self._box is not None:
            skeleton = self._seen(self.estimate_in_box(frame_bgr, self._box))
        if skeleton is None:  # first frame, tracking off, or the tracked person was lost
            box = self._detect_box(frame_bgr)
            skeleton = self._seen(self.estimate_in_box(frame_bgr, box)) if box else None
        if skeleton is None:
            self._box = None
            return None
        self._box = box_from_keypoints(skeleton.keypoints, (w, h), MIN_CONFIDENCE, TRACK_MARGIN)
        self._last_box = self._box or self._last_box
        return skeleton

    @staticmethod
    def _seen(skeleton: Skeleton) -> Skeleton | None:
        return (
            skeleton
            if int((skeleton.keypoints[:, 2] >= MIN_CONFIDENCE).sum()) >= MIN_JOINTS
            else None
        )

    def _detect_box(self, frame_bgr: np.ndarray) -> Box | None:
        h, w = frame_bgr.shape[:2]
        if self.detector is None:  # no detector: the person is assumed to fill the frame
            return (0.0, 0.0, float(w), float(h))
        self.detector_runs += 1
        people = self.detector.detect(frame_bgr)  # best (largest, most central) first
        if not people:
            return None
        best = people[0]
        if self._last_box is not None:
            # Just lost someone: prefer whoever overlaps where they were.
            overlap = max(people, key=lambda d: box_iou(d.box, self._last_box))
            if box_iou(overlap.box, self._last_box) > 0.3:
                best = overlap
        return tuple(float(v) for v in best.box)  # type: ignore[return-value]

    def close(self) -> None:
        if self.detector is not None and hasattr(self.detector, "close"):
            self.detector.close()
        self._infer = None  # type: ignore[assignment]


Runner = Callable[[np.ndarray], np.ndarray]


def _torch_runner(path: Path, threads: int) -> tuple[Runner, int, tuple[int, int]]:
    # PyTorch through vitpose_model: it sets OpenMP's wait policy before PyTorch loads.
    from relsar_core.pose.vitpose.model import torch
    from relsar_core.pose.vitpose.weights import load_vitpose

    torch.set_num_threads(threads)
    model = load_vitpose(path)

    def run(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(pixels)).numpy()

    return run, model.config.num_joints, model.config.heatmap_size


def _onnx_runner(path: Path, quantize: bool, threads: int) -> tuple[Runner, int, tuple[int, int]]:
    from relsar_core.pose.vitpose.onnx_export import OnnxViTPose, cached_onnx

    onnx_path = path if path.suffix == ".onnx" else cached_onnx(path, int8=quantize)
    session = OnnxViTPose(onnx_path, threads)
    rows, cols = session.input_size
    return session, session.num_joints, (rows // 4, cols // 4)
