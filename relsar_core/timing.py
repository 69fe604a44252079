"""Timing and memory of this process: calls timed after warm-up, percentiles, resident memory.

Below every layer, so that the benches, the export report and the app's headless summary share it."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


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
