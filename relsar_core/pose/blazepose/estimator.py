"""BlazePose through ai-edge-litert (no mediapipe package, no TensorFlow).

`BlazePoseDetector` finds people (also used by ViTPose for its first frame and after a loss);
`BlazePoseEstimator` is the `PoseEstimator`: detect once, then track the person by placing each
frame's ROI from the previous frame's landmarks, so steady-state frames skip the detector.
When the landmark model says the ROI holds nobody, that frame returns nothing and the next one
is detected (MediaPipe's rule). All of it in MediaPipe 0.10.14's own float32 arithmetic
(mediapipe_math.py): on the sample video every frame is its output to the bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from relsar_core.errors import ModelFileError
from relsar_core.pose.base import PoseEstimator, Skeleton
from relsar_core.pose.blazepose.anchors import POSE_DETECTOR_ANCHORS, ssd_anchor_centers
from relsar_core.pose.blazepose.derived import landmark_model
from relsar_core.pose.blazepose.landmarks import BlazePoseLandmarker, LandmarkResult
from relsar_core.pose.blazepose.mediapipe_math import (
    F32,
    FRAME_NS,
    NormRect,
    RoiTracker,
    rect_from_alignment,
    to_pixels,
)
from relsar_core.pose.blazepose.small_people import MissProbe
from relsar_core.pose.blazepose.ssd_decode import decode_ssd, weighted_nms
from relsar_core.pose.litert import open_interpreter
from relsar_core.pose.model_store import BLAZEPOSE, require_file
from relsar_core.pose.one_euro import OneEuroFilter
from relsar_core.pose.roi import Box, Roi, box_iou, crop_roi, roi_from_alignment

DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_full.tflite"
ROI_SCALE = 1.25  # MediaPipe's RectTransformation for both detection and tracking ROIs
# One Euro smoothing of the two points that place the next ROI, MediaPipe 0.10.14's options
# (min_cutoff 0.01, beta 10, d_cutoff 1), speed in body sizes, in float64 pixels: what
# `tracking_roi` (the several-people estimator) uses. BlazePoseEstimator uses
# mediapipe_math.RoiTracker instead, MediaPipe's own arithmetic to the bit.
ROI_FILTER = {"min_cutoff": 0.01, "beta": 10.0, "d_cutoff": 1.0}
# MediaPipe's landmark smoothing (pose_landmark_filtering: One Euro, min_cutoff 0.1, beta 40,
# d_cutoff 1; speed in units of the landmarks' box size). Off by default: measured on the action
# model on the real sample video, it does not help (docs/pose.md, "Landmark smoothing").
LANDMARK_FILTER = {"min_cutoff": 0.1, "beta": 40.0, "d_cutoff": 1.0}
# After this many frames without anyone, where the last person stood no longer matters.
FORGET_AFTER_FRAMES = 30
# Interpreter threads per model unless told: one, as MediaPipe's own InferenceCalculator off
# mobile. A second XNNPACK thread spins between operators and while Python works, costing more
# CPU per frame than it saves on 2 cores (docs/pose.md, "Speed").
DEFAULT_THREADS = 1


def tracking_roi(roi_filter: OneEuroFilter, alignment: np.ndarray) -> Roi:
    """The next frame's ROI from this frame's two alignment points, smoothed as MediaPipe does:
    speed in units of the body (2 × the alignment radius of this frame). Float64 pixels: within
    1e-4 px of MediaPipe per step, not bit for bit (see mediapipe_math.RoiTracker)."""
    body_size = 2.0 * float(np.hypot(*(alignment[1] - alignment[0])))
    smooth = roi_filter(alignment, value_scale=1.0 / max(body_size, 1e-6))
    return roi_from_alignment(smooth[0], smooth[1], ROI_SCALE)


@dataclass
class PersonDetection:
    """One person found by the detector, in image pixels."""

    box: Box  # x0, y0, x1, y1: the body's bounding circle (hip centre ± radius), clipped
    score: float  # detector confidence in [0, 1]
    # (4, 2): hip centre, full-body scale point, shoulder centre, upper-body scale point
    keypoints: np.ndarray
    face_box: Box  # the detector's own box (head and upper chest); BlazePose does not use it
    # (4, 2) the keypoints as fractions of the image (float32, MediaPipe's own values) and the
    # image's (w, h): the exact ROI is computed from these
    normalized: np.ndarray | None = None
    image_size: tuple[int, int] | None = None

    def rect(self) -> NormRect:
        """MediaPipe's normalized ROI for this person (PoseDetectionToRoi, float32)."""
        if self.normalized is None or self.image_size is None:
            raise ValueError("this detection carries no normalized keypoints")
        return rect_from_alignment(self.normalized[0], self.normalized[1], self.image_size)

    def roi(self, scale: float = ROI_SCALE) -> Roi:
        """The rotated square crop the landmark model expects."""
        if self.normalized is not None and self.image_size is not None and scale == ROI_SCALE:
            return self.rect().roi()
        return roi_from_alignment(self.keypoints[0], self.keypoints[1], scale)


