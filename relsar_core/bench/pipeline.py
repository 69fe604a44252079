"""`relsar-bench pipeline`: the whole live pipeline on a video source with the default backend.

- frames/s: the video read flat out (not rate-limited), every frame through pose → window →
  features → classifier → smoothing, capture and inference in their own threads;
- frame-to-label p50/p95 and dropped frames with the video paced at 30 FPS, as a webcam delivers
  it (latency = label ready − frame captured, measured by the pipeline's own timestamps);
- resident memory and time to first frame of the real app (`relsar-app`, offscreen Qt, started
  as a subprocess: time from launch to the first frame drawn).

The video is the sample video's walker region at 640×480 (as `relsar-bench pose` uses), written
to a temporary file. The model is the shipped default; without it, a random-weight `base` model
converted on the spot (same size and speed). Without the BlazePose models the run falls back to
a skeleton replay, and every measurement says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from relsar_core.bench.common import Measurement
from relsar_core.bench.videos import FPS, write_video
from relsar_core.timing import p50_p95_ms


def _model(folder: Path) -> tuple[Path, str]:
    """The default model, or a random-weight base model of the same architecture."""
    from relsar_core.assets import DEFAULT_MODEL

    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL, f"default model {DEFAULT_MODEL.name}"
    from relsar_core.config import ModelConfig
    from relsar_core.skeleton.synthetic import make_toy_dataset
    from relsar_core.train.export import convert_run
    from relsar_core.train.model import build_classifier

    data = make_toy_dataset(folder / "toy", clips_per_class=3, frames=45)
    run = folder / "run"
    run.mkdir()
    classes = sorted(p.name for p in data.iterdir())
    build_classifier(ModelConfig(size="base"), len(classes), 30).save(run / "best.keras")
    (run / "run.json").write_text(
        json.dumps(
            {
                "class_names": classes,
                "data": str(data),
                "window": 30,
                "layout": "body15",
                "stride": 5,
            }
        )
    )
    out = folder / "base.tflite"
    convert_run(run, out, ["none"])
    return out, "random-weight base model (no default model shipped yet)"


def _source_setup(folder: Path, frames: int) -> tuple[str, object, str]:
    """(source spec, pose estimator or None, description)."""
    from relsar_core.errors import RelsarError

    try:
        from relsar_core.bench.pose import load_sample_frames
        from relsar_core.live.pipeline import open_pose
        from relsar_core.pose.factory import DEFAULT_POSE_BACKEND

        pose = open_pose(DEFAULT_POSE_BACKEND)
        images, desc = load_sample_frames(frames)
        return str(write_video(folder, images)), pose, f"{desc}; pose {DEFAULT_POSE_BACKEND}"
    except (RelsarError, ImportError) as err:
        from relsar_core.skeleton.synthetic import make_toy_dataset

        data = make_toy_dataset(folder / "replay", clips_per_class=2, frames=120)
        return str(data), None, f"REPLAY FALLBACK (no pose model: {err})"


def _run_pipeline(spec: str, classifier, pose, frames: int, realtime: bool) -> dict:
    from relsar_core.live.pipeline import LivePipeline, PipelineRunner
    from relsar_core.live.sources import open_source

    source = open_source(spec, loop=True, realtime=realtime)
    if realtime:
        source.fps = FPS  # paced like a 30 FPS webcam, whatever the file says
    pipeline = LivePipeline(classifier, pose, stride=5)
    stamps: list[float] = []
    latencies: list[float] = []
    pose_ms: list[float] = []
    classify_ms: list[float] = []
    done = threading.Event()

    def on_result(result) -> None:
        stamps.append(time.perf_counter())
        pose_ms.append(result.pose_ms)
        if result.prediction is not None and len(stamps) > 30:  # after the first window's warm-up
            latencies.append(result.prediction.latency_ms / 1e3)
            classify_ms.append(result.prediction.classify_ms)
        if len(stamps) >= frames:
            done.set()

    errors: list[BaseException] = []
    runner = PipelineRunner(
        source,
        pipeline,
        on_result,
        errors.append,
        done.set,
        drop_frames=True if realtime else False,
    )
    runner.start()
    done.wait(frames / FPS * 4 + 60)
    runner.stop()
    if errors:
        raise errors[0]
    warm = min(30, len(stamps) // 4)
    elapsed = stamps[-1] - stamps[warm]
    return {
        "fps": (len(stamps) - 1 - warm) / max(elapsed, 1e-9),
        "latencies": np.asarray(latencies),
        "dropped": runner.slot.dropped,
        "frames": len(stamps),
        "pose_p50_ms": float(np.median(pose_ms)) if pose_ms else 0.0,
        "classify_p50_ms": float(np.median(classify_ms)) if classify_ms else 0.0,
    }


def _app_launch(spec: str, model: Path, seconds: float, folder: Path) -> dict:
    """Launch relsar-app offscreen; time to the first frame drawn (wall clock from spawn) and RSS."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [
        sys.executable,
        "-m",
        "app.main",
        "--source",
        spec,
        "--model",
        str(model),
        "--settings",
        str(folder / "app.ini"),
        "--quit-after",
        str(seconds),
        "--report",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    first, reported, stats = None, None, {}
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("event") == "first_frame" and first is None:
            first, reported = time.perf_counter() - start, event.get("seconds")
        elif event.get("event") == "stats":
            stats = event
    proc.wait(60)
    return {"first_frame_s": first, "app_reported_s": reported, **stats}


