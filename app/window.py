"""The main window: video with skeleton overlay, the current action, probability bars, a
timeline, FPS and latency; a side panel (app/panels) for source, model, pose, recognition
settings, recording and teaching. Anything slow (opening a source or camera, loading a model
or pose model, teaching) runs in a worker (app/worker.py) with progress and Cancel; this
thread only draws. All real work happens in relsar_core."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QMainWindow,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app import keys, menus, playback, session, teaching, texts
from app.banner import MessageBanner
from app.bridge import PipelineBridge
from app.busy import BusyStrip
from app.panels.model import ModelPanel
from app.panels.record_teach import RecordTeachPanel
from app.panels.results import ResultsPanel
from app.panels.source import SourcePanel
from app.results_log import ResultsLog
from app.settings import AppSettings
from app.theme import follow_system_theme
from app.video_view import VideoView
from app.worker import Task, run_task, wait_all
from relsar_core.data.recording import ClipRecorder
from relsar_core.live.pipeline import LivePipeline
from relsar_core.live.sources import FrameSource
from relsar_core.runtime import fewshot

SIDE_WIDTH = 340  # the side panel's width: fixed, so no text can widen the window


class MainWindow(QMainWindow):
    def __init__(
        self,
        store: QSettings,
        source: str | None = None,
        overrides: dict | None = None,
        autostart: bool = True,
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = AppSettings.load(store)
        for key, value in (overrides or {}).items():
            if value is not None:
                setattr(self.settings, key, value)
        self.classifier = None
        self.base_classifier = None
        self.teach_review = None  # the open TeachReview dialog, if any
        self.pipeline: LivePipeline | None = None
        self.source: FrameSource | None = None
        self.source_spec = source or ""
        self.poses = session.PoseCache()
        self._recorder: ClipRecorder | None = None
        self._last_prediction_frame = -1
        self.first_frame_time: float | None = None
        self.state = "stopped"  # running, paused or stopped
        self.open_paused = self.pause_at_first_frame = False  # Space early on (app/playback.py)
        self.sources_started = 0
        self.tasks: dict[str, Task] = {}  # the running slow work, by kind
        self.log = ResultsLog()
        self.bridge = PipelineBridge(self, self.log)
        self.bridge.result_ready.connect(self._on_result)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.ended.connect(self._on_ended)

        self.setWindowTitle("ReL-SAR Live")
        self._build_ui()
        menus.build_menus(self)
        follow_system_theme(QApplication.instance())
        self.resize(1280, 720)
        geometry = store.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        session.fit_to_screen(self)
        # The timeline scrolls with time while running; stopped, it stands still (frozen).
        self._tick = QTimer(self, interval=250, timeout=self._on_tick)
        self._tick.start()
        QApplication.instance().installEventFilter(self)
        self.video.setFocus()  # not the first text field: Space and R work from the start

        self.load_model(
            self.settings.model, lambda: self._first_start(source, autostart), fallback=True
        )

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        s = self.settings
        self.banner = MessageBanner()
        self.busy = BusyStrip()
        self.results = ResultsPanel(self.font())
        self.video = VideoView()
        self.source_panel = SourcePanel(s.camera_size, s.loop)
        self.model_panel = ModelPanel(s)
        self.record_panel = RecordTeachPanel(s.record_video)
        left = QVBoxLayout()
        for widget in (self.banner, self.busy, self.results.headline):
            left.addWidget(widget)
        left.addWidget(self.video, 1)
        left.addWidget(self.results.timeline)

        panel = QWidget()
        side = QVBoxLayout(panel)
        for box in (
            self.results.actions_box,
            self.record_panel.box,  # above the fold at 1280×720 (Source is also in File, Ctrl+L)
            self.source_panel.box,
            self.model_panel.box,
            self.model_panel.recognition_box,
        ):
            side.addWidget(box)
        side.addStretch(1)
        self.side_scroll = QScrollArea()
        self.side_scroll.setWidget(panel)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Fixed: wide enough for the panels' buttons and fields (labels elide), never for text.
        bar = self.side_scroll.verticalScrollBar().sizeHint().width()
        self.side_scroll.setFixedWidth(max(SIDE_WIDTH, panel.minimumSizeHint().width() + bar + 6))
        central = QWidget()
        row = QHBoxLayout(central)
        row.addLayout(left, 1)
        row.addWidget(self.side_scroll)
        self.setCentralWidget(central)
        self._wire()
        self.record_panel.show_root(s.data_root)
        self.statusBar().showMessage("Ready")

    def _wire(self) -> None:
        sp, mp, rp = self.source_panel, self.model_panel, self.record_panel
        sp.open_requested.connect(self.open_source)
        sp.toggle_requested.connect(self.toggle_running)
        sp.file_requested.connect(lambda: menus.choose_video(self))
        sp.rescan_requested.connect(self.rescan_cameras)
        sp.size_chosen.connect(self._camera_size_chosen)
        sp.loop_toggled.connect(lambda on: self._set("loop", on))
        sp.seek_requested.connect(self.seek)
        mp.model_requested.connect(lambda: menus.choose_model(self))
        mp.weights_requested.connect(lambda: menus.choose_weights(self))
        mp.pose_changed.connect(self._pose_changed)
        mp.recognition_changed.connect(self._recognition_changed)
        mp.people_changed.connect(self._people_changed)
        rp.record_requested.connect(self.toggle_recording)
        rp.teach_requested.connect(self.teach)
        rp.forget_requested.connect(self.forget_action)
        rp.root_requested.connect(lambda: menus.choose_root(self))
        rp.delete_requested.connect(self.delete_take)
        rp.name_changed.connect(lambda _: self._update_examples())
        rp.video_toggled.connect(lambda on: self._set("record_video", on))
        self.video.person_clicked.connect(
            lambda i: self.pipeline and self.pipeline.select_person(i)
        )

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        return keys.handle_key(self, obj, event)

    # ------------------------------------------------------------------ helpers
    def _set(self, key: str, value) -> None:
        setattr(self.settings, key, value)
        self.settings.save(self.store)

    def show_message(self, text: str, level: str = "info", append: bool = False) -> None:
        self.banner.show_message(text, level, append)
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    def _run(self, kind: str, label: str, work, done, failed=None, discard=None) -> Task:
        """Start slow work of one kind (a new one replaces the old), shown in the busy strip."""
        old = self.tasks.pop(kind, None)
        if old is not None:
            old.cancel()
        task = run_task(
            label, work, done, failed or (lambda m: self.show_message(m, "error")), discard
        )
        task.finished.connect(
            lambda: self.tasks.pop(kind, None) if self.tasks.get(kind) is task else None
        )
        self.tasks[kind] = task
        self.busy.add(task)
        return task

    # ------------------------------------------------------------------ model and pose
    def load_model(self, path: str | Path, then=None, fallback: bool = False) -> Task:
        """Open a classifier in a worker; on success switch to it live. With `fallback` (the
        saved model at start) a model that is gone is replaced by the shipped one, with a note."""
        return session.load_model(self, Path(path), then, fallback)

    def use_classifier(self, classifier, path: Path) -> None:
        self.classifier = classifier
        self.base_classifier = getattr(classifier, "base", classifier)
        self._set("model", str(path))
        self._classes_changed()

    def _classes_changed(self) -> None:
        self.results.set_classes(self.classifier.class_names)
        if self.pipeline is not None:
            self.pipeline.set_classifier(self.classifier)
        taught = fewshot.taught_classes(self.classifier)
        self.model_panel.show_model(
            Path(self.settings.model).name, len(self.classifier.class_names), taught
        )
        self.record_panel.show_taught(taught)
        self._update_examples()

    def _pose_changed(self, backend: str, weights: str) -> None:
        self.settings.pose_backend, self.settings.pose_weights = backend, weights
        self.settings.save(self.store)
        if (
            self.source is not None
            and not self.source.provides_skeletons
            and self.state != "stopped"
        ):
            self.start()  # the new estimator applies to the running camera or video

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        return self.bridge.running and self.state == "running"

    def _first_start(self, source: str | None, autostart: bool) -> None:
        session.first_start(self, source, autostart)

    def rescan_cameras(self, then=None) -> Task:
        return session.rescan_cameras(self, then)

    def open_source(self, spec: str) -> None:
        """Switch to a source (camera:N, demo, a path or URL) and start it."""
        self.source_spec = spec.strip()
        self.source_panel.source_edit.setText(self.source_spec)
        self.start()

    def start(self) -> Task | None:
        """Open the source (and the pose model it needs) in a worker, then run it."""
        return session.start(self)

    def source_opened(self, source: FrameSource, pose) -> None:
        self.source = source
        self.pipeline = session.new_pipeline(self, pose)
        self._last_prediction_frame = -1
        self.nobody_explained, self.small_people_since = False, None
        self.results.start()  # the results log keeps the last sources' rows: each names its own
        self.video.clear("Starting…")
        if self.banner.level == "error" or session.showing_small_people_note(self):
            self.banner.hide()  # about the last source: an error, or people too small in it
        self.bridge.start(source, self.pipeline, self.source_spec)
        self._set_state("running")
        self._set("source", self.source_spec)
        menus.remember_recent(self, self.source_spec)
        self.settings.save(self.store)
        self.model_panel.pose_note.setText(session.pose_name(pose))
        self.statusBar().showMessage(f"Playing {source.name}")
        if source.name.startswith("demo (synthetic"):
            self.show_message(
                "The demo plays synthetic toy motions: no demo clips are installed.", "info", True
            )
        playback.opened(self)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.source_panel.set_running(state)
        if state != "running":
            self.results.show_stopped(state)

    def stop(self) -> None:
        if self._recorder is not None:
            self.toggle_recording()
        opening = self.tasks.pop("source", None)
        if opening is not None:
            opening.cancel()
        self.bridge.stop()
        if self.state != "stopped":
            self._set_state("stopped")

    def stop_by_user(self) -> None:
        self.stop()
        self.statusBar().showMessage("Stopped")

    def toggle_running(self) -> None:
        """Space: pause or resume a file or replay; stop or start a live source (while a source
        opens: app/playback.py)."""
        playback.toggle(self)

    def seek(self, frame: int) -> None:
        if self.source is not None:
            self.source.seek(frame)

    def _on_tick(self) -> None:
        if self.state == "running":
            self.results.timeline.update()
        src = self.source
        live = src is None or src.live or self.state == "stopped"
        self.source_panel.set_position(
            None if live else src.position, None if live else src.num_frames
        )

    def _on_result(self) -> None:
        result = self.bridge.take()
        if result is not None and self.state == "paused" and self.pause_at_first_frame:
            playback.show_first_frame(self, result)
            return
        if result is None or self.state != "running":
            return  # paused or stopped: a frame still in flight must not look live
        if self.first_frame_time is None:
            self.first_frame_time = time.perf_counter()
        self.video.show_result(result, self.pipeline.people > 1)
        self.results.show_person(result.selected, result.people)
        pred = result.latest
        if pred is not None and pred.class_names == tuple(self.results.bars.class_names):
            person = result.skeleton is not None
            self.results.show_prediction(pred, texts.confidence_text(pred, self.pipeline, person))
            session.explain_nobody(self, pred)
            if pred.frame_index != self._last_prediction_frame:
                self._last_prediction_frame = pred.frame_index
                self.results.timeline.add(pred.smoothed.label)
        self.results.show_stats(texts.stats_text(result, self.bridge.latency_p50_p95()))
        if self._recorder is not None:
            self.results.recording_label.setText(texts.recording_text(self._recorder))

    def _on_failed(self, text: str) -> None:
        self.bridge.stop()
        self._set_state("stopped")
        self.video.clear(f"Stopped: {text}")
        self.show_message(f"{text}. Choose another source.", "error")

    def _on_ended(self) -> None:
        self.stop()
        self.statusBar().showMessage(f"End of {self.source.name if self.source else 'source'}")

    def _recognition_changed(self, stride: int, alpha: float, threshold: float) -> None:
        for key, value in (("stride", stride), ("alpha", alpha), ("threshold", threshold)):
            setattr(self.settings, key, value)
        self.settings.save(self.store)
        if self.pipeline is not None:
            self.pipeline.configure(stride=stride, alpha=alpha, threshold=threshold)

    def _people_changed(self, people: int) -> None:
        self._set("people", people)
        if self.state != "stopped" and self.source is not None:
            self.start()  # a new pipeline (and pose model, in a worker) for the same source

    def _camera_size_chosen(self, value: str) -> None:
        self._set("camera_size", value)
        if self.state != "stopped" and self.source is not None and self.source.live:
            self.start()  # a camera opens at the new size

    def export_results(self, path: str | Path) -> Path | None:
        return session.export_results(self, Path(path))

    # ------------------------------------------------------------------ record and teach
    def set_data_root(self, path: str) -> None:
        self._set("data_root", path)
        self.record_panel.show_root(path)
        self._update_examples()

    def _update_examples(self) -> None:
        window = self.classifier.window if self.classifier is not None else None
        self.record_panel.show_takes(self.settings.data_root, window)

    def toggle_recording(self) -> Path | None:
        """Start recording, or stop and save; returns the saved clip's path when stopping."""
        return session.toggle_recording(self)

    def delete_take(self, path: Path) -> None:
        """Delete a bad take, after asking."""
        teaching.delete_take(self, path)

    def teach(self, action: str | None = None) -> Task | None:
        """Teach the named action from its recorded examples in a worker, then show each taught
        action's leave-one-clip-out score and switch only if the user accepts (teach_review)."""
        return teaching.teach(self, action)

    def forget_action(self, action: str) -> Task | None:
        """Forget one taught action, after asking; the refit runs in a worker."""
        return teaching.forget(self, action)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        QApplication.instance().removeEventFilter(self)
        for task in list(self.tasks.values()):
            task.cancel()
        self.stop()
        self.bridge.wait_stopped(5.0)
        wait_all(100)
        self.poses.close()
        self.store.setValue("window/geometry", self.saveGeometry())
        self.settings.save(self.store)
        super().closeEvent(event)
