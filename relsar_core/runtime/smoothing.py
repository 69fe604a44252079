"""Temporal smoothing of per-window class probabilities into a steady label.

Three steps, each with one knob:
- EMA over the probability vectors (`alpha`: weight of the newest window; 1 = no smoothing);
- a confidence threshold: below it the label is NO_ACTION ("—"), as it is when nobody is seen;
- hysteresis: a different class takes over only when it leads the current one by `margin` for
  `hold` consecutive windows, so the label does not flicker between two close classes.
A model's rejection class (REJECT_CLASSES, e.g. `other`) on top also shows NO_ACTION.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_ACTION = "—"
# Classes that mean "none of the actions" (the default model's `other`): shown as NO_ACTION.
REJECT_CLASSES = frozenset({"other"})
# "No action" classes that are still shown by name (a person standing or sitting there): not an
# action, so neither counted as one in the rejection rate nor gated (relsar_core.runtime.rejection).
REST_CLASSES = ("idle", "still")


@dataclass(frozen=True)
class SmoothedLabel:
    label: str  # a class name, or NO_ACTION
    index: int | None  # class index, None for NO_ACTION
    confidence: float  # smoothed probability of `label` (of the top class for NO_ACTION)
    probabilities: np.ndarray  # (K,) smoothed probabilities


class LabelSmoother:
    """Turns a stream of probability vectors into a steady label. Not thread-safe: one owner."""

    def __init__(
        self,
        class_names: list[str],
        alpha: float = 0.5,
        threshold: float = 0.5,
        margin: float = 0.1,
        hold: int = 2,
    ) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"smoothing alpha must lie in (0, 1], got {alpha}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"confidence threshold must lie in [0, 1], got {threshold}")
        self.class_names = list(class_names)
        self.alpha = float(alpha)
        self.threshold = float(threshold)
        self.margin = float(margin)
        self.hold = max(1, int(hold))
        self.reset()

    def reset(self) -> None:
        self._ema: np.ndarray | None = None
        self._current: int | None = None
        self._challenger: int | None = None
        self._streak = 0

    def update(self, probabilities: np.ndarray) -> SmoothedLabel:
        """Fold one window's probabilities (K,) in and return the current label."""
        p = np.asarray(probabilities, dtype=np.float32)
        if p.shape != (len(self.class_names),):
            raise ValueError(f"expected {len(self.class_names)} probabilities, got shape {p.shape}")
        self._ema = p.copy() if self._ema is None else self.alpha * p + (1 - self.alpha) * self._ema
        ema = self._ema
        top = int(np.argmax(ema))
        if ema[top] < self.threshold or self.class_names[top] in REJECT_CLASSES:
            self._current, self._challenger, self._streak = None, None, 0
            return SmoothedLabel(NO_ACTION, None, float(ema[top]), ema.copy())
        if self._current is None or top == self._current or ema[self._current] < self.threshold:
            # Taking over from "nothing" (or from a class that fell below the threshold) needs no
            # hysteresis: the threshold already gates it.
            self._current, self._challenger, self._streak = top, None, 0
        elif ema[top] >= ema[self._current] + self.margin:
            self._streak = self._streak + 1 if top == self._challenger else 1
            self._challenger = top
            if self._streak >= self.hold:
                self._current, self._challenger, self._streak = top, None, 0
        else:
            self._challenger, self._streak = None, 0
        cur = self._current
        return SmoothedLabel(self.class_names[cur], cur, float(ema[cur]), ema.copy())

    def nobody(self) -> SmoothedLabel:
        """Nobody in view: forget the history and show NO_ACTION."""
        self.reset()
        zeros = np.zeros(len(self.class_names), np.float32)
        return SmoothedLabel(NO_ACTION, None, 0.0, zeros)
