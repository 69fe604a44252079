"""Keyboard rules of the window (its application-wide event filter).

Space plays/pauses and R records wherever the focus is: on the video, a button, a list, a combo
or spin box, and in a text field that has the focus but is not being edited. A text field is
*edited* from a click in it, Tab to it, or any typing key, and then every key types, r and space
too (names like "reach up", paths with spaces). Enter or Esc ends the editing: the caret goes,
the field keeps the focus, and Space and R are shortcuts again; typing anything else edits once
more. Esc in a field not being edited leaves it (focus to the video), and otherwise cancels what
is loading. Ctrl+Space and Ctrl+R work everywhere, also while editing."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QFocusEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QWidget

EDITING = "relsar_editing"  # dynamic property of a QLineEdit: being edited (keys type)
# Focus that means "I am going to type here"; other focus (a dialog closing, the app) does not.
_EDIT_REASONS = (
    Qt.FocusReason.MouseFocusReason,
    Qt.FocusReason.TabFocusReason,
    Qt.FocusReason.BacktabFocusReason,
    Qt.FocusReason.ShortcutFocusReason,
)
# Keys that neither type nor end the editing of a committed field (they move focus or are
# shortcuts of their own).
_NOT_TYPING = {
    Qt.Key.Key_Tab,
    Qt.Key.Key_Backtab,
    Qt.Key.Key_Shift,
    Qt.Key.Key_Control,
    Qt.Key.Key_Alt,
    Qt.Key.Key_Meta,
    Qt.Key.Key_AltGr,
    Qt.Key.Key_CapsLock,
    *(getattr(Qt.Key, f"Key_F{n}") for n in range(1, 25)),
}
_SHORTCUT_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_R)


def text_field(obj: QObject) -> QLineEdit | None:
    """The name or path field `obj` is (a spin box's own line edit does not count: r and space
    mean nothing there)."""
    if not isinstance(obj, QLineEdit) or isinstance(obj.parent(), QAbstractSpinBox):
        return None
    return obj


def is_editing(edit: QLineEdit) -> bool:
    return bool(edit.property(EDITING))


def set_editing(edit: QLineEdit, on: bool) -> None:
    """Editing: the caret shows and keys type. Not editing: read-only (no caret) until a click
    or a typing key; the text stays."""
    edit.setProperty(EDITING, on)
    edit.setReadOnly(not on)


def handle_key(window, obj: QObject, event: QEvent) -> bool:
    """True when the event was used here."""
    kind = event.type()
    if kind == QEvent.Type.FocusIn and isinstance(event, QFocusEvent):
        edit = text_field(obj)
        if edit is not None and event.reason() in _EDIT_REASONS and edit.window() is window:
            set_editing(edit, True)
            start_editing_hint(window, edit)
        return False
    if kind == QEvent.Type.MouseButtonPress:
        edit = text_field(obj)
        if edit is not None and edit.window() is window:
            set_editing(edit, True)
        return False
    if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
        return False
    if not isinstance(event, QKeyEvent):
        return False
    if not (isinstance(obj, QWidget) and obj.window() is window):
        return False  # a dialog's keys are the dialog's
    edit = text_field(obj)
    key = event.key()
    plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,)
    if plain and key in _SHORTCUT_KEYS and not (edit is not None and is_editing(edit)):
        # Window-wide: no widget (button, combo, list, spin box, a committed field) gets it.
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # no QAction shortcut either: the key press below does the job once
            return True
        if not event.isAutoRepeat():  # holding R must not toggle recording on and off
            action = window.start_action if key == Qt.Key.Key_Space else window.record_action
            action.trigger()
        return True
    if kind == QEvent.Type.ShortcutOverride:
        if edit is not None and window_shortcut(window, event):
            # On X11 a line edit binds Ctrl+E (end of line), Ctrl+D (delete) and Ctrl+K itself
            # and takes them before the menus: Ctrl+E (export) did nothing while a text field
            # had the focus (seen in the real app under Xvfb). The window's own shortcuts win.
            event.ignore()
            return True
        return False
    return _field_key(window, edit, key, event)


def window_shortcut(window, event: QKeyEvent) -> bool:
    """Whether a Ctrl key press is the shortcut of one of the window's enabled actions."""
    if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
        return False
    pressed = QKeySequence(event.keyCombination())
    return any(
        pressed.matches(seq) == QKeySequence.SequenceMatch.ExactMatch
        for action in window.findChildren(QAction)
        if action.isEnabled()
        for seq in action.shortcuts()
    )


def _field_key(window, edit: QLineEdit | None, key: int, event: QKeyEvent) -> bool:
    enter = key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
    if edit is not None and is_editing(edit):
        if key == Qt.Key.Key_Escape:
            commit(window, edit)
            return True
        if enter:  # after returnPressed has run (the source field opens its source then)
            QTimer.singleShot(0, lambda: commit(window, edit))
        return False
    if edit is not None and not enter and key != Qt.Key.Key_Escape and key not in _NOT_TYPING:
        set_editing(edit, True)  # typing into a committed field edits it again
        return False
    if key == Qt.Key.Key_Escape:
        if window.busy.tasks:
            window.busy.cancel_all()
        elif edit is not None:
            window.video.setFocus()  # Esc again: out of the field
        else:
            return False
        return True
    return False


def commit(window, edit: QLineEdit) -> None:
    """End the editing of a field; it keeps the focus and Space and R work again."""
    set_editing(edit, False)
    edit.deselect()
    if edit.hasFocus():
        window.statusBar().showMessage(
            "R records, Space plays / pauses; type to edit the field again", 8000
        )


def start_editing_hint(window, edit: QLineEdit) -> None:
    """While a field is edited, say how to get the shortcuts back."""
    if is_editing(edit) and edit.hasFocus():
        window.statusBar().showMessage("Typing: Enter or Esc to finish, then R records", 8000)