def run(quick: bool, people: int = 1) -> list[Measurement]:
    """`people` > 1: people mode against one person (relsar_core.bench.people_pipeline)."""
    if people > 1:
        from relsar_core.bench.people_pipeline import run as run_people

        return run_people(quick, people)
    from relsar_core.live.pipeline import open_classifier

    frames = 150 if quick else 600
    with tempfile.TemporaryDirectory(prefix="relsar-bench-pipeline-") as tmp:
        folder = Path(tmp)
        model, model_desc = _model(folder)
        spec, pose, source_desc = _source_setup(folder, frames)
        classifier, _ = open_classifier(model)
        detail = {"source": source_desc, "model": model_desc}
        flat = _run_pipeline(spec, classifier, pose, frames, realtime=False)
        paced = _run_pipeline(
            spec, classifier, pose, int(FPS * (4 if quick else 10)), realtime=True
        )
        app = _app_launch(spec, model, 5.0 if quick else 8.0, folder)
        if pose is not None:
            pose.close()
    p50, p95 = p50_p95_ms(paced["latencies"]) if len(paced["latencies"]) else (float("nan"),) * 2
    tag = "" if pose is not None else " (replay fallback)"
    stages = {
        "pose_p50_ms": round(flat["pose_p50_ms"], 2),
        "classify_p50_ms": round(flat["classify_p50_ms"], 2),
        "load_average": os.getloadavg()[0],
    }
    detail = {**detail, **stages}
    out = [
        Measurement(
            "pipeline",
            f"frames/s, video flat out{tag}",
            flat["fps"],
            "frames/s",
            ">= 60",
            {**detail, "frames": flat["frames"]},
        ),
        Measurement("pipeline", f"frame-to-label p50 at 30 FPS{tag}", p50, "ms", None, detail),
        Measurement("pipeline", f"frame-to-label p95 at 30 FPS{tag}", p95, "ms", "<= 40", detail),
        Measurement(
            "pipeline",
            f"frames dropped at 30 FPS{tag}",
            paced["dropped"],
            "frames",
            "<= 0",
            {**detail, "frames": paced["frames"]},
        ),
    ]
    if app.get("first_frame_s") is not None:
        out.append(
            Measurement(
                "pipeline",
                f"app time to first frame{tag}",
                app["first_frame_s"],
                "s",
                "<= 3",
                {**detail, "app_reported_s": app.get("app_reported_s")},
            )
        )
    if app.get("rss_mb") is not None:
        out.append(
            Measurement(
                "pipeline",
                f"app resident memory{tag}",
                app["rss_mb"],
                "MB",
                "<= 600",
                {**detail, "app_fps": app.get("fps"), "app_dropped": app.get("dropped")},
            )
        )
    return out
