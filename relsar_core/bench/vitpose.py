"""ViTPose speed and int8 accuracy on this machine: ms/frame all in (crop, model, decoding) for
PyTorch, ONNX Runtime float and ONNX Runtime int8, and PCK@0.05 of int8 against float.

Speed does not depend on weight values, so without a checkpoint a random ViTPose-S is timed.
Accuracy does: PCK is measured with the checkpoint found in the models folder when there is one
(the number that matters), else with random weights, and the detail says which.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from relsar_core.bench.common import Measurement
from relsar_core.timing import p50_p95_ms, time_calls

PCK_THRESHOLD = 0.05  # of the person box's longer side
INT8_TARGET_MS = 70.0
PCK_TARGET = 0.98


def real_image() -> tuple[np.ndarray, tuple[float, float, float, float], str]:
    """A photograph of a person (BGR), a box around them, and its name."""
    try:
        from skimage import data

        rgb = data.astronaut()  # 512×512, upper body filling most of the frame
        return np.ascontiguousarray(rgb[..., ::-1]), (60.0, 20.0, 440.0, 512.0), "skimage astronaut"
    except ImportError:
        pass
    import cv2

    from relsar_core.errors import ModelFileError
    from relsar_core.pose.sample_media import full_body_photo_path

    try:
        frame = cv2.imread(str(full_body_photo_path()))
    except ModelFileError:
        raise ModelFileError(
            "no photograph of a person to measure ViTPose on: install scikit-image or run "
            "`relsar-models fetch sample-video`"
        ) from None
    h, w = frame.shape[:2]
    return frame, (0.0, 0.0, float(w), float(h)), "OpenCV sample messi5.jpg"


def jittered_boxes(box, count: int, seed: int = 0) -> list[tuple[float, float, float, float]]:
    """The box and `count − 1` shifted / rescaled copies (±10 %), as a tracker would produce."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    out = [tuple(box)]
    for _ in range(count - 1):
        dx, dy = rng.uniform(-0.1, 0.1, 2) * (w, h)
        s = rng.uniform(0.9, 1.1)
        cx, cy = (x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy
        out.append((cx - s * w / 2, cy - s * h / 2, cx + s * w / 2, cy + s * h / 2))
    return out


def pck(a: np.ndarray, b: np.ndarray, box, threshold: float = PCK_THRESHOLD) -> np.ndarray:
    """Per-joint hits: keypoints (J, ≥2) of `a` within `threshold` × the box's longer side of `b`."""
    size = max(box[2] - box[0], box[3] - box[1])
    return np.linalg.norm(a[:, :2] - b[:, :2], axis=1) <= threshold * size


def benchmark_vitpose(quick: bool, weights: str | None = None) -> list[Measurement]:
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator

    # PyTorch through vitpose_model: it sets OpenMP's wait policy before PyTorch loads.
    from relsar_core.pose.vitpose.model import ViTPoseConfig, random_vitpose, torch
    from relsar_core.pose.vitpose.onnx_export import export_onnx, quantize_int8
    from relsar_core.pose.vitpose.weights import find_local_vitpose, load_vitpose

    frame, box, image_name = real_image()
    found = Path(weights) if weights else find_local_vitpose()
    with tempfile.TemporaryDirectory(prefix="relsar-vitpose-bench-") as tmp:
        if found is None:
            model = random_vitpose(ViTPoseConfig.for_size("s"), seed=0)
            found = Path(tmp) / "vitpose-s-random.pth"
            torch.save(model.state_dict(), found)
            weights_note = "random weights (no checkpoint in the models folder)"
            random_weights = True
        else:
            model = load_vitpose(found)
            weights_note = str(found)
            random_weights = False
        name = f"vitpose-{model.config.size_name}"
        float_path = export_onnx(model, Path(tmp) / "float.onnx")
        estimators = {
            "torch": ViTPoseEstimator(str(found), "torch"),
            "onnx float": ViTPoseEstimator(str(float_path)),
            "onnx int8": ViTPoseEstimator(str(quantize_int8(float_path, Path(tmp) / "int8.onnx"))),
        }
        results = _speed(estimators, frame, box, image_name, name, 10 if quick else 30)
        results.append(_int8_pck(estimators, frame, box, image_name, name, 4 if quick else 16))
        results[-1].detail["weights"] = weights_note
        if random_weights:  # peakless heatmaps: PCK says nothing about int8, so it is not judged
            results[-1].target = None
            results[-1].name += " (random weights, not judged)"
        results += _with_detector(estimators["onnx int8"], name, 20 if quick else 100)
        for est in estimators.values():
            est.close()
    return results


def _speed(estimators, frame, box, image_name: str, name: str, repeats: int) -> list[Measurement]:
    """ms per frame of one tracked crop (what every frame costs once the person is tracked).
    The runtimes take turns call by call, so a change in machine load hits all of them alike
    and their ratios hold even on a shared machine."""
    samples = {label: np.empty(repeats) for label in estimators}
    cpu = {label: np.empty(repeats) for label in estimators}
    for est in estimators.values():
        time_calls(lambda est=est: est.estimate_in_box(frame, box), 0, warmup=2)
    for i in range(repeats):
        for label, est in estimators.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            est.estimate_in_box(frame, box)
            samples[label][i] = time.perf_counter() - start
            cpu[label][i] = time.process_time() - start_cpu
    results, p50s = [], {}
    for label in estimators:
        p50, p95 = p50_p95_ms(samples[label])
        p50s[label] = p50
        target = f"<= {INT8_TARGET_MS:g}" if label == "onnx int8" else None
        # CPU time of all threads: the work itself, barely affected by other processes.
        results.append(
            Measurement(
                "pose",
                f"{name} {label} ms/frame (crop+model+decode)",
                p50,
                "ms",
                target,
                {
                    "p95_ms": p95,
                    "cpu_ms_p50": float(np.median(cpu[label]) * 1e3),
                    "repeats": repeats,
                    "image": image_name,
                    "runtime": label,
                },
            )
        )
    results.append(
        Measurement(
            "pose",
            f"{name} onnx int8 speed-up vs onnx float",
            p50s["onnx float"] / p50s["onnx int8"],
            "x",
            None,
            {"torch_vs_int8": p50s["torch"] / p50s["onnx int8"]},
        )
    )
    return results


def _int8_pck(estimators, frame, box, image_name: str, name: str, crops: int) -> Measurement:
    """PCK of int8 keypoints against float ones over jittered crops, with a reading aid: how far
    float keypoints move on an imperceptibly different copy of the photo (JPEG quality 95).
    With random weights, whose heatmaps have no dominant peak, that floor is low too."""
    import cv2

    jpeg = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], 1)
    hits, floor = [], []
    for b in jittered_boxes(box, crops):
        ref = estimators["onnx float"].estimate_in_box(frame, b).keypoints
        hits.append(pck(estimators["onnx int8"].estimate_in_box(frame, b).keypoints, ref, b))
        floor.append(pck(estimators["onnx float"].estimate_in_box(jpeg, b).keypoints, ref, b))
    return Measurement(
        "pose",
        f"{name} int8 vs float PCK@{PCK_THRESHOLD:g}",
        float(np.mean(hits)),
        "fraction",
        f">= {PCK_TARGET:g}",
        {
            "image": image_name,
            "crops": crops,
            "keypoints": int(np.size(hits)),
            "float_vs_float_on_jpeg95_copy": float(np.mean(floor)),
        },
    )


