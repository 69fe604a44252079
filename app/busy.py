"""The strip that shows slow work in progress: what is happening, a busy bar and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QProgressBar, QPushButton, QWidget

from app.panels.widgets import ElidedLabel
from app.worker import Task


class BusyStrip(QFrame):
    """Lists the running tasks; Cancel cancels all of them. Hidden when nothing runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks: list[Task] = []
        self.label = ElidedLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: the work cannot say how far it is
        self.bar.setFixedWidth(120)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop waiting (Esc)")
        self.cancel_button.clicked.connect(self.cancel_all)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(self.label, 1)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.hide()

    def add(self, task: Task) -> Task:
        self.tasks.append(task)
        task.progress.connect(lambda _text: self._refresh())
        task.finished.connect(lambda: self._remove(task))
        self._refresh()
        return task

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    def _remove(self, task: Task) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        self._refresh()

    def _refresh(self) -> None:
        self.label.setText(" · ".join(f"{t.text}" for t in self.tasks))
        self.setVisible(bool(self.tasks))
