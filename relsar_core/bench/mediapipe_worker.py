"""MediaPipe 0.10.14's own BlazePose on frames we give it: the reference our BlazePose is compared
with. Runs as a script inside a throw-away virtual environment that has `mediapipe` (never inside
the project's: it imports nothing from relsar_core, only numpy and mediapipe).

    python mediapipe_worker.py IN.npz OUT.npz

IN.npz: `video` (N, H, W, 3) uint8 BGR frames of one clip (tracking mode, as solutions.pose with
static_image_mode=False), and any number of `still_<name>` single BGR images (static mode).
OUT.npz, everything in image pixels (normalized × width/height, MediaPipe's own coordinates):
  video_roi (N, 5)            cx, cy, width, height, rotation of the ROI the landmarks came from
                              (NaN when there was none), stream `pose_rect`
  video_landmarks (N, 33, 5)  x, y, z, visibility, presence before smoothing (NaN: nobody)
  video_smoothed (N, 33, 5)   the same after MediaPipe's landmark smoothing (its default)
  video_aux (N, 2, 2)         the two ROI alignment points before smoothing
  video_next_roi (N, 5)       ROI for the next frame, from the smoothed alignment points
  video_det_frame (D,), video_det (D, 13)  every detection of the frames where the detector ran:
                              score, box x0 y0 x1 y1, 4 keypoints x y
  still_<name>_det (D, 13), still_<name>_roi (5,), still_<name>_landmarks (33, 5)
  video_ms (N,)               wall ms of each process() call (MediaPipe's whole pipeline)
  video_cpu_ms (N,)           CPU ms of the process (all its threads) during each call
  mediapipe_version, numpy_version
"""

from __future__ import annotations

import sys
import time

import numpy as np

NAN_ROI = np.full(5, np.nan)


def _rect(rect, w: int, h: int) -> np.ndarray:
    if rect is None:
        return NAN_ROI.copy()
    return np.array(
        [rect.x_center * w, rect.y_center * h, rect.width * w, rect.height * h, rect.rotation]
    )


def _landmarks(lms, w: int, h: int, count: int) -> np.ndarray:
    out = np.full((count, 5), np.nan)
    if lms is None:
        return out
    for i, lm in enumerate(lms.landmark[:count]):
        out[i] = [lm.x * w, lm.y * h, lm.z * w, lm.visibility, lm.presence]
    return out


def _detections(dets, w: int, h: int) -> np.ndarray:
    rows = []
    for det in dets or []:
        box = det.location_data.relative_bounding_box
        kps = [(k.x * w, k.y * h) for k in det.location_data.relative_keypoints]
        x0, y0 = box.xmin * w, box.ymin * h
        rows.append(
            [det.score[0], x0, y0, x0 + box.width * w, y0 + box.height * h]
            + [v for kp in kps for v in kp]
        )
    return np.array(rows, np.float64).reshape(-1, 13)


def _solution(static: bool):
    from mediapipe.python.solution_base import SolutionBase

    # Exactly mp.solutions.pose.Pose(static_image_mode=static, model_complexity=1), observing
    # the graph's inner streams as well as its outputs.
    return SolutionBase(
        binary_graph_path="mediapipe/modules/pose_landmark/pose_landmark_cpu.binarypb",
        side_inputs={
            "model_complexity": 1,
            "smooth_landmarks": not static,
            "enable_segmentation": False,
            "smooth_segmentation": False,
            "use_prev_landmarks": not static,
        },
        calculator_params={
            "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": 0.5,
            "poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation"
            "__ThresholdingCalculator.threshold": 0.5,
        },
        outputs=[
            "pose_landmarks",
            "unfiltered_pose_landmarks",
            "unfiltered_auxiliary_landmarks",
            "pose_rect",
            "pose_rect_from_landmarks",
            "pose_detections",
        ],
    )


def _run(sol, bgr: np.ndarray):
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    start, cpu = time.perf_counter(), time.process_time()
    out = sol.process(rgb)
    return out, (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3


def main(src: str, dst: str) -> None:
    import mediapipe

    data = np.load(src)
    result: dict[str, np.ndarray] = {
        "mediapipe_version": np.array(mediapipe.__version__),
        "numpy_version": np.array(np.__version__),
    }
    if "video" in data:
        frames = data["video"]
        n, h, w = frames.shape[:3]
        keys = ("roi", "landmarks", "smoothed", "aux", "next_roi", "ms", "cpu_ms")
        acc: dict[str, list] = {k: [] for k in keys}
        det_frame, det_rows = [], []
        sol = _solution(static=False)
        for i, frame in enumerate(frames):
            out, ms, cpu_ms = _run(sol, frame)
            acc["roi"].append(_rect(out.pose_rect, w, h))
            acc["landmarks"].append(_landmarks(out.unfiltered_pose_landmarks, w, h, 33))
            acc["smoothed"].append(_landmarks(out.pose_landmarks, w, h, 33))
            acc["aux"].append(_landmarks(out.unfiltered_auxiliary_landmarks, w, h, 2)[:, :2])
            acc["next_roi"].append(_rect(out.pose_rect_from_landmarks, w, h))
            acc["ms"].append(ms)
            acc["cpu_ms"].append(cpu_ms)
            dets = _detections(out.pose_detections, w, h)
            det_frame += [i] * len(dets)
            det_rows.append(dets)
        sol.close()
        for k in keys:
            result[f"video_{k}"] = np.array(acc[k], np.float64)
        result["video_det_frame"] = np.array(det_frame, np.int32)
        result["video_det"] = np.concatenate(det_rows) if det_rows else np.zeros((0, 13))
    for key in data.files:
        if not key.startswith("still_"):
            continue
        image = data[key]
        h, w = image.shape[:2]
        sol = _solution(static=True)
        out, _, _ = _run(sol, image)
        sol.close()
        result[f"{key}_det"] = _detections(out.pose_detections, w, h)
        result[f"{key}_roi"] = _rect(out.pose_rect, w, h)
        result[f"{key}_landmarks"] = _landmarks(out.unfiltered_pose_landmarks, w, h, 33)
    np.savez_compressed(dst, **result)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: mediapipe_worker.py IN.npz OUT.npz")
    main(sys.argv[1], sys.argv[2])
