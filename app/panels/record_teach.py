"""Record examples of an action and teach it: the name, Record, where takes are saved, the
takes of this action (delete a bad one), Teach, and forgetting one taught action."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
)

from app.panels.widgets import ElidedLabel, group, guard_wheel, hbox, set_enabled
from relsar_core.data.recording import MAX_ACTION_NAME
from relsar_core.files import visible


class RecordTeachPanel(QObject):
    record_requested = Signal()
    teach_requested = Signal()
    forget_requested = Signal(str)  # one taught action
    root_requested = Signal()
    delete_requested = Signal(object)  # the Path of a take
    name_changed = Signal(str)
    video_toggled = Signal(bool)

    def __init__(self, record_video: bool) -> None:
        super().__init__()
        self.action_edit = QLineEdit()
        self.action_edit.setPlaceholderText("action name, e.g. clap")
        self.action_edit.setMaxLength(MAX_ACTION_NAME)  # a folder and file name must fit
        self.action_edit.textChanged.connect(self.name_changed)
        self.record_button = QPushButton("Record (R)")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip(
            "Record one example: start just before the movement and stop just after it, "
            "so each example holds the whole movement"
        )
        self.record_button.clicked.connect(lambda: self.record_requested.emit())
        self.video_check = QCheckBox("Save the video too")
        self.video_check.setChecked(record_video)
        self.video_check.toggled.connect(self.video_toggled)
        self.root_label = ElidedLabel()
        root_button = QPushButton("Folder…")
        root_button.clicked.connect(self.root_requested)
        self.takes_list = QListWidget()
        self.takes_list.setMaximumHeight(90)
        self.takes_list.setToolTip("This action's takes; select one and press Delete take")
        self.delete_button = QPushButton("Delete take")
        self.delete_button.clicked.connect(self._delete_selected)
        self.teach_button = QPushButton("Teach this action")
        self.teach_button.setToolTip(
            "Record 3–10 examples of the action, then teach it: you see how well each taught "
            "action is recognised before you use it"
        )
        self.teach_button.clicked.connect(lambda: self.teach_requested.emit())
        self.taught_combo = QComboBox()
        self.taught_combo.setToolTip("A taught action to forget")
        guard_wheel(self.taught_combo)
        self.forget_button = QPushButton("Forget…")
        self.forget_button.clicked.connect(
            lambda: self.forget_requested.emit(self.taught_combo.currentText())
        )
        self.examples_label = ElidedLabel("")
        self.box = group(
            "Record and teach",
            ("Action", self.action_edit),
            self.record_button,
            self.examples_label,
            self.video_check,
            hbox(self.root_label, root_button),
            self.takes_list,
            hbox(self.delete_button, self.teach_button, stretch_first=False),
            ("Taught", hbox(self.taught_combo, self.forget_button)),
        )

    def name(self) -> str:
        return self.action_edit.text().strip()

    def set_recording(self, on: bool) -> None:
        self.record_button.setChecked(on)
        self.record_button.setText("Stop recording (R)" if on else "Record (R)")

    def show_root(self, root: str) -> None:
        self.root_label.setText(f"Saves to {root}")

    def show_takes(self, root: str, window: int | None) -> None:
        """The takes recorded of the named action, and what to do next."""
        name = self.name()
        self.takes_list.clear()
        if not name:
            self.examples_label.setText("Name an action, record 3–10 examples, then teach it.")
            return
        takes = takes_of(root, name)
        for path in takes:
            item = QListWidgetItem(path.name)
            item.setData(256, str(path))  # Qt.UserRole
            self.takes_list.addItem(item)
        n = len(takes)
        hint = " (3–10 work best)" if n < 3 else ""
        self.examples_label.setText(f"{n} example{'s' * (n != 1)} of “{name}” recorded{hint}")

    def show_taught(self, taught: list[str]) -> None:
        self.taught_combo.clear()
        self.taught_combo.addItems(taught)
        set_enabled(self.taught_combo, bool(taught))
        set_enabled(self.forget_button, bool(taught))  # after the last Forget… it had the focus

    def _delete_selected(self) -> None:
        item = self.takes_list.currentItem()
        if item is not None:
            self.delete_requested.emit(Path(item.data(256)))


def takes_of(root: str, action: str) -> list[Path]:
    """The recorded clips of an action (a killed writer's hidden temp file never counts)."""
    folder = Path(root) / action
    return visible(folder.glob("*.npz"), folder)
