"""Per-person recognition: one timestamped SkeletonWindow and one LabelSmoother per tracked
person (ids from relsar_core.live.tracking), and every full window of a frame classified in one
batched TFLite call. People too small or with too few visible joints are reported with the
reason instead of a label; a person's state goes when their track dies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relsar_core.live.tracking import MIN_JOINT_CONFIDENCE, TrackedPerson
from relsar_core.runtime.fewshot_context import DistanceContext, predict_streams
from relsar_core.runtime.smoothing import LabelSmoother, SmoothedLabel
from relsar_core.skeleton.features import window_features
from relsar_core.skeleton.window import SkeletonWindow

MIN_HEIGHT_PX = 48  # a person shorter than this on screen: too small to name an action
MIN_JOINTS = 6  # of body15's 15 joints visible this frame
TOO_SMALL, TOO_FEW_JOINTS, FILLING = "too small", "too few joints", "window filling"


@dataclass
class PersonResult:
    person: int
    box: tuple[float, float, float, float]
    label: SmoothedLabel | None  # the person's current smoothed label, None until classified
    reason: str | None  # why this person cannot be classified now (None: they can)
    keypoints: np.ndarray | None = None  # (15, 3) body15 this frame, for drawing
    colour: int = 0  # index into a palette of PALETTE_SIZE colours, fixed for the track
    # This frame's raw classifier output, when this person was classified this frame.
    logits: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    embedding: np.ndarray | None = None
    index: int = 0  # which of this frame's skeletons (as given to the tracker) is this person

    @property
    def classified(self) -> bool:
        return self.probabilities is not None


PALETTE_SIZE = 8


def colour_index(person: int) -> int:
    """A person's colour, the same for the whole life of their track (ids start at 1)."""
    return (person - 1) % PALETTE_SIZE


class _State:
    def __init__(self, window: int, class_names: list[str], smoothing: dict) -> None:
        self.window = SkeletonWindow(window)
        self.smoother = LabelSmoother(class_names, **smoothing)
        self.context = DistanceContext()  # the taught head's recent windows of this person
        self.label: SmoothedLabel | None = None


class PeopleRecognizer:
    """`update(people, timestamp, live_ids)` once per frame -> a PersonResult per person seen.
    `classify=False` only pushes the windows (frames between two classification steps)."""

    def __init__(self, classifier, min_height_px: float = MIN_HEIGHT_PX, **smoothing) -> None:
        self.classifier = classifier
        self.min_height_px = min_height_px
        self._smoothing = smoothing
        self._states: dict[int, _State] = {}
        self.batch_calls = 0

    def update(
        self,
        people: list[TrackedPerson],
        timestamp: float,
        live_ids: set[int],
        classify: bool = True,
    ) -> list[PersonResult]:
        for gone in set(self._states) - live_ids - {p.person for p in people}:
            del self._states[gone]  # bounded: only live tracks keep a window
        results, ready = [], []
        for p in people:
            state = self._states.get(p.person)
            if state is None:
                state = _State(self.classifier.window, self.classifier.class_names, self._smoothing)
                self._states[p.person] = state
            state.window.push(p.keypoints, timestamp)
            reason = self._reason(p, state)
            results.append(
                PersonResult(
                    p.person,
                    p.box,
                    state.label,
                    reason,
                    p.keypoints,
                    colour_index(p.person),
                    index=p.index,
                )
            )
            if reason is None and classify:
                ready.append((len(results) - 1, state))
        if ready:
            features = np.stack([window_features(s.window.array()) for _, s in ready])
            contexts = [s.context for _, s in ready]
            out = predict_streams(self.classifier, features, contexts, timestamp)
            self.batch_calls += 1
            for row, (i, state) in enumerate(ready):
                state.label = state.smoother.update(out.probabilities[row])
                r = results[i]
                r.label, r.logits = state.label, out.logits[row]
                r.probabilities, r.embedding = out.probabilities[row], out.embedding[row]
        return results

    def _reason(self, person: TrackedPerson, state: _State) -> str | None:
        kp = person.keypoints
        if int((kp[:, 2] >= MIN_JOINT_CONFIDENCE).sum()) < MIN_JOINTS:
            return TOO_FEW_JOINTS
        if person.box[3] - person.box[1] < self.min_height_px:
            return TOO_SMALL
        if not state.window.full:
            return FILLING
        return None

    def set_smoothing(self, **smoothing) -> None:
        """New smoothing settings: every person's smoothing starts again with them."""
        self._smoothing = smoothing
        for state in self._states.values():
            state.smoother = LabelSmoother(self.classifier.class_names, **smoothing)

    def reset(self) -> None:
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)
