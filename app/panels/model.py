"""The classifier and pose models, and the recognition settings (stride, smoothing, threshold,
how many people to follow)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLineEdit, QPushButton, QSpinBox

from app.panels.widgets import ElidedLabel, group, guard_wheel, hbox
from relsar_core.live.people_mode import MAX_LIVE_PEOPLE
from relsar_core.pose.factory import POSE_BACKENDS
from relsar_core.runtime.smoothing import NO_ACTION


class ModelPanel(QObject):
    model_requested = Signal()
    pose_changed = Signal(str, str)  # backend, weights
    weights_requested = Signal()
    recognition_changed = Signal(int, float, float)  # stride, alpha, threshold
    people_changed = Signal(int)

    def __init__(self, settings) -> None:
        super().__init__()
        self.model_label = ElidedLabel()
        self.taught_label = ElidedLabel()
        model_button = QPushButton("Open model…")
        model_button.clicked.connect(self.model_requested)
        self.pose_combo = QComboBox()
        self.pose_combo.addItems(list(POSE_BACKENDS))
        self.pose_combo.setCurrentText(settings.pose_backend)
        self.pose_combo.currentTextChanged.connect(lambda _: self._emit_pose())
        self.pose_note = ElidedLabel("")
        self.pose_note.setToolTip("The backend in use (what auto picked)")
        self.weights_edit = QLineEdit(settings.pose_weights)
        self.weights_edit.setPlaceholderText("ViTPose .pth (optional)")
        self.weights_edit.editingFinished.connect(self._emit_pose)
        weights_button = QPushButton("…")
        weights_button.clicked.connect(self.weights_requested)

        self.stride_spin = QSpinBox(minimum=1, maximum=60, value=settings.stride)
        self.stride_spin.setToolTip("Classify every N frames")
        self.alpha_spin = QDoubleSpinBox(
            minimum=0.05, maximum=1.0, singleStep=0.05, value=settings.alpha
        )
        self.alpha_spin.setToolTip(
            "Weight of the newest window in the running average (1 = no smoothing)"
        )
        self.threshold_spin = QDoubleSpinBox(
            minimum=0.0, maximum=1.0, singleStep=0.05, value=settings.threshold
        )
        self.threshold_spin.setToolTip(f"Below this confidence the action shows as {NO_ACTION}")
        for spin in (self.stride_spin, self.alpha_spin, self.threshold_spin):
            spin.valueChanged.connect(self._emit_recognition)
        self.people_spin = QSpinBox(minimum=1, maximum=MAX_LIVE_PEOPLE, value=settings.people)
        self.people_spin.setToolTip(
            "Follow up to N people, each with their own id, box and label (1: the one person "
            "the pose model finds, fastest); the source starts again with it"
        )
        self.people_spin.valueChanged.connect(self.people_changed)
        guard_wheel(
            self.pose_combo,
            self.stride_spin,
            self.alpha_spin,
            self.threshold_spin,
            self.people_spin,
        )
        self.box = group(
            "Model and pose",
            self.model_label,
            self.taught_label,
            model_button,
            ("Pose", hbox(self.pose_combo, self.pose_note, stretch_first=False)),
            ("Weights", hbox(self.weights_edit, weights_button)),
        )
        self.recognition_box = group(
            "Recognition",
            ("Stride (frames)", self.stride_spin),
            ("Smoothing α", self.alpha_spin),
            ("Threshold", self.threshold_spin),
            ("People", self.people_spin),
        )

    def weights(self) -> str:
        return self.weights_edit.text().strip()

    def show_model(self, name: str | None, num_actions: int = 0, taught: list[str] = ()) -> None:
        if name is None:
            self.model_label.setText("no model loaded")
            self.taught_label.setText("")
            return
        self.model_label.setText(f"{name} — {num_actions} actions")
        self.taught_label.setText(
            f"{len(taught)} taught: {', '.join(taught)}" if taught else "no taught actions"
        )

    def _emit_pose(self) -> None:
        self.pose_changed.emit(self.pose_combo.currentText(), self.weights())

    def _emit_recognition(self) -> None:
        self.recognition_changed.emit(
            self.stride_spin.value(), self.alpha_spin.value(), self.threshold_spin.value()
        )
