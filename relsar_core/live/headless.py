"""Headless mode: the live pipeline without a window, writing one JSON line per classified
window (for servers and batch use); in people mode one line per person per classification step,
each with the person's track id and box. The same `PipelineRunner` and `LivePipeline` as the app;
files are read as fast as they are processed, without dropping frames.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TextIO

import numpy as np

from relsar_core.files import atomic_write
from relsar_core.live.pipeline import FrameResult, LivePipeline, PipelineRunner, Prediction
from relsar_core.live.sources import FrameSource


def prediction_record(pred: Prediction, fps: float) -> dict:
    """One JSON-ready line: who (track id, box), the smoothed label, the raw top class, all
    probabilities, timing; `reason` says why a person in view was not classified."""
    probs = pred.probabilities
    return {
        "frame": pred.frame_index,
        "time_s": round(pred.frame_index / fps, 4) if fps else None,
        "person": pred.person,
        "box": None if pred.box is None else [round(float(v), 1) for v in pred.box],
        "label": pred.smoothed.label,
        "confidence": round(float(pred.smoothed.confidence), 5),
        "raw_label": pred.raw_label,
        "reason": pred.reason,
        "probabilities": None
        if probs is None
        else {n: round(float(p), 5) for n, p in zip(pred.class_names, probs, strict=True)},
        "latency_ms": round(pred.latency_ms, 3),
    }


def run_headless(
    source: FrameSource,
    pipeline: LivePipeline,
    out: str | os.PathLike | None,
    progress: bool = True,
) -> dict:
    """Run until the source ends (or Ctrl-C for a live one); write JSON lines to `out`
    (atomically; "-" or None writes to stdout). Returns a summary."""
    done = threading.Event()
    errors: list[BaseException] = []
    latencies: list[float] = []
    counts = {"frames": 0, "windows": 0}

    def consume(fh: TextIO, tick) -> None:
        def on_result(result: FrameResult) -> None:
            counts["frames"] += 1
            tick()
            for pred in result.predictions:
                counts["windows"] += 1
                latencies.append(pred.latency_ms)
                fh.write(json.dumps(prediction_record(pred, source.fps), ensure_ascii=False) + "\n")

        runner = PipelineRunner(
            source, pipeline, on_result, errors.append, done.set, drop_frames=source.live
        )
        runner.start()
        try:
            while not done.is_set() and not errors and runner.running:
                done.wait(0.2)
            runner.wait(5.0)
        except KeyboardInterrupt:
            if not source.live:
                raise  # a file stopped half-way: leave no partial results file
            # A camera or stream runs until Ctrl-C: that is its normal end, keep what was written.
        finally:
            runner.stop()
        if errors:
            raise errors[0]

    def with_progress(fh: TextIO) -> None:
        if not progress:
            consume(fh, lambda: None)
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(f"{source.name}", total=source.num_frames)
            consume(fh, lambda: bar.advance(task))

    if out is None or str(out) == "-":
        import sys

        with_progress(sys.stdout)
    else:

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                with_progress(fh)

        atomic_write(Path(out), write)
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {
        "frames": counts["frames"],
        "windows": counts["windows"],
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p95_ms": float(np.percentile(lat, 95)),
    }
