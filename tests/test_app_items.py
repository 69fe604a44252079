"""#18 items that had no test: seek in a file (drag, click and keys on the real slider), the
palette following the system's dark scheme, deleting a take and forgetting one taught action,
each through the real widgets and the real confirmation dialog."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QStyle, QStyleOptionSlider

from relsar_core.pose.model_store import BLAZEPOSE, missing_files
from relsar_core.runtime import fewshot
from tests.test_app import WAIT_MS, make_window, model_copy, toy_clip, wait_idle  # noqa: F401


def answer_next_dialog(qtbot, button: QMessageBox.StandardButton, seen: list) -> None:
    """Click `button` in the next message box, as a person would."""

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


def write_video(path, frames: int = 300) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for i in range(frames):
        img = np.full((120, 160, 3), (i * 5) % 255, np.uint8)
        cv2.putText(img, str(i), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 2)
        out.write(img)
    out.release()


def handle_centre(slider) -> QPoint:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    rect = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, slider
    )
    return rect.center()


@pytest.mark.skipif(
    bool(missing_files(BLAZEPOSE, check_hash=False)),
    reason="BlazePose models not fetched: run `make models`",
)
def test_seek_in_a_video_file_by_drag_click_and_keys(make_window, qtbot, tmp_path):
    from relsar_core.assets import DEFAULT_MODEL

    video = tmp_path / "count.avi"
    write_video(video, 900)  # 30 s at 30 fps: playing moves at most 30 frames a second
    window = make_window(str(video), DEFAULT_MODEL, pose_backend="blazepose", loop=False)
    slider = window.source_panel.seek_slider
    qtbot.waitUntil(lambda: slider.isEnabled() and slider.maximum() == 899, timeout=WAIT_MS)
    assert window.source.position < 300
    # Drag the handle to three quarters of the groove.
    start = handle_centre(slider)
    target = QPoint(int(slider.width() * 0.75), start.y())
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(slider, target)
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=target)
    qtbot.waitUntil(lambda: 560 <= window.source.position <= 800, timeout=WAIT_MS)
    assert window.state == "running"
    # Keys on the focused slider seek at once: Home to the start, PgUp a tenth further each.
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: window.source.position < 100, timeout=2000)
    before = window.source.position
    for _ in range(3):
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: window.source.position >= before + 200, timeout=2000)
    qtbot.keyClick(slider, Qt.Key.Key_Space)  # Space still pauses with the slider focused
    assert window.state == "paused" and slider.hasFocus()
    window.stop()


def system_scheme(scheme: Qt.ColorScheme) -> None:
    """The system switches to `scheme`: Qt 6.8's request where the platform honours it, else
    the notification Qt sends when the desktop's scheme changes (offscreen has no desktop)."""
    hints = QApplication.styleHints()
    hints.setColorScheme(scheme)
    if hints.colorScheme() != scheme:
        hints.colorSchemeChanged.emit(scheme)


