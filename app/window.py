"""The main window: video with skeleton overlay, the current action, probability bars, a
timeline, FPS and latency; a side panel for source, model, pose, recognition settings, recording
and teaching. All work happens in relsar_core; this file only wires widgets to it and draws."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.banner import MessageBanner
from app.bridge import PipelineBridge
from app.charts import ProbabilityBars, TimelineStrip, class_colour
from app.settings import AppSettings
from app.video_view import VideoView
from relsar_core.data.recording import ClipRecorder, check_action_name
from relsar_core.errors import RelsarError
from relsar_core.files import visible
from relsar_core.live.pipeline import (
    DEFAULT_MODEL,
    POSE_BACKENDS,
    LivePipeline,
    open_classifier,
    open_pose,
)
from relsar_core.live.smoothing import NO_ACTION
from relsar_core.live.sources import FrameSource, list_cameras, open_source
from relsar_core.runtime import fewshot

NO_DEFAULT_MODEL = (
    "No default model is shipped in this install ({path} is missing). Choose a model with "
    "File ▸ Open model… (a .tflite with its .json beside it)."
)
CAMERA_SIZES = (
    ("Camera default", ""),
    ("640 × 480", "640x480"),
    ("1280 × 720", "1280x720"),
    ("1920 × 1080", "1920x1080"),
)
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv);;All files (*)"


def _group(title: str, *rows) -> QGroupBox:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setContentsMargins(8, 6, 8, 6)
    for row in rows:
        if isinstance(row, tuple):
            form.addRow(*row)
        else:
            form.addRow(row)
    return box


def _hbox(*widgets, stretch_first: bool = True) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if (i == 0 and stretch_first) else 0)
    return w


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
        self.pipeline: LivePipeline | None = None
        self.source: FrameSource | None = None
        self.source_spec = ""
        self._pose_cache: dict[tuple[str, str], object] = {}
        self._recorder: ClipRecorder | None = None
        self._last_prediction_frame = -1
        self.first_frame_time: float | None = None
        self.bridge = PipelineBridge(self)
        self.bridge.result_ready.connect(self._on_result)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.ended.connect(self._on_ended)

        self.setWindowTitle("ReL-SAR Live")
        self._build_ui()
        self._build_menus()
        self.resize(1280, 720)
        geometry = store.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        # The timeline scrolls with time even when no new prediction arrives.
        self._tick = QTimer(self, interval=250, timeout=self.timeline.update)
        self._tick.start()

        self.load_model(self.settings.model, quiet_default=False)
        self.source_spec = source or self._initial_source()
        self.source_edit.setText(self.source_spec)
        if autostart and self.classifier is not None:
            QTimer.singleShot(0, self.start)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.banner = MessageBanner()
        self.action_label = QLabel(NO_ACTION)
        big = QFont(self.font())
        big.setPointSize(34)
        big.setBold(True)
        self.action_label.setFont(big)
        self.confidence_label = QLabel("")
        mid = QFont(self.font())
        mid.setPointSize(18)
        self.confidence_label.setFont(mid)
        self.stats_label = QLabel("FPS – · latency –")
        self.stats_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.recording_label = QLabel("")
        self.recording_label.setStyleSheet("color:#ff5555; font-weight:bold;")
        header = QHBoxLayout()
        header.addWidget(self.action_label)
        header.addWidget(self.confidence_label, 0, Qt.AlignmentFlag.AlignBottom)
        header.addStretch(1)
        header.addWidget(self.recording_label)
        header.addWidget(self.stats_label)

        self.video = VideoView()
        self.timeline = TimelineStrip()
        left = QVBoxLayout()
        left.addWidget(self.banner)
        left.addLayout(header)
        left.addWidget(self.video, 1)
        left.addWidget(self.timeline)

        # Side panel
        self.bars = ProbabilityBars()
        probs_box = QGroupBox("Actions")
        QVBoxLayout(probs_box).addWidget(self.bars)

        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("camera:0, demo, a video, a URL or a .npz clip")
        self.source_edit.returnPressed.connect(lambda: self.open_source(self.source_edit.text()))
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.toggle_running)
        demo_button = QPushButton("Demo")
        demo_button.clicked.connect(lambda: self.open_source("demo"))
        file_button = QPushButton("File…")
        file_button.clicked.connect(self._choose_video)
        self.camera_combo = QComboBox()
        self._fill_cameras()
        self.camera_combo.activated.connect(self._camera_chosen)
        self.size_combo = QComboBox()
        for text, value in CAMERA_SIZES:
            self.size_combo.addItem(text, value)
        index = self.size_combo.findData(self.settings.camera_size)
        self.size_combo.setCurrentIndex(max(index, 0))
        self.size_combo.setToolTip("Resolution asked of the webcam")
        self.size_combo.activated.connect(self._camera_size_chosen)
        self.loop_check = QCheckBox("Loop files and replays")
        self.loop_check.setChecked(self.settings.loop)
        self.loop_check.toggled.connect(lambda on: self._set("loop", on))
        source_box = _group(
            "Source",
            _hbox(self.source_edit, self.start_button),
            _hbox(self.camera_combo, demo_button, file_button),
            ("Camera size", self.size_combo),
            self.loop_check,
        )

        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        model_button = QPushButton("Open model…")
        model_button.clicked.connect(self._choose_model)
        self.pose_combo = QComboBox()
        self.pose_combo.addItems(list(POSE_BACKENDS))
        self.pose_combo.setCurrentText(self.settings.pose_backend)
        self.pose_combo.currentTextChanged.connect(self._pose_changed)
        self.weights_edit = QLineEdit(self.settings.pose_weights)
        self.weights_edit.setPlaceholderText("ViTPose .pth (optional)")
        self.weights_edit.editingFinished.connect(
            lambda: self._pose_changed(self.pose_combo.currentText())
        )
        weights_button = QPushButton("…")
        weights_button.clicked.connect(self._choose_weights)
        model_box = _group(
            "Model and pose",
            self.model_label,
            model_button,
            ("Pose", self.pose_combo),
            ("Weights", _hbox(self.weights_edit, weights_button)),
        )

        self.stride_spin = QSpinBox(minimum=1, maximum=60, value=self.settings.stride)
        self.stride_spin.setToolTip("Classify every N frames")
        self.alpha_spin = QDoubleSpinBox(
            minimum=0.05, maximum=1.0, singleStep=0.05, value=self.settings.alpha
        )
        self.alpha_spin.setToolTip(
            "Weight of the newest window in the running average (1 = no smoothing)"
        )
        self.threshold_spin = QDoubleSpinBox(
            minimum=0.0, maximum=1.0, singleStep=0.05, value=self.settings.threshold
        )
        self.threshold_spin.setToolTip(f"Below this confidence the action shows as {NO_ACTION}")
        for spin in (self.stride_spin, self.alpha_spin, self.threshold_spin):
            spin.valueChanged.connect(self._recognition_changed)
        recog_box = _group(
            "Recognition",
            ("Stride (frames)", self.stride_spin),
            ("Smoothing α", self.alpha_spin),
            ("Threshold", self.threshold_spin),
        )

        self.action_edit = QLineEdit()
        self.action_edit.setPlaceholderText("action name, e.g. clap")
        self.record_button = QPushButton("Record (R)")
        self.record_button.setCheckable(True)
        self.record_button.clicked.connect(lambda: self.toggle_recording())
        self.video_check = QCheckBox("Save the video too")
        self.video_check.setChecked(self.settings.record_video)
        self.video_check.toggled.connect(lambda on: self._set("record_video", on))
        self.root_label = QLabel()
        self.root_label.setWordWrap(True)
        root_button = QPushButton("Folder…")
        root_button.clicked.connect(self._choose_root)
        self.teach_button = QPushButton("Teach this action")
        self.teach_button.setToolTip(
            "Record 3–10 examples of the action, then teach it: the model learns it at once"
        )
        self.teach_button.clicked.connect(lambda: self.teach())
        forget_button = QPushButton("Forget taught")
        forget_button.clicked.connect(self.forget_taught)
        self.examples_label = QLabel("")
        record_box = _group(
            "Record and teach",
            ("Action", self.action_edit),
            self.record_button,
            self.video_check,
            _hbox(self.root_label, root_button),
            _hbox(self.teach_button, forget_button, stretch_first=False),
            self.examples_label,
        )
        self.action_edit.textChanged.connect(lambda _: self._update_examples())

        panel = QWidget()
        side = QVBoxLayout(panel)
        for box in (probs_box, source_box, model_box, recog_box, record_box):
            side.addWidget(box)
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Wide enough for the panel plus a vertical scroll bar: nothing is ever cut off sideways.
        panel.setMinimumWidth(panel.sizeHint().width())
        scroll.setMinimumWidth(
            panel.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4
        )
        scroll.setMaximumWidth(440)

        central = QWidget()
        row = QHBoxLayout(central)
        row.addLayout(left, 1)
        row.addWidget(scroll)
        self.setCentralWidget(central)
        self._update_root_label()
        self.statusBar().showMessage("Ready")

    def _build_menus(self) -> None:
        def action(menu, text, slot, shortcut=None):
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        action(file_menu, "Open &video…", self._choose_video, "Ctrl+O")
        action(file_menu, "Open skeleton &clip…", self._choose_clip)
        action(file_menu, "Open stream &URL…", self._choose_url)
        action(file_menu, "Open &model…", self._choose_model, "Ctrl+M")
        file_menu.addSeparator()
        action(file_menu, "&Quit", self.close, "Ctrl+Q")
        run_menu = self.menuBar().addMenu("&Run")
        self.start_action = action(run_menu, "&Start / stop", self.toggle_running, "Space")
        action(run_menu, "&Demo source", lambda: self.open_source("demo"), "Ctrl+D")
        record_menu = self.menuBar().addMenu("&Record")
        self.record_action = action(
            record_menu, "&Record / stop", lambda: self.toggle_recording(), "R"
        )
        action(record_menu, "&Teach this action", lambda: self.teach(), "Ctrl+T")
        action(record_menu, "&Forget taught actions", self.forget_taught)
        action(record_menu, "Data &folder…", self._choose_root)

    # ------------------------------------------------------------------ settings helpers
    def _set(self, key: str, value) -> None:
        setattr(self.settings, key, value)
        self.settings.save(self.store)

    def _initial_source(self) -> str:
        saved = self.settings.source
        cameras = list_cameras()
        wants_camera = saved == "" or saved.startswith(("camera", "webcam"))
        if wants_camera and not cameras:
            self.show_message(
                "No camera found on this machine — playing the demo source. "
                "Open a video with File ▸ Open video, or plug in a camera.",
                "warning",
                append=True,
            )
            return "demo"
        if saved == "":
            return f"camera:{cameras[0]}"
        return saved

    def _fill_cameras(self) -> None:
        self.camera_combo.clear()
        cameras = list_cameras()
        if not cameras:
            self.camera_combo.addItem("No camera found")
            self.camera_combo.setEnabled(False)
        for device in cameras:
            self.camera_combo.addItem(f"Camera {device}", device)

    def show_message(self, text: str, level: str = "info", append: bool = False) -> None:
        self.banner.show_message(text, level, append)
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    # ------------------------------------------------------------------ model and pose
    def load_model(self, path: str | Path, quiet_default: bool = False) -> bool:
        """Load a classifier (and its taught actions); on a problem, say so and keep the old one."""
        path = Path(path)
        try:
            classifier, warning = open_classifier(path)
        except RelsarError as err:
            if path == DEFAULT_MODEL and not path.exists():
                self.show_message(NO_DEFAULT_MODEL.format(path=path), "warning")
            else:
                self.show_message(str(err), "error")
            self._update_model_label()
            return False
        self.classifier = classifier
        self.base_classifier = getattr(classifier, "base", classifier)
        self.settings.model = str(path)
        self.settings.save(self.store)
        if warning:
            self.show_message(warning, "warning")
        self._classes_changed()
        return True

    def _classes_changed(self) -> None:
        self.bars.set_classes(self.classifier.class_names)
        if self.pipeline is not None:
            self.pipeline.set_classifier(self.classifier)
        self._update_model_label()
        self._update_examples()

    def _update_model_label(self) -> None:
        if self.classifier is None:
            self.model_label.setText("<i>no model loaded</i>")
            return
        taught = getattr(self.classifier, "taught_classes", [])
        text = (
            f"<b>{Path(self.settings.model).name}</b> — {len(self.classifier.class_names)} actions"
        )
        if taught:
            text += f" ({len(taught)} taught: {', '.join(taught)})"
        self.model_label.setText(text)

    def _pose(self):
        backend = self.settings.pose_backend
        # The weights file is ViTPose's; a path left in the field must not reach BlazePose.
        weights = self.settings.pose_weights if backend in ("vitpose", "auto") else ""
        key = (backend, weights)
        if key not in self._pose_cache:
            self._pose_cache[key] = open_pose(backend, weights or None)
        return self._pose_cache[key]

    def _pose_changed(self, backend: str) -> None:
        self.settings.pose_backend = backend
        self.settings.pose_weights = self.weights_edit.text().strip()
        self.settings.save(self.store)
        if self.source is not None and not self.source.provides_skeletons and self.running:
            self.start()  # the new estimator applies to the running camera or video

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        return self.bridge.running

    def open_source(self, spec: str) -> None:
        """Switch to a source (camera:N, demo, a path or URL) and start it."""
        self.source_spec = spec.strip()
        self.source_edit.setText(self.source_spec)
        self.start()

    def start(self) -> bool:
        self.stop()
        if self.classifier is None:
            self.show_message("No model loaded: choose one with File ▸ Open model…", "warning")
            return False
        try:
            width, _, height = self.settings.camera_size.partition("x")
            source = open_source(
                self.source_spec,
                loop=self.settings.loop,
                realtime=True,
                width=int(width) if width.isdigit() else None,
                height=int(height) if height.isdigit() else None,
            )
        except RelsarError as err:
            self.show_message(f"{err}. Choose another source.", "error")
            return False
        try:
            pose = None if source.provides_skeletons else self._pose()
        except RelsarError as err:
            source.close()
            self.show_message(f"Pose model: {err}", "error")
            return False
        self.source = source
        self.pipeline = LivePipeline(
            self.classifier,
            pose,
            self.stride_spin.value(),
            alpha=self.alpha_spin.value(),
            threshold=self.threshold_spin.value(),
        )
        self._last_prediction_frame = -1
        self.timeline.clear()
        self.video.clear("Starting…")
        if self.banner.level == "error":
            self.banner.hide()
        self.bridge.start(source, self.pipeline)
        self.settings.source = self.source_spec
        self.settings.save(self.store)
        self.start_button.setText("Stop")
        self.statusBar().showMessage(f"Playing {source.name}")
        if source.name.startswith("demo (synthetic"):
            self.show_message(
                "The demo plays synthetic toy motions: no demo clips are installed in assets/demo.",
                "info",
                append=True,
            )
        return True

    def stop(self) -> None:
        if self._recorder is not None:
            self.toggle_recording()
        self.bridge.stop()
        self.start_button.setText("Start")

    def toggle_running(self) -> None:
        if self.running:
            self.stop()
            self.statusBar().showMessage("Stopped")
        else:
            self.start()

    def _on_result(self) -> None:
        result = self.bridge.take()
        if result is None:
            return
        if self.first_frame_time is None:
            self.first_frame_time = time.perf_counter()
        self.video.show_frame(result.frame.image, result.frame.image_size, result.skeleton)
        pred = result.latest
        if pred is not None and pred.class_names == tuple(self.bars.class_names):
            label = pred.smoothed.label
            self.action_label.setText(label)
            colour = class_colour(label).name() if label != NO_ACTION else "#888"
            self.action_label.setStyleSheet(f"color:{colour};")
            self.confidence_label.setText(self._confidence_text(pred))
            self.bars.set_probabilities(pred.smoothed.probabilities, label)
            if pred.frame_index != self._last_prediction_frame:
                self._last_prediction_frame = pred.frame_index
                self.timeline.add(label)
        lat = self.bridge.latency_p50_p95()
        lat_text = f"latency {lat[0]:.1f} / {lat[1]:.1f} ms (p50/p95)" if lat else "latency –"
        pose_text = f" · pose {result.pose_ms:.0f} ms" if result.pose_ms else ""
        self.stats_label.setText(
            f"{result.fps:4.1f} FPS · {lat_text}{pose_text} · dropped {result.dropped}"
        )
        if self._recorder is not None:
            self.recording_label.setText(
                f"● REC {self._recorder.action}: {self._recorder.num_frames} frames"
            )

    @staticmethod
    def _confidence_text(pred) -> str:
        """The confidence, or why there is no action: nobody in view, or no class sure enough."""
        smoothed = pred.smoothed
        if smoothed.label != NO_ACTION:
            return f"{smoothed.confidence:.0%}"
        if pred.probabilities is None:
            return "nobody in view"
        top = int(smoothed.probabilities.argmax())
        return f"unsure (best: {pred.class_names[top]} {smoothed.probabilities[top]:.0%})"

    def _on_failed(self, text: str) -> None:
        self.bridge.stop()
        self.start_button.setText("Start")
        self.show_message(f"{text}. Choose another source.", "error")

    def _on_ended(self) -> None:
        if self._recorder is not None:
            self.toggle_recording()
        self.bridge.stop()
        self.start_button.setText("Start")
        self.statusBar().showMessage(f"End of {self.source.name if self.source else 'source'}")

    def _recognition_changed(self) -> None:
        self.settings.stride = self.stride_spin.value()
        self.settings.alpha = self.alpha_spin.value()
        self.settings.threshold = self.threshold_spin.value()
        self.settings.save(self.store)
        if self.pipeline is not None:
            self.pipeline.configure(
                stride=self.settings.stride,
                alpha=self.settings.alpha,
                threshold=self.settings.threshold,
            )

    # ------------------------------------------------------------------ record and teach
    def _update_root_label(self) -> None:
        self.root_label.setText(f"Saves to {self.settings.data_root}")

    def _examples(self, action: str) -> list[Path]:
        return visible((Path(self.settings.data_root) / action).glob("*.npz"))

    def _update_examples(self) -> None:
        name = self.action_edit.text().strip()
        if not name:
            self.examples_label.setText("Name an action, record 3–10 examples, then teach it.")
            return
        n = len(self._examples(name))
        self.examples_label.setText(f"{n} example{'s' * (n != 1)} of “{name}” recorded")

    def toggle_recording(self) -> Path | None:
        """Start recording, or stop and save; returns the saved clip's path when stopping."""
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            if self.pipeline is not None:
                self.pipeline.swap_recorder(None)
            self.record_button.setChecked(False)
            self.recording_label.setText("")
            try:
                path = recorder.stop()
            except (RelsarError, OSError) as err:
                self.show_message(f"Recording not saved: {err}", "error")
                return None
            self.statusBar().showMessage(f"Saved {path} ({recorder.num_frames} frames)", 10000)
            self._update_examples()
            return path
        self.record_button.setChecked(False)
        if not self.running or self.pipeline is None or self.source is None:
            self.show_message("Start a source first (Space), then record.", "warning")
            return None
        try:
            action = check_action_name(self.action_edit.text())
        except RelsarError as err:
            self.show_message(f"Name the action to record first: {err}", "warning")
            self.action_edit.setFocus()
            return None
        layout = (
            self.source.current_clip.layout
            if self.source.provides_skeletons
            else getattr(self.pipeline.pose, "layout", "body15")
        )
        self._recorder = ClipRecorder(
            self.settings.data_root,
            action,
            layout,
            self.source.fps,
            self.source.image_size,
            self.video_check.isChecked(),
            min_frames=self.classifier.window,
        )
        self.pipeline.swap_recorder(self._recorder)
        self.record_button.setChecked(True)
        self.recording_label.setText(f"● REC {action}")
        return None

    def teach(self, action: str | None = None) -> bool:
        """Teach the named action from its recorded examples; switch to the new model at once."""
        if self.classifier is None:
            self.show_message("Load a model before teaching an action.", "warning")
            return False
        try:
            action = check_action_name(action if action is not None else self.action_edit.text())
        except RelsarError as err:
            self.show_message(f"Name the action to teach: {err}", "warning")
            return False
        clips = self._examples(action)
        if not clips:
            self.show_message(f"No examples of “{action}” yet: record a few (R) first.", "warning")
            return False
        start = time.perf_counter()
        try:
            from relsar_core.runtime.tflite import TfliteClassifier

            # A second interpreter for the examples: the pipeline's own is busy in the worker thread.
            embedder = TfliteClassifier(self.settings.model)
            classifier = fewshot.teach(
                self.base_classifier,
                self.settings.model,
                {action: clips},
                stride=max(1, self.stride_spin.value()),
                embedder=embedder,
            )
        except (RelsarError, OSError) as err:
            self.show_message(f"Could not teach “{action}”: {err}", "error")
            return False
        self.classifier = classifier
        self._classes_changed()
        took = time.perf_counter() - start
        note = " (3–10 examples work best)" if len(clips) < 3 else ""
        self.show_message(
            f"Taught “{action}” from {len(clips)} clip(s) in {took:.2f} s{note}; "
            f"saved beside the model. {classifier.describe()}.",
            "info",
        )
        return True

    def forget_taught(self) -> None:
        if self.classifier is None:
            return
        if fewshot.forget_taught(self.settings.model):
            self.classifier = self.base_classifier
            self._classes_changed()
            self.show_message("Taught actions forgotten.", "info")

    # ------------------------------------------------------------------ file choosers
    def _choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if path:
            self.open_source(path)

    def _choose_clip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open skeleton clip", "", "Skeleton clips (*.npz)"
        )
        if path:
            self.open_source(path)

    def _choose_url(self) -> None:
        url, ok = QInputDialog.getText(self, "Open stream", "Stream URL (rtsp://, http://…):")
        if ok and url.strip():
            self.open_source(url)

    def _camera_chosen(self, index: int) -> None:
        device = self.camera_combo.itemData(index)
        if device is not None:
            self.open_source(f"camera:{device}")

    def _camera_size_chosen(self, index: int) -> None:
        self._set("camera_size", self.size_combo.itemData(index))
        if self.running and self.source is not None and self.source.live:
            self.start()  # a camera opens at the new size

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", str(Path(self.settings.model).parent), "TFLite models (*.tflite)"
        )
        if path:
            self.load_model(path)

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "ViTPose weights", "", "PyTorch checkpoints (*.pth)"
        )
        if path:
            self.weights_edit.setText(path)
            self._pose_changed(self.pose_combo.currentText())

    def _choose_root(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Data-set folder for recordings", self.settings.data_root
        )
        if path:
            self._set("data_root", path)
            self._update_root_label()
            self._update_examples()

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.stop()
        for estimator in self._pose_cache.values():
            estimator.close()
        self._pose_cache.clear()
        self.store.setValue("window/geometry", self.saveGeometry())
        self.settings.save(self.store)
        super().closeEvent(event)
