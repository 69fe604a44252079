"""Focus after a button or slider disables itself: it goes back to the video, so the next Space
or R plays or records instead of typing into the next field (seen under Xvfb after Forget…)."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from relsar_core.runtime import fewshot
from tests.test_app import WAIT_MS, make_window, model_copy, toy_clip, wait_idle  # noqa: F401
from tests.test_app_items import answer_next_dialog


def focused(window):
    """The window's focus widget (offscreen, a closed dialog may leave no window active)."""
    return window.focusWidget()


def test_forgetting_the_last_taught_action_leaves_space_and_r_as_shortcuts(
    make_window, qtbot, model_copy, toy_data
):
    from relsar_core.live.pipeline import open_classifier

    base, _ = open_classifier(model_copy)
    fewshot.teach(base, model_copy, {"hop": [toy_clip(toy_data, "jump", i) for i in range(3)]})
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    forget, source_edit = window.record_panel.forget_button, window.source_panel.source_edit
    spec = source_edit.text()
    answer_next_dialog(qtbot, QMessageBox.StandardButton.Yes, [])
    qtbot.mouseClick(forget, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert not forget.isEnabled()  # nothing left to forget
    assert focused(window) is window.video, focused(window)
    assert "Typing" not in window.statusBar().currentMessage()
    qtbot.keyClick(focused(window), Qt.Key.Key_Space)
    assert window.state == "paused" and source_edit.text() == spec  # paused, nothing typed
    window.stop()


def test_a_focused_seek_bar_hands_the_focus_to_the_video_when_it_disables(
    make_window, qtbot, model_copy, toy_data
):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    slider = window.source_panel.seek_slider
    qtbot.waitUntil(slider.isEnabled, timeout=WAIT_MS)
    slider.setFocus(Qt.FocusReason.MouseFocusReason)
    window.stop_by_user()
    window._on_tick()  # stopped: the bar has nothing to seek
    assert not slider.isEnabled() and focused(window) is window.video, focused(window)


def test_teach_delete_and_record_buttons_keep_space_and_r(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    panel, source_edit = window.record_panel, window.source_panel.source_edit
    spec = source_edit.text()
    panel.action_edit.setText("clap")
    for button in (panel.teach_button, panel.delete_button):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # no takes: a note, nothing else
        wait_idle(qtbot, window)
        assert button.isEnabled() and focused(window) is button
    qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    assert window._recorder is not None and focused(window) is panel.record_button
    qtbot.keyClick(focused(window), Qt.Key.Key_R)  # stops the take (too short: refused)
    assert window._recorder is None
    qtbot.keyClick(focused(window), Qt.Key.Key_Space)
    assert window.state == "paused" and source_edit.text() == spec
    window.stop()
