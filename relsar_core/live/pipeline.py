"""The live pipeline, without any UI: source → pose → skeleton window → window_features →
classifier → smoothing, with each result timestamped so frame-to-label latency is measured. With
`people` > 1 each person in view is tracked and classified (relsar_core.live.people_mode).

`LivePipeline.process(frame)` is one synchronous step (the worker thread, headless mode, tests).
`PipelineRunner` runs it live: a capture thread puts the newest frame into a one-frame slot (live
sources drop, never queue); an inference thread processes it and hands each result to a callback.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from relsar_core.errors import ModelFileError
from relsar_core.live.people_mode import PeopleStep
from relsar_core.live.results import FrameResult, Prediction
from relsar_core.live.slot import FrameSlot
from relsar_core.live.sources import Frame, FrameSource
from relsar_core.live.tracking import body_box
from relsar_core.pose.base import PoseEstimator, Skeleton
from relsar_core.pose.factory import DEFAULT_POSE_BACKEND
from relsar_core.runtime.fewshot_context import DistanceContext, predict_in_stream
from relsar_core.runtime.smoothing import LabelSmoother
from relsar_core.skeleton.features import window_features
from relsar_core.skeleton.window import SkeletonWindow

# One window is little work: a second interpreter thread only adds synchronisation while pose,
# capture and drawing already keep the cores busy (measured on the shared 2-core machine:
# features + classify p50 1.4 ms with 1 thread, 7.3 ms with 2).
LIVE_CLASSIFIER_THREADS = 1
NOBODY_FRAMES = 10  # this many frames in a row without a person → "—"


def open_classifier(
    model_path: str | Path,
    num_threads: int | None = LIVE_CLASSIFIER_THREADS,
    gate: bool = True,
    flip_average: bool | None = None,
):
    """The `.tflite` classifier (its `.json` beside it) with its open-set gate (when the sidecar
    has one and `gate`: relsar_core.runtime.rejection) plus any actions taught for it; flip
    test-time averaging as the sidecar says (`flip_average` None) or forced on/off.
    Returns (classifier, warning): a broken taught-actions file is a warning, not a failure."""
    from relsar_core.runtime.fewshot import with_taught
    from relsar_core.runtime.model_file import check_model_file
    from relsar_core.runtime.rejection import with_rejection
    from relsar_core.runtime.tflite import TfliteClassifier

    model_path = Path(model_path)
    check_model_file(model_path)
    base = TfliteClassifier(model_path, num_threads=num_threads, flip_average=flip_average)
    if gate:
        base = with_rejection(base)
    try:
        return with_taught(base, model_path), None
    except ModelFileError as err:
        return base, f"taught actions ignored: {err}"


def open_pose(
    backend: str = DEFAULT_POSE_BACKEND, weights: str | Path | None = None, max_people: int = 1
) -> PoseEstimator:
    """A pose estimator by backend name (ViTPose needs its weights file). `max_people` > 1: the
    backend's several-people estimator (`estimate_people`)."""
    try:
        from relsar_core.pose.factory import create_people_estimator, create_pose_estimator
    except ImportError as err:
        raise ModelFileError(
            f"pose backend {backend!r} is not available in this install ({err})"
        ) from None
    weights = str(weights) if weights else None
    if max_people > 1:  # BlazePose's or ViTPose's several-people estimator
        return create_people_estimator(backend, weights, max_people=max_people)  # type: ignore[return-value]
    return create_pose_estimator(backend, weights)


class ClassifierLike(Protocol):
    """What the pipeline needs of a classifier (TfliteClassifier, or one with a taught head)."""

    class_names: list[str]
    window: int

    def predict(self, features: np.ndarray): ...  # -> object with logits, probabilities, embedding


