"""What the window says after a user's action, seen under Xvfb: Export says where it wrote and
how many rows (and the file names each row's person and source), R while paused says it is
paused, Teach without a name asks for the action to teach, and a class keeps its colour when a
taught action is forgotten."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.test_app import (  # noqa: F401 - fixtures
    WAIT_MS,
    make_window,
    model_copy,
    toy_clip,
)


def test_record_while_paused_says_it_is_paused(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "squat")), model_copy, loop=True)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.video.frames_drawn > 0, timeout=WAIT_MS)
    window.record_panel.action_edit.setText("clap")
    window.video.setFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    assert window.state == "paused"
    qtbot.keyClick(window.video, Qt.Key.Key_R)
    assert window._recorder is None
    assert window.banner.text == "Paused: press Space to play, then record."
    window.stop()


def test_teach_without_a_name_asks_for_the_action_to_teach(
    make_window, qtbot, model_copy, toy_data, tmp_path
):
    window = make_window(str(toy_clip(toy_data, "squat")), model_copy)
    window.record_panel.action_edit.setText("")
    assert window.teach() is None
    text = window.banner.text
    assert "to teach" in text and "then record" not in text
    assert str(tmp_path / "recordings") in text  # where its takes would come from
    window.stop()