def _model_path(folder: str | Path | None, name: str) -> Path:
    if folder is None:
        return require_file(BLAZEPOSE, name)
    path = Path(folder) / name
    if not path.is_file():
        raise ModelFileError(
            f"{path}: missing; run `relsar-models fetch blazepose` or fix --pose-weights"
        )
    return path


def _preference(det: PersonDetection, image_size: tuple[int, int]) -> float:
    """Largest and most central first: box area, discounted by up to half for a person at the
    image corner. One fixed rule so the same person wins frame after frame."""
    w, h = image_size
    x0, y0, x1, y1 = det.box
    area = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    off = math.hypot((x0 + x1) / 2 - w / 2, (y0 + y1) / 2 - h / 2) / math.hypot(w / 2, h / 2)
    return area * (1.0 - 0.5 * min(off, 1.0))


class BlazePoseDetector:
    """pose_detection.tflite: people in a BGR frame, best (largest, most central) first."""

    input_size = POSE_DETECTOR_ANCHORS.input_size

    def __init__(
        self,
        model_dir: str | Path | None = None,
        num_threads: int | None = None,
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
    ) -> None:
        path = _model_path(model_dir, DETECTOR_FILE)
        self._interpreter = open_interpreter(path, num_threads)
        inp = self._interpreter.get_input_details()[0]
        if tuple(inp["shape"]) != (1, self.input_size, self.input_size, 3):
            raise ModelFileError(f"{path}: expected a 1×224×224×3 detector, got {inp['shape']}")
        self._input = inp["index"]
        outs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes, self._scores = outs[0]["index"], outs[1]["index"]
        self._anchors = ssd_anchor_centers(POSE_DETECTOR_ANCHORS)
        self.min_score = min_score
        self.iou_threshold = iou_threshold

    def detect(self, frame_bgr: np.ndarray) -> list[PersonDetection]:
        h, w = frame_bgr.shape[:2]
        n = self.input_size
        # Letterbox as MediaPipe: the whole frame warped bilinearly (no area averaging) into the
        # n×n square that holds its long side, the short side padded black (BORDER_ZERO).
        side = float(max(w, h))
        canvas = crop_roi(frame_bgr, Roi(w / 2, h / 2, side), n, border="zero", reuse_map=True)
        # MediaPipe's [-1, 1] conversion is OpenCV's convertTo: v × (2/255) - 1 with one
        # rounding (a fused multiply-add in its AVX2 code), which double arithmetic reproduces.
        scaled = np.multiply(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), np.float64(F32(2) / F32(255)))
        np.subtract(scaled, 1.0, out=self._interpreter.tensor(self._input)()[0], casting="unsafe")
        self._interpreter.invoke()
        raw = decode_ssd(
            self._interpreter.get_tensor(self._boxes)[0],
            self._interpreter.get_tensor(self._scores)[0],
            self._anchors,
            n,
            num_keypoints=4,
            min_score=self.min_score,
        )
        dets = weighted_nms(raw, self.iou_threshold)
        # DetectionLetterboxRemovalCalculator: letterbox fractions -> image fractions, float32.
        pad = NormRect(F32(0.5), F32(0.5), F32(1), F32(1), F32(0), (w, h)).padding()
        pad_xy, keep = np.array(pad, F32), F32(1) - np.array(pad, F32) * F32(2)

        def to_image(pts: np.ndarray) -> np.ndarray:
            return ((pts.astype(F32) - pad_xy) / keep).astype(F32)

        people = []
        for box, kps, score in zip(dets.boxes, dets.keypoints, dets.scores, strict=True):
            norm = to_image(kps)
            kp = to_pixels(norm, (w, h))
            fb = to_pixels(to_image(box.reshape(2, 2)), (w, h)).reshape(-1)
            radius = float(np.hypot(*(kp[1] - kp[0])))
            body = (
                max(0.0, kp[0, 0] - radius),
                max(0.0, kp[0, 1] - radius),
                min(float(w), kp[0, 0] + radius),
                min(float(h), kp[0, 1] + radius),
            )
            people.append(
                PersonDetection(
                    tuple(float(v) for v in body),
                    float(score),
                    kp,
                    tuple(float(v) for v in fb),
                    norm,
                    (w, h),
                )
            )
        people.sort(key=lambda d: -_preference(d, (w, h)))
        return people

    def close(self) -> None:
        self._interpreter = None


