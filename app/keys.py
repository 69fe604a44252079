"""Keyboard rules of the window: Enter or Esc leaves a text field (so Space and R work again),
Esc cancels what is loading."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget


def handle_key(window, obj: QObject, event: QEvent) -> bool:
    """True when the key was used here (the window's application-wide event filter)."""
    if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
        return False
    key = event.key()
    inside = isinstance(obj, QWidget) and obj.window() is window
    if not inside:
        return False
    if isinstance(obj, QLineEdit) and key == Qt.Key.Key_Escape:
        window.video.setFocus()
        return True
    if isinstance(obj, QLineEdit) and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        QTimer.singleShot(0, window.video.setFocus)  # after returnPressed has run
    elif key == Qt.Key.Key_Escape and window.busy.tasks:
        window.busy.cancel_all()
        return True
    return False