def test_palette_follows_the_system_scheme(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    light = QApplication.palette().window().color().lightness()
    try:
        system_scheme(Qt.ColorScheme.Dark)
        qtbot.waitUntil(
            lambda: QApplication.palette().window().color().lightness() < 80, timeout=WAIT_MS
        )
        assert QApplication.palette().text().color().lightness() > 180  # light text on dark
        qtbot.waitUntil(  # the window's widgets follow on the next turn of the event loop
            lambda: window.record_panel.teach_button.palette().button().color().lightness() < 80,
            timeout=WAIT_MS,
        )
        assert window.palette().window().color().lightness() < 80
        system_scheme(Qt.ColorScheme.Light)
        qtbot.waitUntil(
            lambda: QApplication.palette().window().color().lightness() == light, timeout=WAIT_MS
        )
        assert light > 150 and QApplication.palette().text().color().lightness() < 100
    finally:
        system_scheme(Qt.ColorScheme.Light)
        QApplication.styleHints().unsetColorScheme()


def test_delete_a_take_after_confirming(make_window, qtbot, model_copy, toy_data, tmp_path):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    folder = tmp_path / "recordings" / "clap"
    folder.mkdir(parents=True)
    takes = [folder / f"clap_2026120{i}_000000.npz" for i in (1, 2)]
    for take in takes:
        take.write_bytes(toy_clip(toy_data, "wave").read_bytes())
    takes[1].with_suffix(".mp4").write_bytes(b"video")
    window.record_panel.action_edit.setText("clap")
    takes_list = window.record_panel.takes_list
    assert takes_list.count() == 2
    second = takes_list.visualItemRect(takes_list.item(1)).center()
    qtbot.mouseClick(takes_list.viewport(), Qt.MouseButton.LeftButton, pos=second)
    assert takes_list.currentItem().text() == takes[1].name
    seen: list[str] = []
    answer_next_dialog(qtbot, QMessageBox.StandardButton.No, seen)
    qtbot.mouseClick(window.record_panel.delete_button, Qt.MouseButton.LeftButton)
    assert seen and takes[1].name in seen[0]
    assert takes[1].is_file() and takes_list.count() == 2  # No keeps it
    answer_next_dialog(qtbot, QMessageBox.StandardButton.Yes, seen)
    qtbot.mouseClick(window.record_panel.delete_button, Qt.MouseButton.LeftButton)
    assert len(seen) == 2
    assert not takes[1].exists() and not takes[1].with_suffix(".mp4").exists()
    assert takes[0].is_file() and takes_list.count() == 1
    assert "1 example of “clap”" in window.record_panel.examples_label.full_text()


def test_forget_one_taught_action_after_confirming(make_window, qtbot, model_copy, toy_data):
    from relsar_core.live.pipeline import open_classifier

    base, _ = open_classifier(model_copy)
    clips = {
        name: [toy_clip(toy_data, src, i) for i in range(3)]
        for name, src in (("hop", "jump"), ("spin", "wave"))
    }
    fewshot.teach(base, model_copy, clips)
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    combo, forget = window.record_panel.taught_combo, window.record_panel.forget_button
    assert {combo.itemText(i) for i in range(combo.count())} == {"hop", "spin"}
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # the second taught action
    spin = combo.currentText()
    keep = ({"hop", "spin"} - {spin}).pop()
    seen: list[str] = []
    answer_next_dialog(qtbot, QMessageBox.StandardButton.No, seen)
    qtbot.mouseClick(forget, Qt.MouseButton.LeftButton)
    assert seen and spin in seen[0]
    assert {"hop", "spin"} <= set(window.classifier.class_names)  # No forgets nothing
    answer_next_dialog(qtbot, QMessageBox.StandardButton.Yes, seen)
    qtbot.mouseClick(forget, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert spin not in window.classifier.class_names and keep in window.classifier.class_names
    assert spin not in window.results.bars.class_names
    assert [combo.itemText(i) for i in range(combo.count())] == [keep]
    assert set(fewshot.load_taught(model_copy).labels) == {keep}  # saved: gone at next launch too


def test_a_new_take_clears_the_last_ones_refusal(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    window.record_panel.action_edit.setText("clap")
    window.video.setFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_R)
    qtbot.keyClick(window.video, Qt.Key.Key_R)  # at once: too short, refused
    assert window.banner.level == "error" and "too short" in window.banner.text
    qtbot.keyClick(window.video, Qt.Key.Key_R)  # the next take
    assert window._recorder is not None and window.banner.text == ""
    window.stop()


class X11LineEditKeys(QObject):
    """What a QLineEdit does on X11 (its key bindings there: Ctrl+E end of line, Ctrl+D delete,
    Ctrl+K): it claims those keys before the window's shortcuts see them. The offscreen
    platform has no such bindings, so the test adds them to the field."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        x11 = (Qt.Key.Key_E, Qt.Key.Key_D, Qt.Key.Key_K)
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in x11:
            event.accept()
            return True
        return False


def test_window_shortcuts_win_over_a_focused_fields_x11_keys(
    make_window, qtbot, model_copy, toy_data, monkeypatch
):
    """Seen in the real app under Xvfb: with the action's name field focused, Ctrl+E (export)
    did nothing; the field took it as "end of line"."""
    from app import menus

    exported = []
    monkeypatch.setattr(menus, "choose_export", lambda window: exported.append(1))
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    edit = window.record_panel.action_edit
    x11 = X11LineEditKeys(edit)
    edit.installEventFilter(x11)
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(edit, "wave2")
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # finished typing: the field keeps the focus
    qtbot.waitUntil(lambda: edit.isReadOnly(), timeout=WAIT_MS)
    qtbot.keyClick(edit, Qt.Key.Key_E, ctrl)
    assert exported == [1] and edit.hasFocus() and edit.isReadOnly()
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)  # while typing too
    qtbot.keyClick(edit, Qt.Key.Key_E, ctrl)
    assert exported == [1, 1] and edit.text() == "wave2"
    qtbot.keyClick(edit, Qt.Key.Key_K, ctrl)  # no shortcut of the window: the field's key
    assert exported == [1, 1]
    qtbot.keyClick(edit, Qt.Key.Key_D, ctrl)  # Ctrl+D: the demo
    qtbot.waitUntil(lambda: window.source_spec == "demo", timeout=WAIT_MS)
    window.stop()