def _with_detector(est, name: str, count: int) -> list[Measurement]:
    """On the sample video with BlazePose's person detector: ms per frame when the detector runs
    on every frame vs tracked frames (the crop from the previous frame, no detector). Timed per
    call so that a model result never decides what is timed (weights may be random)."""
    from relsar_core.errors import ModelFileError
    from relsar_core.pose.blazepose.estimator import BlazePoseDetector
    from relsar_core.pose.sample_media import walker_frames
    from relsar_core.threads import default_threads

    try:
        frames = walker_frames(count)
        detector = BlazePoseDetector(num_threads=default_threads())
    except ModelFileError:  # BlazePose or the sample video not fetched: nothing to measure
        return []
    h, w = frames[0].shape[:2]
    boxes = []
    detect_ms, crop_ms = np.empty(len(frames)), np.empty(len(frames))
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        people = detector.detect(frame)
        box = people[0].box if people else (0.0, 0.0, float(w), float(h))
        est.estimate_in_box(frame, box)
        detect_ms[i] = time.perf_counter() - start
        boxes.append(box)
    for i, frame in enumerate(frames):  # tracked: last frame's box, no detector
        start = time.perf_counter()
        est.estimate_in_box(frame, boxes[i - 1] if i else boxes[0])
        crop_ms[i] = time.perf_counter() - start
    detector.close()
    detail = {"video": f"sample vtest.avi walker region, {len(frames)} frames at {w}×{h}"}
    return [
        Measurement(
            "pose",
            f"{name} onnx int8 + detector every frame ms/frame p50",
            p50_p95_ms(detect_ms)[0],
            "ms",
            None,
            detail,
        ),
        Measurement(
            "pose",
            f"{name} onnx int8 tracked ms/frame p50",
            p50_p95_ms(crop_ms)[0],
            "ms",
            f"<= {INT8_TARGET_MS:g}",
            detail,
        ),
    ]
