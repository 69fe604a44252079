"""Where frames come from: a source field, Start/Stop, demo and file buttons, the cameras
(with rescan), the camera size, looping, and a seek bar for files and replays."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPushButton, QSlider, QToolButton

from app.panels.widgets import group, guard_wheel, hbox, set_enabled

CAMERA_SIZES = (
    ("Camera default", ""),
    ("640 × 480", "640x480"),
    ("1280 × 720", "1280x720"),
    ("1920 × 1080", "1920x1080"),
)


class SourcePanel(QObject):
    open_requested = Signal(str)  # a source spec to open and start
    toggle_requested = Signal()  # Start / Stop (pause for files)
    file_requested = Signal()
    rescan_requested = Signal()
    size_chosen = Signal(str)
    loop_toggled = Signal(bool)
    seek_requested = Signal(int)  # a frame number in the file or replay

    def __init__(self, camera_size: str, loop: bool) -> None:
        super().__init__()
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("camera:0, demo, a video, a URL or a .npz clip")
        self.source_edit.returnPressed.connect(
            lambda: self.open_requested.emit(self.source_edit.text())
        )
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.toggle_requested)
        demo_button = QPushButton("Demo")
        demo_button.clicked.connect(lambda: self.open_requested.emit("demo"))
        file_button = QPushButton("File…")
        file_button.clicked.connect(self.file_requested)
        self.camera_combo = QComboBox()
        self.camera_combo.addItem("Looking for cameras…")
        self.camera_combo.setEnabled(False)
        self.camera_combo.activated.connect(self._camera_chosen)
        self.rescan_button = QToolButton()
        self.rescan_button.setText("⟳")
        self.rescan_button.setToolTip("Look for cameras again (one was plugged in)")
        self.rescan_button.clicked.connect(self.rescan_requested)
        self.size_combo = QComboBox()
        for text, value in CAMERA_SIZES:
            self.size_combo.addItem(text, value)
        self.size_combo.setCurrentIndex(max(self.size_combo.findData(camera_size), 0))
        self.size_combo.setToolTip("Resolution asked of the webcam")
        self.size_combo.activated.connect(
            lambda i: self.size_chosen.emit(self.size_combo.itemData(i))
        )
        self.loop_check = QCheckBox("Loop files and replays")
        self.loop_check.setChecked(loop)
        self.loop_check.toggled.connect(self.loop_toggled)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setToolTip("Position in the file (drag, click, or Home/End/PgUp/PgDn)")
        self.seek_slider.setEnabled(False)
        self.seek_slider.sliderReleased.connect(
            lambda: self.seek_requested.emit(self.seek_slider.value())
        )
        self.seek_slider.actionTriggered.connect(self._seek_action)
        guard_wheel(self.camera_combo, self.size_combo)
        self.box = group(
            "Source",
            hbox(self.source_edit, self.start_button),
            hbox(self.camera_combo, self.rescan_button, demo_button, file_button),
            ("Camera size", self.size_combo),
            self.loop_check,
            ("Position", self.seek_slider),
        )

    def set_cameras(self, cameras: list[int]) -> None:
        self.camera_combo.clear()
        for device in cameras:
            self.camera_combo.addItem(f"Camera {device}", device)
        if not cameras:
            self.camera_combo.addItem("No camera found")
        set_enabled(self.camera_combo, bool(cameras))

    def set_running(self, state: str) -> None:
        """state: "running", "paused" or "stopped"."""
        self.start_button.setText({"running": "Pause", "paused": "Resume"}.get(state, "Start"))

    def set_position(self, frame: int | None, total: int | None) -> None:
        """Where a file or replay is; None hides the seek bar's meaning (live sources)."""
        seekable = frame is not None and bool(total)
        set_enabled(self.seek_slider, seekable)  # a focused slider when the file ends
        if seekable and not self.seek_slider.isSliderDown():
            self.seek_slider.setRange(0, max(0, total - 1))
            self.seek_slider.setPageStep(max(1, total // 10))
            self.seek_slider.setValue(frame)

    def clear_position(self) -> None:
        """No source yet: the bar neither seeks nor shows the last one's position."""
        self.set_position(None, None)
        self.seek_slider.setValue(0)

    def _seek_action(self, action: int) -> None:
        """A click on the groove or a key (Home, End, PgUp…): seek at once; a drag seeks on
        release. The slider's position already holds the target here."""
        if action != QSlider.SliderAction.SliderMove.value:
            self.seek_requested.emit(self.seek_slider.sliderPosition())

    def _camera_chosen(self, index: int) -> None:
        device = self.camera_combo.itemData(index)
        if device is not None:
            self.open_requested.emit(f"camera:{device}")
