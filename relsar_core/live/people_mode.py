"""The live pipeline's people mode: this frame's skeletons → PersonTracker (ids) →
PeopleRecognizer (a window and smoothing per person, every full window of a classification step
in one batched call) → a Prediction per person in view, plus the selected person's, which the
panels that follow one person (bars, timeline, Record, Teach) show.

The selected person (chosen by a click, or else the largest person in view when the last
selected one's track died) stays selected while their track lives, hidden for a moment or not."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from relsar_core.live.people import PeopleRecognizer, PersonResult
from relsar_core.live.results import Prediction, no_label
from relsar_core.live.sources import Frame
from relsar_core.live.tracking import PersonTracker

# More people than this leave a laptop CPU no frames per second (the per-person cost adds up).
MAX_LIVE_PEOPLE = 8


@dataclass
class PeopleOutcome:
    people: list[PersonResult]
    predictions: list[Prediction]  # empty between classification steps
    selected: PersonResult | None
    prediction: Prediction | None  # the selected person's (or nobody's) on a classification step


def _area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


class PeopleStep:
    """One people-mode step per frame. Not thread-safe: LivePipeline holds its lock around it."""

    def __init__(self, classifier, stride: int, smoothing: dict, fps: float = 30.0) -> None:
        self.classifier = classifier
        self.stride = max(1, int(stride))
        self.fps = float(fps)
        self.recognizer = PeopleRecognizer(classifier, **smoothing)
        self.reset()

    def set_classifier(self, classifier) -> None:
        """A new model (or taught actions): everyone's window and smoothing start again; who is
        who, and who is selected, stay."""
        self.classifier = classifier
        self.recognizer = PeopleRecognizer(classifier, **self.recognizer._smoothing)

    def reset(self) -> None:
        self.tracker = PersonTracker(fps=self.fps)
        self.recognizer.reset()
        self.selected: int | None = None
        self._steps = 0

    def select(self, person: int | None) -> None:
        """Follow this track id (None, or an id that is gone: the largest person in view)."""
        self.selected = person

    def step(self, frame: Frame, skeletons: list[np.ndarray]) -> PeopleOutcome:
        """`skeletons`: this frame's body15 keypoints, (15, 3) each, in no particular order."""
        tracked = self.tracker.update(skeletons)
        live = self.tracker.live_ids
        classify = self._steps % self.stride == 0
        self._steps += 1
        start = time.perf_counter()
        people = self.recognizer.update(tracked, frame.timestamp, live, classify)
        done = time.perf_counter()
        if self.selected not in live:
            self.selected = self._largest(people)
        chosen = next((p for p in people if p.person == self.selected), None)
        if not classify:
            return PeopleOutcome(people, [], chosen, None)
        names = tuple(self.classifier.class_names)
        per_person = (done - start) * 1e3 / max(1, sum(p.classified for p in people))
        predictions = [
            Prediction(
                frame.index,
                frame.capture_time,
                done,
                p.label if p.classified else no_label(len(names)),
                p.logits,
                p.probabilities,
                p.embedding,
                names,
                per_person if p.classified else 0.0,
                p.person,
                p.box,
                p.reason,
            )
            for p in people
        ]
        if not predictions:  # nobody in view: one "nobody" line, as in one-person mode
            empty = no_label(len(names))
            predictions = [
                Prediction(frame.index, frame.capture_time, done, empty, None, None, None, names)
            ]
        mine = next((p for p in predictions if p.person == self.selected), None)
        if not people:
            mine = predictions[0]
        return PeopleOutcome(people, predictions, chosen, mine)

    @staticmethod
    def _largest(people: list[PersonResult]) -> int | None:
        return max(people, key=lambda p: _area(p.box)).person if people else None
