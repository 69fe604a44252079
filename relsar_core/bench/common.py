"""Shared benchmark pieces: timing with warm-up, percentiles, targets, machine info."""

from __future__ import annotations

import operator
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

_OPS = {"<=": operator.le, ">=": operator.ge}


@dataclass
class Measurement:
    part: str  # classifier | pose | pipeline | train
    name: str  # what was measured, e.g. "tflite float32 p50"
    value: float
    unit: str  # ms, frames/s, windows/s, x, MB, s
    target: str | None = None  # e.g. "<= 1.5" (same unit as value)
    detail: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        if not self.target:
            return None
        op, bound = self.target.split()
        return bool(_OPS[op](self.value, float(bound)))

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 3) -> np.ndarray:
    """Seconds per call of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        samples[i] = time.perf_counter() - start
    return samples


def p50_p95_ms(samples_s: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(samples_s, 50) * 1e3), float(np.percentile(samples_s, 95) * 1e3)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    versions = {}
    for name in ("numpy", "tensorflow", "keras", "ai_edge_litert", "onnxruntime", "torch", "cv2"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except Exception:  # an optional part not installed is simply not reported
            continue
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }
