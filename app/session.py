"""The window's slow work, each run in a worker (app/worker.py): opening a source and its pose
model, loading a classifier, scanning cameras; recording; plus the small jobs around them.
Teaching, forgetting and deleting takes: app/teaching.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication

from app import playback, texts
from relsar_core.assets import DEFAULT_MODEL
from relsar_core.data.recording import ClipRecorder, check_action_name
from relsar_core.errors import RelsarError
from relsar_core.live.crowd import open_any_source, people_of
from relsar_core.live.pipeline import LivePipeline, open_classifier, open_pose
from relsar_core.live.sources import list_cameras, open_source

NO_DEFAULT_MODEL = (
    "No default model is shipped in this install ({path} is missing). Choose a model with "
    "File ▸ Open model… (a .tflite with its .json beside it)."
)
GONE_MODEL = "The model used last time, {path}, is gone: using the shipped model instead."
GONE_SOURCE = "The video used last time, {path}, is gone: playing the demo instead."
# Banner texts that say no (usable) model is loaded: a model that loads makes them wrong.
MODEL_PROBLEMS = ("Model not loaded", "No default model", "No model loaded", "Load a model before")


class PoseCache:
    """Pose estimators by (backend, weights), created in workers, reused across sources."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, int], object] = {}

    def get(self, backend: str, weights: str, people: int = 1):
        # The weights file is ViTPose's; a path left in the field must not reach BlazePose.
        weights = weights if backend in ("vitpose", "auto") else ""
        key = (backend, weights, max(1, people))  # several people: BlazePose's other estimator
        with self._lock:
            if key not in self._cache:
                self._cache[key] = open_pose(backend, weights or None, key[2])
            return self._cache[key]

    def close(self) -> None:
        with self._lock:
            for estimator in self._cache.values():
                estimator.close()
            self._cache.clear()


def pose_name(pose) -> str:
    """The backend in use, e.g. what "auto" picked."""
    if pose is None:
        return "(replay: no pose)"
    name = type(pose).__name__.removesuffix("Estimator").lower()
    return f"using {name}"


def fit_to_screen(window) -> None:
    """Never larger than the screen's free area (a geometry saved on a bigger screen)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    free = screen.availableGeometry()
    width, height = min(window.width(), free.width()), min(window.height(), free.height())
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)


# ------------------------------------------------------------------ model
def load_model(window, path: Path, then=None, fallback: bool = False):
    saved = path

    def work(task):
        target = saved
        note = None
        if (
            fallback
            and not target.is_file()
            and target != DEFAULT_MODEL
            and DEFAULT_MODEL.is_file()
        ):
            target, note = DEFAULT_MODEL, GONE_MODEL.format(path=saved)
        task.report(f"Loading model {target.name}…")
        classifier, warning = open_classifier(target)
        return classifier, target, note, warning

    def done(result) -> None:
        classifier, target, note, warning = result
        window.use_classifier(classifier, target)
        loaded = f"Loaded {target.name} — {len(classifier.class_names)} actions"
        if window.banner.text.startswith(MODEL_PROBLEMS):
            window.show_message(loaded, "info")  # in the place of the problem it solves
        else:
            window.statusBar().showMessage(loaded, 10000)
        for text in (note, warning):
            if text:
                window.show_message(text, "warning", append=True)
        if then is not None:
            then()

    def failed(message: str) -> None:
        if saved == DEFAULT_MODEL and not saved.exists():
            window.show_message(NO_DEFAULT_MODEL.format(path=saved), "warning")
        else:
            window.show_message(f"Model not loaded: {message}", "error")
        if window.classifier is None:
            window.model_panel.show_model(None)
        if then is not None:
            then()

    return window._run("model", f"Loading model {saved.name}…", work, done, failed)


# ------------------------------------------------------------------ cameras and the first source
def rescan_cameras(window, then=None):
    def done(cameras: list[int]) -> None:
        window.source_panel.set_cameras(cameras)
        if then is not None:
            then(cameras)

    return window._run("cameras", "Looking for cameras…", lambda task: list_cameras(), done)


def first_start(window, source: str | None, autostart: bool) -> None:
    """The source given, else the saved one (a gone video falls back to the demo), else the
    first camera, else the demo; started once the cameras are known."""

    def decide(cameras: list[int]) -> None:
        spec = source or window.settings.source
        wants_camera = spec == "" or spec.startswith(("camera", "webcam"))
        if wants_camera and not cameras and not source:
            window.show_message(
                "No camera found on this machine — playing the demo source. "
                "Open a video with File ▸ Open video, or plug in a camera.",
                "warning",
                append=True,
            )
            spec = "demo"
        elif spec == "":
            spec = f"camera:{cameras[0]}"
        elif not source and _gone_file(spec):
            window.show_message(GONE_SOURCE.format(path=spec), "warning", append=True)
            spec = "demo"
        window.source_spec = spec
        window.source_panel.source_edit.setText(spec)
        if autostart and window.classifier is not None:
            window.start()

    rescan_cameras(window, decide)


def _gone_file(spec: str) -> bool:
    if spec == "demo" or "://" in spec.removeprefix("file://") or spec.startswith("camera"):
        return False
    return not Path(spec.removeprefix("file://")).expanduser().exists()


# ------------------------------------------------------------------ start a source
def start(window):
    window.stop()
    if window.classifier is None:
        window.show_message("No model loaded: choose one with File ▸ Open model…", "warning")
        return None
    spec, settings = window.source_spec, window.settings
    width, _, height = settings.camera_size.partition("x")
    size = (int(width), int(height)) if width.isdigit() and height.isdigit() else (None, None)
    backend, weights = settings.pose_backend, settings.pose_weights
    window.video.clear(f"Opening {spec}…")
    playback.clear_last_source(window)
    window.open_paused = window.pause_at_first_frame = False
    window.source_panel.set_running("running")  # the button does what Space does: pause
    bridge = window.bridge

    def work(task):
        bridge.wait_stopped(10.0)  # the last source's threads let go of the pose model first
        task.report(f"Opening {spec}…")
        opener = open_any_source if "+" in spec else open_source  # a.npz+b.npz: people
        source = opener(spec, loop=settings.loop, realtime=True, width=size[0], height=size[1])
        if task.cancelled or source.provides_skeletons:
            return source, None
        task.report(f"Loading the {backend} pose model…")
        try:
            return source, window.poses.get(backend, weights, settings.people)
        except RelsarError as err:
            source.close()
            raise RelsarError(texts.pose_problem(str(err))) from None
        except BaseException:
            source.close()
            raise

    def failed(message: str) -> None:
        window.video.clear(f"Not playing: {message}")
        playback.not_playing(window)
        if message.startswith("Pose model"):
            window.show_message(message, "error")
        else:
            window.show_message(f"{message}. Choose another source.", "error")

    task = window._run(
        "source",
        f"Opening {spec}…",
        work,
        lambda result: window.source_opened(*result),
        failed,
        discard=lambda result: result[0].close(),
    )
    # After the cancel's own handlers (a new open replacing it has its task in place by then).
    task.finished.connect(
        lambda: (
            task.cancelled
            and QTimer.singleShot(0, window, lambda: playback.open_cancelled(window, spec))
        )
    )
    return task


def new_pipeline(window, pose) -> LivePipeline:
    """The pipeline for a source just opened, with the panel's settings; people mode when the
    settings say so (`--people N`)."""
    panel = window.model_panel
    return LivePipeline(
        window.classifier,
        pose,
        panel.stride_spin.value(),
        alpha=panel.alpha_spin.value(),
        threshold=panel.threshold_spin.value(),
        people=people_of(window.source, window.settings.people),
        fps=window.source.fps,
    )


# ------------------------------------------------------------------ record (teach: app/teaching.py)
def toggle_recording(window) -> Path | None:
    if window._recorder is not None:
        recorder, window._recorder = window._recorder, None
        if window.pipeline is not None:
            window.pipeline.swap_recorder(None)
        window.record_panel.set_recording(False)
        window.results.recording_label.setText("")
        try:
            path = recorder.stop()
        except (RelsarError, OSError) as err:
            window.show_message(f"Recording not saved: {err}", "error")
            return None
        window.statusBar().showMessage(f"Saved {path} ({recorder.num_frames} frames)", 10000)
        window._update_examples()
        return path
    window.record_panel.set_recording(False)
    if window.state != "running" or window.pipeline is None or window.source is None:
        opening = "source" in window.tasks
        window.show_message(texts.not_recording_text(window.state, opening), "warning")
        return None
    try:
        action = check_action_name(window.record_panel.action_edit.text())
    except RelsarError:
        window.show_message(texts.name_problem(window.record_panel.action_edit.text()), "warning")
        window.record_panel.action_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)  # type it
        return None
    if window.banner.text.startswith("Recording not saved"):
        window.banner.hide()  # a new take: the last one's refusal is old news
    window._recorder = new_recorder(window, action)
    window.pipeline.swap_recorder(window._recorder)
    window.record_panel.set_recording(True)
    window.results.recording_label.setText(texts.recording_text(window._recorder))
    return None


def new_recorder(window, action: str) -> ClipRecorder:
    source, pipeline = window.source, window.pipeline
    layout = (
        source.current_clip.layout
        if source.provides_skeletons
        else getattr(pipeline.pose, "layout", "body15")
    )
    return ClipRecorder(
        window.settings.data_root,
        action,
        layout,
        source.fps,
        source.image_size,
        window.record_panel.video_check.isChecked(),
        min_frames=window.classifier.window,
    )


def export_results(window, path: Path) -> Path | None:
    """Every prediction so far as CSV or JSON lines (by the suffix); says where and how many."""
    try:
        rows = window.log.export(path)
    except (OSError, RelsarError) as err:
        window.show_message(f"Results not exported: {err}", "error")
        return None
    window.show_message(f"Exported {rows} row{'s' * (rows != 1)} to {path}", "info")
    return path


SMALL_PEOPLE_BANNER_S = 3.0  # "too small" this long without anyone found: explain it once


def showing_small_people_note(window) -> bool:
    """Whether the banner says the people are too small (a note about the current source)."""
    return window.banner.text.startswith(texts.SMALL_PEOPLE_NOTE)


def explain_nobody(window, pred) -> None:
    """Once per source: when the pose backend has found people only too small for a few
    seconds, say so in the banner (a brief miss on a video it mostly follows says nothing);
    hide it once someone is classified ("nobody recognised" is then no longer true)."""
    if pred.probabilities is not None:  # an action was classified: someone is followed
        window.small_people_since = None
        if showing_small_people_note(window):
            window.banner.hide()
        return
    if window.nobody_explained:
        return
    if texts.nobody_text(getattr(window.pipeline, "pose", None)) != texts.NOBODY_HINTS["small"]:
        return  # a frame with someone found, or really nobody: the clock keeps its start
    now = time.monotonic()
    since = getattr(window, "small_people_since", None) or now
    window.small_people_since = since
    if now - since >= SMALL_PEOPLE_BANNER_S:
        window.nobody_explained = True
        window.show_message(texts.SMALL_PEOPLE_NOTE, "info")
