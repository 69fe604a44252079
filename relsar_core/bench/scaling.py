"""`relsar-bench scaling`: how cost grows with the work, for docs/BENCHMARKS.md.

- classifier: TFLite float32 ms per window for windows of 30, 60 and 120 frames (base model);
- training: our BYOL step's windows/s for batch sizes 16, 32, 64 and 128;
- pipeline: frames/s of the whole pipeline flat out on a video at 480p, 720p and 1080p, with
  BlazePose (and ViTPose-S int8 through ONNX Runtime, random weights unless a checkpoint is in
  the models folder: speed does not depend on the weights).
Not part of `relsar-bench all`: it repeats what the other parts measure at other sizes."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from relsar_core.bench.common import Measurement
from relsar_core.skeleton.synthetic import toy_windows
from relsar_core.timing import p50_p95_ms, time_calls

WINDOWS = (30, 60, 120)
BATCHES = (16, 32, 64, 128)
RESOLUTIONS = {"480p": (640, 480), "720p": (1280, 720), "1080p": (1920, 1080)}


def classifier_vs_window(quick: bool) -> list[Measurement]:
    from relsar_core.config import ModelConfig
    from relsar_core.runtime.tflite import TfliteRunner
    from relsar_core.train.export import SavedModelExport
    from relsar_core.train.model import build_classifier
    from relsar_core.train.tf_setup import seed_everything

    out = []
    for window in WINDOWS:
        seed_everything(0)
        model = build_classifier(ModelConfig(size="base"), 10, window)
        with SavedModelExport(model, window) as exported:
            runner = TfliteRunner(exported.convert("none"), num_threads=1)
        x = np.random.default_rng(0).normal(size=(window, 60)).astype(np.float32)
        p50, p95 = p50_p95_ms(
            time_calls(lambda r=runner, x=x: r.run(x), 100 if quick else 500, warmup=10)
        )
        out.append(
            Measurement(
                "scaling",
                f"tflite float32, window {window}: p50",
                p50,
                "ms",
                detail={"p95_ms": p95, "threads": 1, "model": "base, random weights"},
            )
        )
    return out


def byol_vs_batch(quick: bool) -> list[Measurement]:
    from relsar_core.config import BYOLRunConfig, ModelConfig, load_config
    from relsar_core.train.byol import BYOL
    from relsar_core.train.tf_setup import seed_everything
    from relsar_core.train.tfdata import unlabelled_dataset

    out = []
    windows = toy_windows(4 * max(BATCHES))
    for batch in BATCHES:
        cfg = load_config("byol", BYOLRunConfig, byol={"batch_size": batch})
        seed_everything(0)
        byol = BYOL(
            ModelConfig(size="base"),
            cfg.byol,
            cfg.augment,
            30,
            steps_per_epoch=len(windows) // batch,
        )
        data = iter(unlabelled_dataset(windows, batch, seed=0, repeat=True))
        seconds = time_calls(
            lambda b=byol, d=data: float(b.train_step(next(d))[0]), 2 if quick else 6, warmup=2
        )
        out.append(
            Measurement(
                "scaling",
                f"BYOL step, batch {batch}",
                batch / float(np.median(seconds)),
                "windows/s",
                detail={"step_ms_p50": float(np.median(seconds) * 1e3), "model": "base"},
            )
        )
    return out


def _pose_backends(folder: Path) -> dict[str, object]:
    """BlazePose, plus ViTPose-S int8 (ONNX Runtime) where PyTorch/ONNX are installed."""
    from relsar_core.live.pipeline import open_pose

    backends = {"blazepose": open_pose("blazepose")}
    try:
        from relsar_core.pose.vitpose.estimator import ViTPoseEstimator
        from relsar_core.pose.vitpose.model import ViTPoseConfig, random_vitpose, torch
        from relsar_core.pose.vitpose.weights import find_local_vitpose
    except ImportError:
        return backends
    weights = find_local_vitpose()
    if weights is None:
        weights = folder / "vitpose-s-random.pth"
        torch.save(random_vitpose(ViTPoseConfig.for_size("s"), seed=0).state_dict(), weights)
    # ViTPose's first box comes from BlazePose's person detector, as in the app.
    backends["vitpose-s int8"] = ViTPoseEstimator(
        str(weights), "onnx", detector=backends["blazepose"].detector
    )
    return backends


def pipeline_vs_resolution(quick: bool) -> list[Measurement]:
    from relsar_core.bench.pipeline import _model, _run_pipeline
    from relsar_core.bench.pose import load_sample_frames
    from relsar_core.bench.videos import write_video
    from relsar_core.live.pipeline import open_classifier

    count = 90 if quick else 300
    out = []
    with tempfile.TemporaryDirectory(prefix="relsar-bench-scaling-") as tmp:
        folder = Path(tmp)
        model, model_desc = _model(folder)
        classifier, _ = open_classifier(model)
        frames, source_desc = load_sample_frames(count)
        backends = _pose_backends(folder)
        for label, size in RESOLUTIONS.items():
            video = str(write_video(folder, frames, f"{label}.avi", size))
            for name, pose in backends.items():
                pose.reset()
                start = time.perf_counter()
                result = _run_pipeline(video, classifier, pose, count, realtime=False)
                out.append(
                    Measurement(
                        "scaling",
                        f"pipeline {name}, {label} {size[0]}×{size[1]}",
                        result["fps"],
                        "frames/s",
                        detail={
                            "pose_p50_ms": result["pose_p50_ms"],
                            "source": source_desc,
                            "model": model_desc,
                            "seconds": time.perf_counter() - start,
                        },
                    )
                )
        for pose in backends.values():
            pose.close()
    return out


def run(quick: bool) -> list[Measurement]:
    return classifier_vs_window(quick) + byol_vs_batch(quick) + pipeline_vs_resolution(quick)
