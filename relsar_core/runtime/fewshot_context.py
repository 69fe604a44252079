"""Naming a taught action from its stream's recent windows (fewshot_head.FewShotHead.predict).

In a stream of windows (one person live, one clip in the bench and in relsar-teach's held-out
score), each row of head distances (one per taught action, then the nearest base centroid's)
is averaged with the stream's recent rows before the gate and the choice, so an action is
named from more of its movement than one window: a spin's wind-up between two turns looks
like a small turn of its mirror twin, and the turns around it tell it apart.

A long context delays a switch to another action, so it starts again at a change: when the
last RESTART_WINDOWS rows each name one and the same column on their own, and the context
named another before them, only those rows are kept. Within one action the mean spans up to
CONTEXT_SECONDS; after a change the new action is named as soon as the restart happens.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# Longest span averaged (the current window and the seven before it at the app's stride of
# 5 frames at 30 fps) and the windows in a row that restart it. relsar-bench teach k = 5 on
# eight fresh seeds: 0.868 (2/3 s, no restart) -> 0.877, up on 7 of 8, for 0.16 windows more
# to switch between taught actions (docs/teach.md, "A context that restarts").
CONTEXT_SECONDS = 4.0 / 3.0
RESTART_WINDOWS = 3


def named_column(row: np.ndarray, base_margin: float | None = None) -> int:
    """The column a row of head distances names on its own: the nearest one; with
    `base_margin` the last column is the nearest base centroid's and a taught action must be
    nearer than it by more than -base_margin to be named (the head's base-class gate)."""
    r = np.asarray(row, np.float64)
    if base_margin is not None and len(r) > 1:
        r = r.copy()
        r[-1] += base_margin
    return int(np.argmin(r))


class DistanceContext:
    """One stream's head distances: `add(time, distances)` returns the mean of the rows kept
    (at most CONTEXT_SECONDS old, since the last restart; see the module docstring). Time going
    back or another number of actions (new taught actions) starts it again; so does reset()."""

    def __init__(
        self, seconds: float = CONTEXT_SECONDS, restart_windows: int = RESTART_WINDOWS
    ) -> None:
        self.seconds = float(seconds)
        self.restart_windows = int(restart_windows)
        self._rows: deque = deque()

    def reset(self) -> None:
        self._rows.clear()

    def add(self, time: float, distances, base_margin: float | None = None) -> np.ndarray:
        """Fold one row in; `base_margin`: the row's last column is the nearest base centroid's
        distance, named as the head's gate would (named_column)."""
        row = np.asarray(distances, np.float32)
        if self._rows and (time < self._rows[-1][0] or self._rows[-1][1].shape != row.shape):
            self.reset()
        before = self._choice(base_margin)
        self._rows.append((time, row))
        m = self.restart_windows
        if m > 0 and before is not None and len(self._rows) > m:
            last = {named_column(r, base_margin) for _, r in list(self._rows)[-m:]}
            if len(last) == 1 and last != {before}:
                while len(self._rows) > m:
                    self._rows.popleft()
        while self._rows[0][0] < time - self.seconds - 1e-6:  # a tolerance for float times
            self._rows.popleft()
        return np.mean([r for _, r in self._rows], axis=0)

    def _choice(self, base_margin: float | None) -> int | None:
        if not self._rows:
            return None
        return named_column(np.mean([r for _, r in self._rows], axis=0), base_margin)


def contexts_of(streams) -> list[DistanceContext]:
    """A DistanceContext per row, shared by the rows of one stream (same key)."""
    shared: dict = {}
    return [shared.setdefault(key, DistanceContext()) for key in np.asarray(streams).tolist()]


def stream_contexts(streams, step: float) -> tuple[list[DistanceContext], np.ndarray]:
    """For rows of several streams, each stream's rows in time order `step` seconds apart (a
    clip's windows): (a DistanceContext per row, shared by its stream; times)."""
    streams = np.asarray(streams)
    times, count = np.zeros(len(streams)), {}
    for i, key in enumerate(streams.tolist()):
        times[i] = step * count.get(key, 0)
        count[key] = count.get(key, 0) + 1
    return contexts_of(streams), times


def _in_context(classifier, context, time: float | None) -> bool:
    """Whether to name windows in their stream's context: a stream was given and the classifier
    has taught actions (`names_in_context`); otherwise each window is named alone."""
    return (
        context is not None
        and time is not None
        and bool(getattr(classifier, "names_in_context", False))
    )


def predict_in_stream(classifier, features: np.ndarray, context, time: float | None):
    """The classifier's output for one window of a stream (one person live): a classifier with
    taught actions (`names_in_context`) averages their distances over the stream's recent
    windows (`context`: a DistanceContext per stream, reset when the stream breaks); any other
    classifier names the window alone."""
    if _in_context(classifier, context, time):
        return classifier.predict(features, context, time)
    return classifier.predict(features)


def predict_streams(classifier, features: np.ndarray, contexts, time: float | None):
    """predict_in_stream for a batch of windows of several streams at one time (people mode)."""
    if _in_context(classifier, contexts, time):
        return classifier.predict_batch(features, list(contexts), [time] * len(features))
    return classifier.predict_batch(features)