class LivePipeline:
    """One step per frame. Settings may be changed from another thread between steps."""

    def __init__(
        self,
        classifier: ClassifierLike,
        pose: PoseEstimator | None = None,
        stride: int = 5,
        alpha: float = 0.5,
        threshold: float = 0.5,
        margin: float = 0.1,
        hold: int = 2,
        people: int = 1,
        fps: float = 30.0,
    ) -> None:
        """`people` > 1: people mode (relsar_core.live.people_mode), each person tracked and
        classified; `fps`: the source's rate, for how long a hidden person keeps their id."""
        self._lock = threading.RLock()
        self.pose = pose
        self.people, self.fps = max(1, int(people)), float(fps)
        self.stride = max(1, int(stride))
        self._smoothing = dict(alpha=alpha, threshold=threshold, margin=margin, hold=hold)
        self.recorder = None  # a relsar_core.data.recording.ClipRecorder while recording
        self.set_classifier(classifier)
        if pose is not None:
            pose.reset()  # a new pipeline is a new source: don't track the last one's person

    # -- settings (any thread) --
    def set_classifier(self, classifier: ClassifierLike) -> None:
        with self._lock:
            self.classifier = classifier
            # The model's window in seconds of real time, whatever rate the frames come at.
            self.window = SkeletonWindow(classifier.window)
            self._full_steps = 0  # frames since the window first covered the model's time
            self.smoother = LabelSmoother(classifier.class_names, **self._smoothing)
            self.context = DistanceContext()  # the taught head's recent windows
            self._latest: Prediction | None = None
            if self.people == 1:
                self.crowd = None
            elif getattr(self, "crowd", None) is not None:
                self.crowd.set_classifier(classifier)  # the same people, a new model
            else:
                self.crowd = PeopleStep(classifier, self.stride, self._smoothing, self.fps)

    def select_person(self, person: int | None) -> None:
        """People mode: follow this track id in `prediction`/`latest`/`skeleton`, Record, Teach."""
        with self._lock:
            if self.crowd is not None:
                self.crowd.select(person)

    def configure(self, stride: int | None = None, **smoothing) -> None:
        """Change the stride and/or smoothing (alpha, threshold, margin, hold) on the fly."""
        with self._lock:
            if stride is not None:
                self.stride = max(1, int(stride))
                if self.crowd is not None:
                    self.crowd.stride = self.stride
            if smoothing:
                self._smoothing.update(smoothing)
                self.smoother = LabelSmoother(self.classifier.class_names, **self._smoothing)
                if self.crowd is not None:
                    self.crowd.recognizer.set_smoothing(**self._smoothing)

    def swap_recorder(self, recorder=None):
        """Start (or with None, stop) recording in the worker; returns the previous recorder.
        Under the lock, so a frame is never half-added when the recorder is taken away."""
        with self._lock:
            old, self.recorder = self.recorder, recorder
            return old

    def reset(self) -> None:
        """Forget the window, smoothing, taught context and tracked person (a new source)."""
        with self._lock:
            self.window.clear()
            self._full_steps = 0
            self.smoother.reset()
            self.context.reset()  # a new source's windows are not the old one's
            self._latest = None
            if self.crowd is not None:
                self.crowd.reset()
            if self.pose is not None:
                self.pose.reset()

    # -- one step (the worker thread) --
    def process(self, frame: Frame) -> FrameResult:
        if self.crowd is not None:
            return self._process_people(frame)
        pose_ms = 0.0
        skeleton = frame.skeleton
        if skeleton is None and frame.image is not None and self.pose is not None:
            start = time.perf_counter()
            skeleton = self.pose.estimate(frame.image)
            pose_ms = (time.perf_counter() - start) * 1e3
        with self._lock:
            body15 = skeleton.to_body15() if skeleton is not None else None
            self.window.push(body15, frame.timestamp)
            if self.recorder is not None:
                self.recorder.add(skeleton, frame.image, frame.timestamp)
            prediction = None
            if self.window.full:
                self._full_steps += 1
            if self._full_steps and (self._full_steps - 1) % self.stride == 0:
                prediction = self._classify(frame, body15)
                self._latest = prediction
            return FrameResult(
                frame,
                skeleton,
                pose_ms,
                prediction,
                self._latest,
                predictions=() if prediction is None else (prediction,),
            )

    def set_source_fps(self, fps: float) -> None:
        """The source's frame rate (PipelineRunner tells it): how many frames a hidden person
        keeps their id for. A change starts the people tracking again."""
        with self._lock:
            if fps and abs(fps - self.fps) > 1e-6:
                self.fps = float(fps)
                if self.crowd is not None:
                    self.crowd.fps = self.fps
                    self.crowd.reset()

    def _people_skeletons(self, frame: Frame) -> tuple[list[Skeleton], float]:
        """Everyone's skeleton this frame (a replay's, or estimated) and the pose ms."""
        given = getattr(frame, "people", None)  # a several-people replay (live.crowd)
        if given is not None:
            return list(given), 0.0
        if frame.skeleton is not None or frame.image is None or self.pose is None:
            return ([frame.skeleton] if frame.skeleton is not None else []), 0.0
        start = time.perf_counter()
        if hasattr(self.pose, "estimate_people"):
            found = self.pose.estimate_people(frame.image)
        else:  # a one-person backend in people mode: that one person, tracked all the same
            one = self.pose.estimate(frame.image)
            found = [] if one is None else [one]
        return found, (time.perf_counter() - start) * 1e3

    def _process_people(self, frame: Frame) -> FrameResult:
        skeletons, pose_ms = self._people_skeletons(frame)
        with self._lock:
            out = self.crowd.step(frame, [s.to_body15() for s in skeletons])
            # The selected person as estimated (own layout): what Record saves, as one-person.
            skeleton = None if out.selected is None else skeletons[out.selected.index]
            if self.recorder is not None:
                self.recorder.add(skeleton, frame.image, frame.timestamp)
            if out.prediction is not None:
                self._latest = out.prediction
            return FrameResult(
                frame,
                skeleton,
                pose_ms,
                out.prediction,
                self._latest,
                people=tuple(out.people),
                predictions=tuple(out.predictions),
                selected=self.crowd.selected,
            )

    def _classify(self, frame: Frame, body15: np.ndarray | None) -> Prediction:
        names = tuple(self.classifier.class_names)
        start = time.perf_counter()
        # Fewer than half the window with a person in it, or nobody for the last third of a
        # second or so (a person who left, not a pose estimator's brief miss): nothing to classify.
        if self.window.person_fraction < 0.5 or self.window.missing_run >= NOBODY_FRAMES:
            smoothed = self.smoother.nobody()
            self.context.reset()  # whoever comes next is named afresh, as by the smoother
            done = time.perf_counter()
            return Prediction(
                frame.index, frame.capture_time, done, smoothed, None, None, None, names
            )
        features = window_features(self.window.array())
        out = predict_in_stream(self.classifier, features, self.context, frame.timestamp)
        smoothed = self.smoother.update(out.probabilities)
        done = time.perf_counter()
        box = None if body15 is None else body_box(body15)
        return Prediction(
            frame.index,
            frame.capture_time,
            done,
            smoothed,
            out.logits,
            out.probabilities,
            out.embedding,
            names,
            (done - start) * 1e3,
            person=1,  # the one person followed (whoever it is)
            box=box,
        )

    def close(self) -> None:
        if self.pose is not None:
            self.pose.close()


