"""Shared benchmark pieces: measurements against targets, machine info (timing: relsar_core.timing)."""

from __future__ import annotations

import operator
import os
import platform
from dataclasses import asdict, dataclass, field

_OPS = {"<=": operator.le, ">=": operator.ge}
# The design's reference machine has 2 cores: every benchmark gives its engines that many threads.
REFERENCE_THREADS = 2


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


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    # Installed versions without importing them (TensorFlow alone takes seconds to import).
    for name, dist in (
        ("numpy", "numpy"),
        ("tensorflow", "tensorflow"),
        ("keras", "keras"),
        ("ai_edge_litert", "ai-edge-litert"),
        ("onnxruntime", "onnxruntime"),
        ("torch", "torch"),
        ("cv2", "opencv-python-headless"),
        ("cv2", "opencv-python"),
    ):
        if name in versions:
            continue
        try:
            versions[name] = version(dist)
        except PackageNotFoundError:  # an optional part not installed is simply not reported
            continue
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }
