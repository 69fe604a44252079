"""The One Euro filter (Casiez et al., CHI 2012): a low-pass filter whose cut-off rises with speed,
so a still target stops jittering while a fast one is followed with little lag.

This is MediaPipe's variant (mediapipe/util/filtering/one_euro_filter.cc): the speed is measured
on the raw samples, and multiplied by a per-sample `value_scale` (1 / the object's size), so the
same cut-offs suit a person near the camera and one far away."""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters arrays of any fixed shape, element-wise. `dt`: seconds between samples."""

    def __init__(
        self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0, dt: float = 1 / 30
    ) -> None:
        self.min_cutoff, self.beta, self.d_cutoff, self.dt = min_cutoff, beta, d_cutoff, dt
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    @property
    def is_fresh(self) -> bool:
        """True until the first sample after a reset."""
        return self._x is None

    def __call__(self, x: np.ndarray, value_scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._raw, self._dx = x.copy(), x.copy(), np.zeros_like(x)
            return x.copy()
        dx = (x - self._raw) * (value_scale / self.dt)
        self._raw = x.copy()
        self._dx = self._dx + _alpha(self.d_cutoff, self.dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        tau = 1.0 / (2 * math.pi * cutoff)
        alpha = 1.0 / (1.0 + tau / self.dt)
        self._x = self._x + alpha * (x - self._x)
        return self._x.copy()