class PipelineRunner:
    """Capture thread + inference thread around one source and one pipeline.

    Callbacks run in the inference thread: `on_result(FrameResult)` for every processed frame,
    `on_error(exc)` when the source or a step fails (the runner then stops), `on_end()` when a
    non-looping source is exhausted. A UI forwards them to its own thread (e.g. Qt signals).
    """

    def __init__(
        self,
        source: FrameSource,
        pipeline: LivePipeline,
        on_result: Callable[[FrameResult], None],
        on_error: Callable[[BaseException], None] | None = None,
        on_end: Callable[[], None] | None = None,
        drop_frames: bool | None = None,
    ) -> None:
        self.source, self.pipeline = source, pipeline
        self.on_result, self.on_error, self.on_end = on_result, on_error, on_end
        # Live and paced sources must never fall behind; a file read flat out must not skip frames.
        drop = source.live or source.realtime if drop_frames is None else drop_frames
        self.slot = FrameSlot(drop=drop)
        pipeline.set_source_fps(source.fps)
        self._stop = threading.Event()
        self.paused = threading.Event()  # set: the capture thread holds (files and replays)
        self._times: deque[float] = deque(maxlen=240)
        self.frames_read = 0
        self.frames_processed = 0
        self._threads = [
            threading.Thread(target=self._capture_loop, name="relsar-capture", daemon=True),
            threading.Thread(target=self._inference_loop, name="relsar-inference", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both threads and close the source (safe to call twice, from any thread but the
        inference thread's callbacks, where it only signals)."""
        self._stop.set()
        self.slot.close()
        current = threading.current_thread()
        for thread in self._threads:
            if thread.is_alive() and thread is not current:
                thread.join(timeout)
        if current not in self._threads:
            self.source.close()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads) and not self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the threads to finish (a finite source); True when they have."""
        for thread in self._threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    def _capture_loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self.paused.is_set():
                    self._stop.wait(0.02)  # paced sources restart their clock after a hold
                    continue
                frame = self.source.read()
                if frame is None:
                    break
                self.frames_read += 1
                if not self.slot.put(frame):
                    break
        except BaseException as exc:  # a lost camera or unreadable file: report and stop
            self._fail(exc)
        finally:
            self.slot.close()

    def _inference_loop(self) -> None:
        try:
            while True:
                frame = self.slot.get(timeout=0.5)
                if frame is None:
                    if self.slot.closed:
                        break
                    continue
                result = self.pipeline.process(frame)
                now = time.perf_counter()
                self._times.append(now)
                self.frames_processed += 1
                recent = [t for t in self._times if now - t <= 1.0]
                fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
                result = dataclasses.replace(result, fps=fps, dropped=self.slot.dropped)
                if self._stop.is_set():
                    break
                self.on_result(result)
        except BaseException as exc:
            self._fail(exc)
            return
        if not self._stop.is_set() and self.on_end is not None:
            self.on_end()

    def _fail(self, exc: BaseException) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self.slot.close()
        if self.on_error is not None:
            self.on_error(exc)
