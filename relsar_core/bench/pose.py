"""`relsar-bench pose`: ms per frame of each pose backend, with and without ROI tracking, on a
real video (OpenCV's vtest.avi, people walking: see relsar_core.pose.sample_media).

"All in" = everything `estimate()` does per frame: detection when needed, cropping, both
models, decoding; frames with nobody and frames that lose the person count too."""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from relsar_core.bench.common import REFERENCE_THREADS, Measurement
from relsar_core.timing import p50_p95_ms, time_calls

THREADS = REFERENCE_THREADS
FRAME_SIZE = (640, 480)


def load_sample_frames(count: int, start: int = 0) -> tuple[list[np.ndarray], str]:
    """`count` frames of the sample video's walker region at 640×480, and a description.
    Without the fetched video: the astronaut photograph moving through the frame, said so."""
    from relsar_core.errors import ModelFileError
    from relsar_core.pose.sample_media import WALKER_FRAME_SIZE, WALKER_REGION, walker_frames

    try:
        frames = walker_frames(count, start)
    except ModelFileError:
        return _synthetic_frames(count), (
            "SYNTHETIC: astronaut photo moving (run `relsar-models fetch sample-video` for the real video)"
        )
    end = start + len(frames) - 1
    return frames, f"vtest.avi frames {start}-{end}, region {WALKER_REGION} -> {WALKER_FRAME_SIZE}"


def _synthetic_frames(count: int) -> list[np.ndarray]:
    import cv2

    from relsar_core.errors import ModelFileError

    try:
        from skimage import data
    except ImportError:
        raise ModelFileError(
            "no sample video: run `relsar-models fetch sample-video` (or install scikit-image)"
        ) from None
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frames = []
    for i in range(count):
        m = np.float32([[0.8, 0, 100 + 2 * np.sin(i / 5) * 20], [0, 0.8, 40]])
        frames.append(cv2.warpAffine(photo, m, FRAME_SIZE, borderValue=(60, 60, 60)))
    return frames


def _per_frame_ms(estimator, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Seconds of each estimate() call over the video, whether it found a person, detector runs,
    and the process's CPU seconds per frame (all threads: unlike wall time, not inflated when
    other jobs share the cores)."""
    for frame in frames[:3]:  # warm-up: first-call allocations
        estimator.estimate(frame)
    estimator.reset()
    runs_before = estimator.detector_runs
    times = np.empty(len(frames))
    found = np.zeros(len(frames), bool)
    cpu_start = time.process_time()
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        found[i] = estimator.estimate(frame) is not None
        times[i] = time.perf_counter() - start
    cpu = (time.process_time() - cpu_start) / len(frames)
    return times, found, estimator.detector_runs - runs_before, cpu


def _blazepose(frames: list[np.ndarray], video: str, quick: bool) -> list[Measurement]:
    """Both modes on the same frames. Per frame "all in" (frames with nobody included) is the
    target; the tracking speed-up compares the cost of a frame that yields a skeleton, since
    without tracking the detector misses people that tracking keeps (fewer, cheaper frames)."""
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    out, with_person = [], {}
    for tracking in (True, False):
        est = BlazePoseEstimator(tracking=tracking)  # its default: one thread per model
        times, found, runs, cpu = _per_frame_ms(est, frames)
        p50, p95 = p50_p95_ms(times)
        label = "blazepose tracking" if tracking else "blazepose detect every frame"
        detail = {
            "video": video,
            "frames": len(frames),
            "frames_with_person": int(found.sum()),
            "detector_runs": runs,
            "p95_ms": round(p95, 2),
            "mean_ms": round(float(times.mean()) * 1e3, 2),
            "threads": est.threads,
        }
        target = "<= 15" if tracking else None
        out.append(Measurement("pose", f"{label} ms/frame p50, all in", p50, "ms", target, detail))
        out.append(Measurement("pose", f"{label} ms/frame mean, all in", times.mean() * 1e3, "ms"))
        out.append(Measurement("pose", f"{label} CPU ms/frame, all threads", cpu * 1e3, "ms"))
        out.append(Measurement("pose", f"{label} frames with a person", found.mean() * 100, "%"))
        with_person[tracking] = p50_p95_ms(times[found])[0] if found.any() else float("nan")
        if tracking:
            det, lm = _model_only(est, 20 if quick else 60)
        est.close()
    out.append(
        Measurement(
            "pose",
            "blazepose tracking speed-up per skeleton (p50)",
            with_person[False] / with_person[True],
            "x",
            detail={
                "tracking_ms": round(with_person[True], 2),
                "detect_ms": round(with_person[False], 2),
            },
        )
    )
    # The same with two threads per model (the reference machine's cores): less wall time on an
    # idle machine, more CPU time (XNNPACK's second thread spins between operators).
    est = BlazePoseEstimator(num_threads=THREADS)
    times, _, _, cpu = _per_frame_ms(est, frames)
    est.close()
    label = f"blazepose tracking, {THREADS} threads per model"
    out.append(Measurement("pose", f"{label}, ms/frame mean", times.mean() * 1e3, "ms"))
    out.append(Measurement("pose", f"{label}, CPU ms/frame", cpu * 1e3, "ms"))
    out.append(Measurement("pose", "blazepose detector model alone p50", det, "ms"))
    out.append(Measurement("pose", "blazepose landmark model alone p50", lm, "ms"))
    return out


def _model_only(est, repeats: int) -> tuple[float, float]:
    """invoke() alone, inputs prepared: what the models cost without our pre/post-processing."""
    det = est.detector._interpreter
    det_in = det.get_input_details()[0]
    det.set_tensor(det_in["index"], np.zeros(det_in["shape"], np.float32))
    lm = est.landmarker._interpreter
    lm_in = lm.get_input_details()[0]
    lm.set_tensor(lm_in["index"], np.zeros(lm_in["shape"], np.float32))
    return p50_p95_ms(time_calls(det.invoke, repeats))[0], p50_p95_ms(
        time_calls(lm.invoke, repeats)
    )[0]


def _agreement() -> list[Measurement]:
    """Agreement with MediaPipe 0.10.14 on the golden file (tests/fixtures), when it and the
    sample video are here."""
    from relsar_core.bench import pose_reference as ref
    from relsar_core.errors import ModelFileError
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    if not ref.FIXTURE.is_file():
        return []
    try:
        golden = ref.load_reference()
    except (ModelFileError, ref.FramesChanged) as err:
        print(f"pose agreement skipped: {err}")
        return []
    est = BlazePoseEstimator()
    lm = ref.landmarks_given_roi(golden, est.landmarker)
    e2e = ref.end_to_end(golden, est)
    det = ref.detector_agreement(golden, est.detector)
    est.close()
    vs = "vs MediaPipe 0.10.14"
    return [
        Measurement(
            "pose",
            f"landmarks given its ROI, median error {vs}",
            lm["median_px"],
            "px",
            "<= 0.2",
            lm,
        ),
        Measurement("pose", f"landmarks given its ROI, PCK@0.05 {vs}", lm["pck05"], "", ">= 0.99"),
        Measurement(
            "pose",
            f"detections reproduced {vs}",
            det["matched"] / det["reference"],
            "",
            ">= 1.0",
            det,
        ),
        Measurement(
            "pose", f"end to end, same person {vs}", e2e["same_person"] * 100, "%", ">= 95", e2e
        ),
        Measurement("pose", f"end to end, PCK@0.05 {vs}", e2e["pck05"], "", ">= 0.95"),
    ]


def _mediapipe_speed(
    frames: list[np.ndarray], ours_ms: float, ours_cpu_ms: float, ours_p50: float
) -> list[Measurement]:
    """MediaPipe's own pipeline (solutions.pose, tracking) on the same frames, in this run, when
    its throw-away venv exists (`python -m training.make_blazepose_reference` makes it). CPU
    time (all threads) is compared too: on a shared machine it moves less than wall time."""
    from relsar_core.bench import pose_reference as ref

    if not ref.MEDIAPIPE_PYTHON.exists():
        return []
    out = ref.run_mediapipe(ref.MEDIAPIPE_PYTHON, frames, {})
    mp_ms = float(out["video_ms"][3:].mean())  # skip warm-up
    mp_p50 = float(np.median(out["video_ms"][3:]))
    mp_cpu = float(out["video_cpu_ms"][3:].mean()) if "video_cpu_ms" in out else float("nan")
    return [
        Measurement("pose", "mediapipe 0.10.14 solutions.pose ms/frame mean", mp_ms, "ms"),
        Measurement("pose", "mediapipe 0.10.14 solutions.pose ms/frame p50", mp_p50, "ms"),
        Measurement("pose", "mediapipe 0.10.14 solutions.pose CPU ms/frame", mp_cpu, "ms"),
        Measurement(
            "pose",
            "blazepose speed-up over mediapipe (mean ms/frame)",
            mp_ms / ours_ms,
            "x",
            ">= 1",
            {"ours_ms": round(ours_ms, 2), "mediapipe_ms": round(mp_ms, 2)},
        ),
        # Medians: on a shared machine other jobs' bursts land in one run or the other's mean.
        Measurement(
            "pose",
            "blazepose speed-up over mediapipe (p50 ms/frame)",
            mp_p50 / ours_p50,
            "x",
            ">= 1",
            {"ours_ms": round(ours_p50, 2), "mediapipe_ms": round(mp_p50, 2)},
        ),
        Measurement(
            "pose",
            "blazepose CPU saving over mediapipe (CPU ms/frame)",
            mp_cpu / ours_cpu_ms,
            "x",
            ">= 1",
            {"ours_cpu_ms": round(ours_cpu_ms, 2), "mediapipe_cpu_ms": round(mp_cpu, 2)},
        ),
    ]


def run(quick: bool) -> list[Measurement]:
    frames, video = load_sample_frames(80 if quick else 400, start=0)
    measurements = _blazepose(frames, video, quick)
    ours_ms = next(
        m.value for m in measurements if m.name.startswith("blazepose tracking ms/frame mean")
    )
    ours_cpu = next(
        m.value for m in measurements if m.name.startswith("blazepose tracking CPU ms/frame")
    )
    ours_p50 = next(
        m.value for m in measurements if m.name.startswith("blazepose tracking ms/frame p50")
    )
    measurements += _mediapipe_speed(frames, ours_ms, ours_cpu, ours_p50) + _agreement()
    if importlib.util.find_spec("torch") is None:  # the vitpose extra is not installed
        return measurements
    from relsar_core.bench.vitpose import benchmark_vitpose

    return measurements + benchmark_vitpose(quick)
