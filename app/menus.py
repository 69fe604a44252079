"""The menu bar, the Help texts and the file choosers of the main window."""

from __future__ import annotations

import platform
from pathlib import Path

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from relsar_core.runtime import fewshot

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv);;All files (*)"
MAX_RECENT = 8
SHORTCUTS = (
    ("Space", "Play / pause a file, start / stop a camera (anywhere in the window)"),
    ("R", "Record / stop recording (anywhere in the window)"),
    (
        "Enter or Esc",
        "Finish typing in a field: it keeps the focus, Space and R work again; "
        "type or click to edit it again",
    ),
    ("Ctrl+Space / Ctrl+R", "The same while you are still typing in a field"),
    ("Esc", "Cancel what is loading; in a field you have finished, leave it"),
    ("Ctrl+O / Ctrl+M / Ctrl+U", "Open a video / a model / a stream URL"),
    ("Ctrl+L / Ctrl+N", "Type a source / the action's name"),
    ("Ctrl+D", "Play the demo"),
    ("Ctrl+T", "Teach the named action"),
    ("Ctrl+E", "Export the results (CSV or JSON lines)"),
    ("Ctrl+Q", "Quit"),
)


def _action(window, menu: QMenu, text: str, slot, *shortcuts: str) -> QAction:
    act = QAction(text, window)
    if shortcuts:
        act.setShortcuts([QKeySequence(s) for s in shortcuts])
        act.setShortcutContext(act.shortcutContext().WindowShortcut)
    act.triggered.connect(lambda *_: slot())
    menu.addAction(act)
    return act


def build_menus(window) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    _action(window, file_menu, "Open &video…", lambda: choose_video(window), "Ctrl+O")
    _action(window, file_menu, "Open skeleton &clip…", lambda: choose_clip(window))
    _action(window, file_menu, "Open stream &URL…", lambda: choose_url(window), "Ctrl+U")
    _action(window, file_menu, "Open &model…", lambda: choose_model(window), "Ctrl+M")
    window.recent_menu = file_menu.addMenu("&Recent")
    fill_recent(window)
    file_menu.addSeparator()
    _action(window, file_menu, "&Export results…", lambda: choose_export(window), "Ctrl+E")
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", window.close, "Ctrl+Q")
    run_menu = bar.addMenu("&Run")
    window.start_action = _action(
        window, run_menu, "&Play / pause", window.toggle_running, "Space", "Ctrl+Space"
    )
    _action(window, run_menu, "S&top", window.stop_by_user)
    _action(
        window,
        run_menu,
        "Type a &source…",
        lambda: type_in(window.source_panel.source_edit),
        "Ctrl+L",
    )
    _action(window, run_menu, "&Demo source", lambda: window.open_source("demo"), "Ctrl+D")
    _action(window, run_menu, "Look for &cameras again", window.rescan_cameras)
    record_menu = bar.addMenu("&Record")
    window.record_action = _action(
        window, record_menu, "&Record / stop", window.toggle_recording, "R", "Ctrl+R"
    )
    _action(
        window,
        record_menu,
        "&Name the action…",
        lambda: type_in(window.record_panel.action_edit),
        "Ctrl+N",
    )
    _action(window, record_menu, "&Teach this action", window.teach, "Ctrl+T")
    _action(window, record_menu, "Data &folder…", lambda: choose_root(window))
    help_menu = bar.addMenu("&Help")
    _action(window, help_menu, "&Keyboard shortcuts", lambda: show_shortcuts(window), "F1")
    _action(window, help_menu, "&Actions of this model", lambda: show_classes(window))
    _action(window, help_menu, "&About ReL-SAR Live", lambda: show_about(window))


def type_in(edit) -> None:
    """Focus a text field to type in it (its text selected, so typing replaces it)."""
    edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
    edit.selectAll()


def fill_recent(window) -> None:
    window.recent_menu.clear()
    recent = [r for r in window.settings.recent.split("\n") if r]
    for spec in recent:
        act = window.recent_menu.addAction(spec if len(spec) < 70 else "…" + spec[-68:])
        act.triggered.connect(lambda *_, s=spec: window.open_source(s))
    window.recent_menu.setEnabled(bool(recent))


def remember_recent(window, spec: str) -> None:
    recent = [r for r in window.settings.recent.split("\n") if r and r != spec]
    window.settings.recent = "\n".join([spec, *recent][:MAX_RECENT])
    fill_recent(window)


def show_shortcuts(window) -> None:
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
    QMessageBox.information(window, "Keyboard shortcuts", f"<table>{rows}</table>")


def classes_text(window) -> str:
    """What each action of the loaded model is, from its model card when it ships one."""
    if window.classifier is None:
        return "No model is loaded."
    card = Path(window.settings.model).with_suffix(".md")
    names = list(window.classifier.class_names)
    taught = set(fewshot.taught_classes(window.classifier))
    lines = [f"<b>{n}</b>{' (taught)' if n in taught else ''}" for n in names]
    text = "<br>".join(lines)
    if card.is_file():
        text += f"<br><br>Model card: {card}"
        for line in card.read_text(errors="replace").splitlines():
            if any(line.strip("|-* ").lower().startswith(n.lower()) for n in names):
                text += f"<br>{line.strip()}"
    return text


def show_classes(window) -> None:
    QMessageBox.information(window, "Actions of this model", classes_text(window))


def about_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return (
        f"<b>ReL-SAR Live</b> {ver('relsar')}<br>Real-time skeleton action recognition.<br><br>"
        f"Python {platform.python_version()} · Qt {qVersion()} · PySide6 {PYSIDE_VERSION}<br>"
        f"ai-edge-litert {ver('ai-edge-litert')} · OpenCV {ver('opencv-python-headless')} · "
        f"NumPy {ver('numpy')}"
    )


def show_about(window) -> None:
    QMessageBox.about(window, "About ReL-SAR Live", about_text())


def choose_video(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open video", "", VIDEO_FILTER)
    if path:
        window.open_source(path)


def choose_clip(window) -> None:
    path, _ = QFileDialog.getOpenFileName(
        window, "Open skeleton clip", "", "Skeleton clips (*.npz)"
    )
    if path:
        window.open_source(path)


def choose_url(window) -> None:
    url, ok = QInputDialog.getText(window, "Open stream", "Stream URL (rtsp://, http://…):")
    if ok and url.strip():
        window.open_source(url)


def choose_model(window) -> None:
    path, _ = QFileDialog.getOpenFileName(
        window, "Open model", str(Path(window.settings.model).parent), "TFLite models (*.tflite)"
    )
    if path:
        window.load_model(path)


def choose_weights(window) -> None:
    path, _ = QFileDialog.getOpenFileName(
        window, "ViTPose weights", "", "PyTorch checkpoints (*.pth)"
    )
    if path:
        window.model_panel.weights_edit.setText(path)
        window.model_panel.pose_changed.emit(window.model_panel.pose_combo.currentText(), path)


def choose_root(window) -> None:
    path = QFileDialog.getExistingDirectory(
        window, "Data-set folder for recordings", window.settings.data_root
    )
    if path:
        window.set_data_root(path)


def choose_export(window) -> None:
    path, _ = QFileDialog.getSaveFileName(
        window, "Export results", "results.csv", "CSV (*.csv);;JSON lines (*.jsonl)"
    )
    if path:
        window.export_results(path)
