"""Small widget helpers shared by the panels: form groups, rows, labels that elide instead of
growing the window, spin/combo boxes that ignore the wheel unless focused, and disabling a
widget without losing the keyboard shortcuts."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QWidget,
)


def group(title: str, *rows) -> QGroupBox:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setContentsMargins(8, 6, 8, 6)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for row in rows:
        if isinstance(row, tuple):
            form.addRow(*row)
        else:
            form.addRow(row)
    return box


def hbox(*widgets, stretch_first: bool = True) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if (i == 0 and stretch_first) else 0)
    return w


class ElidedLabel(QLabel):
    """A one-line label whose width never depends on its text: long text ends in "…" and the
    whole of it is in the tooltip."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
        lines: int = 1,
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self._lines = lines  # > 1: words wrap onto that many lines before eliding
        self.setWordWrap(lines > 1)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(10)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text if len(text) > 20 else "")
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = QFontMetrics(self.font())
        room = max(self.width(), 10) * self._lines - (metrics.averageCharWidth() * 4) * (
            self._lines - 1
        )
        shown = metrics.elidedText(self._full, self._mode, room)
        super().setText(shown)


class _WheelGuard(QObject):
    """Wheel events reach a spin or combo box only when it has focus; otherwise they go to the
    scroll area around it (scrolling the side panel must never change a setting)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


_GUARD = _WheelGuard()


def guard_wheel(*widgets: QWidget) -> None:
    for widget in widgets:
        assert isinstance(widget, QAbstractSpinBox | QComboBox)
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click focuses, the wheel does not
        widget.installEventFilter(_GUARD)


FOCUS_HOME = "focus_home"  # object name of the widget that takes the focus back (the video)


def set_enabled(widget: QWidget, on: bool) -> None:
    """Enable or disable `widget`. Disabling the one that has the focus gives the focus to the
    window's FOCUS_HOME first: Qt would pass it to the next widget in the tab order as if tabbed
    to (the Source field, its text selected), and the next Space or R would type there."""
    if not on and widget.window().focusWidget() is widget:  # Qt's test (also while inactive)
        home = widget.window().findChild(QWidget, FOCUS_HOME)
        (home or widget.window()).setFocus(Qt.FocusReason.OtherFocusReason)
    widget.setEnabled(on)