class BlazePoseEstimator(PoseEstimator):
    """BlazePose full body, 33 landmarks, with ROI tracking between frames.

    tracking=False runs the detector on every frame (for measuring what tracking saves).
    smooth_landmarks=True smooths the 33 landmarks over time as MediaPipe does by default.
    redetect_same_frame=True looks for the person again in the very frame that lost them;
    MediaPipe (the default) returns nothing for that frame and detects in the next one.
    mask_free=False runs the fetched landmark model as it is, with the person mask nobody uses
    (derived.py: the same outputs bit for bit, about a third less CPU per invoke)."""

    layout = "blazepose33"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        num_threads: int | None = None,
        tracking: bool = True,
        min_detection_score: float = 0.5,
        min_presence: float = 0.5,
        detector: BlazePoseDetector | None = None,
        smooth_landmarks: bool = False,
        redetect_same_frame: bool = False,
        mask_free: bool = True,
    ) -> None:
        num_threads = num_threads or DEFAULT_THREADS
        self.threads = num_threads  # per model (a detector passed in keeps its own)
        self.detector = detector or BlazePoseDetector(model_dir, num_threads, min_detection_score)
        self.smooth_landmarks = smooth_landmarks
        self._landmark_filter = OneEuroFilter(**LANDMARK_FILTER)
        path = _model_path(model_dir, LANDMARK_FILE)
        self.landmark_path = landmark_model(path) if mask_free else path
        self.landmarker = BlazePoseLandmarker(str(self.landmark_path), num_threads)
        self.tracking = tracking
        self.min_presence = min_presence
        self.redetect_same_frame = redetect_same_frame
        self._rect: NormRect | None = None
        self._last_box: Box | None = None
        self._tracker = RoiTracker()
        self._frames_unseen = 0
        self._miss = MissProbe()
        self.detector_runs = 0
        self.frames = 0

    def reset(self) -> None:
        self._rect = None
        self._last_box = None
        self._frames_unseen = 0
        self._tracker.reset()
        self._miss.reset()

    def miss_reason(self) -> str | None:
        """Why nobody was found in the latest frames: "small" (people were there, too small
        for the detector on the whole frame), "none", or None while someone is tracked."""
        return self._miss.reason

    def estimate(self, frame_bgr: np.ndarray) -> Skeleton | None:
        if frame_bgr is None or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError("estimate() expects an (H, W, 3) BGR frame")
        self.frames += 1
        result = None
        tracked = self.tracking and self._rect is not None
        if tracked:
            result = self._landmarks(frame_bgr, self._rect)
        if result is None and (not tracked or self.redetect_same_frame):
            # First frame, tracking off, nobody last frame (or the person just lost, when
            # re-detecting at once): a new track starts from a detection, unsmoothed.
            self._tracker.reset()
            self._landmark_filter.reset()
            rect = self._detect_rect(frame_bgr)
            result = self._landmarks(frame_bgr, rect) if rect is not None else None
        if result is None:
            self._rect = None
            self._tracker.reset()  # MediaPipe resets its filters on a frame without landmarks
            self._frames_unseen += 1
            if self._frames_unseen > FORGET_AFTER_FRAMES:
                self._last_box = None
            self._miss.missed(self.detector, frame_bgr)
            return None
        self._frames_unseen = 0
        self._miss.found()
        self._rect = self._next_rect(result.aux, frame_bgr)
        self._last_box = self._rect.roi().bounding_box()
        keypoints = result.keypoints
        if self.smooth_landmarks:
            keypoints = keypoints.copy()
            xy = keypoints[:, :2].astype(np.float64)
            scale = float(np.ptp(xy[:, 0]) + np.ptp(xy[:, 1])) / 2  # MediaPipe's object scale
            keypoints[:, :2] = self._landmark_filter(xy, value_scale=1.0 / max(scale, 1e-6))
        return Skeleton(keypoints, self.layout)

    def _next_rect(self, aux: np.ndarray, frame_bgr: np.ndarray) -> NormRect:
        size = (frame_bgr.shape[1], frame_bgr.shape[0])
        if not self.tracking:
            return rect_from_alignment(aux[0], aux[1], size)
        # MediaPipe's solutions time frame k at k × 33333 us: the filter's rate comes from it.
        return self._tracker(aux, size, self.frames * FRAME_NS)

    def _landmarks(self, frame_bgr: np.ndarray, rect: NormRect) -> LandmarkResult | None:
        if max(rect.pixel_size()) < 8:  # a degenerate ROI cannot hold a person
            return None
        result = self.landmarker.run_rect(frame_bgr, rect)
        # ThresholdingCalculator: a person only when presence > 0.5 (strictly).
        return result if result.presence > self.min_presence else None

    def _detect_rect(self, frame_bgr: np.ndarray) -> NormRect | None:
        self.detector_runs += 1
        people = self.detector.detect(frame_bgr)
        if not people:
            return None
        best = people[0]
        if self._last_box is not None:
            # Just lost someone: prefer whoever overlaps where they were, so a brief dropout
            # does not switch to another person.
            overlap = max(people, key=lambda d: box_iou(d.roi().bounding_box(), self._last_box))
            if box_iou(overlap.roi().bounding_box(), self._last_box) > 0.3:
                best = overlap
        return best.rect()

    def close(self) -> None:
        self.detector.close()
        self.landmarker = None  # type: ignore[assignment]
