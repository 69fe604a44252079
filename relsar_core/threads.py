"""The one rule for how many threads an inference engine (LiteRT, ONNX Runtime) gets by default."""

from __future__ import annotations

import os

MAX_DEFAULT_THREADS = 4  # the models here are small: more threads mostly add synchronization


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; all cores where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_threads(share: float = 1.0) -> int:
    """`share` of the usable cores, at least 1 and at most MAX_DEFAULT_THREADS."""
    return max(1, min(int(usable_cores() * share), MAX_DEFAULT_THREADS))
