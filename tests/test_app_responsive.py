"""The UI thread only draws: while each slow action runs (opening a source, a stalled stream,
loading a model, scanning cameras, teaching, forgetting a taught action) the event loop never stops for more than 100 ms,
and a stalled stream can be cancelled. Plus the #18 behaviours: real keys and wheel events."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.test_app import WAIT_MS, make_window, model_copy, toy_clip, wait_idle, wait_label  # noqa: F401

MAX_GAP_MS = 100
pytestmark = pytest.mark.serial  # wall-clock bounds: run alone, not beside a training test


class GapMeter:
    """A 10 ms timer; the longest interval between its ticks is the longest UI freeze."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.max_ms = 0.0
        self.timer = QTimer(interval=10, timeout=self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.max_ms = max(self.max_ms, (now - self.last) * 1e3)
        self.last = now

    def reset(self) -> None:
        self.last, self.max_ms = time.perf_counter(), 0.0


@pytest.fixture
def stalled_server():
    """127.0.0.1 HTTP 'server' that accepts connections and never answers (closed after the test)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns, stop = [], threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/stream.mjpg"
    stop.set()
    thread.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_event_loop_keeps_turning_during_each_slow_action(
    make_window, qtbot, model_copy, toy_data, tmp_path, stalled_server, monkeypatch
):
    window = make_window(str(toy_clip(toy_data, "jump", 2)), model_copy)
    wait_label(qtbot, window, "jump")
    meter = GapMeter()
    gaps = {}

    def measure(name: str, action, until, setup=None) -> None:
        # A blocking call stalls the loop every time; a busy shared machine only now and then:
        # an action over the bound is measured once more and the better run counts.
        for _ in range(2):
            if setup is not None:
                setup()
            meter.reset()
            action()
            qtbot.waitUntil(until, timeout=WAIT_MS)
            qtbot.wait(30)  # a tick after the action: a blocking one's gap is counted too
            gaps[name] = min(gaps.get(name, 1e9), meter.max_ms)
            if gaps[name] < MAX_GAP_MS:
                break

    measure(
        "open replay", lambda: window.open_source(str(toy_data / "wave")), lambda: window.running
    )
    measure("load model", lambda: window.load_model(model_copy), lambda: not window.tasks)
    measure("camera scan", window.rescan_cameras, lambda: not window.tasks)
    window.record_panel.action_edit.setText("hop")
    for _ in range(3):
        window.toggle_recording()
        qtbot.waitUntil(lambda: window._recorder.num_frames >= 32, timeout=WAIT_MS)
        assert window.toggle_recording() is not None
    measure("teach", window.teach, lambda: window.teach_review is not None and not window.tasks)
    qtbot.mouseClick(window.teach_review.use_button, Qt.MouseButton.LeftButton)  # use them
    qtbot.waitUntil(lambda: "Taught “hop”" in window.banner.text, timeout=WAIT_MS)
    measure_forget(window, qtbot, monkeypatch, measure)

    # A stalled stream: the window stays responsive, shows progress, and the user can cancel.
    def stalled_then_cancel() -> None:
        window.open_source(stalled_server)
        qtbot.wait(600)
        assert "source" in window.tasks and window.busy.isVisible()
        qtbot.mouseClick(window.busy.cancel_button, Qt.MouseButton.LeftButton)
        assert not window.tasks and not window.busy.isVisible() and window.state == "stopped"

    measure("stalled stream", stalled_then_cancel, lambda: not window.tasks)
    meter.timer.stop()
    print("event-loop gaps (ms):", {k: round(v, 1) for k, v in gaps.items()})
    assert all(gap < MAX_GAP_MS for gap in gaps.values()), gaps


SLOW_REFIT_S = 0.5  # a refit this slow would be a 500 ms freeze if it ran on the UI thread


def measure_forget(window, qtbot, monkeypatch, measure) -> None:
    """Forget one of two taught actions, the head's refit slowed down to SLOW_REFIT_S."""
    from relsar_core.runtime import fewshot

    model = window.settings.model
    hop = fewshot.load_taught(model)
    two = fewshot.TaughtExamples(  # "hop" and a copy of it named "spin": forgetting refits
        *(np.concatenate([a, a]) for a in (hop.embeddings, hop.descriptors)),
        np.concatenate([hop.labels, np.full(len(hop.labels), "spin")]),
        np.concatenate([hop.clips, hop.clips + int(hop.clips.max()) + 1]),
    )
    fit_head = fewshot.fit_head

    def slow_fit_head(*args):
        time.sleep(SLOW_REFIT_S)
        return fit_head(*args)

    monkeypatch.setattr("relsar_core.runtime.fewshot.fit_head", slow_fit_head)
    monkeypatch.setattr(
        "app.teaching.QMessageBox.question", lambda *a: QMessageBox.StandardButton.Yes
    )
    started = []

    def forget() -> None:
        started.append(time.perf_counter())
        assert window.forget_action("spin") is not None  # a worker ...
        assert "forget" in window.tasks and window.busy.isVisible()  # ... shown in the strip

    measure("forget", forget, lambda: not window.tasks, lambda: fewshot.save_taught(model, two))
    assert time.perf_counter() - started[-1] >= SLOW_REFIT_S  # the slow refit did run
    assert "hop" in window.classifier.class_names and "spin" not in window.classifier.class_names
    assert "Forgot the taught action “spin”" in window.banner.text


def test_stalled_stream_fails_in_bounded_time(
    make_window, qtbot, model_copy, toy_data, monkeypatch, stalled_server
):
    monkeypatch.setattr("relsar_core.live.capture.STREAM_TIMEOUT_MS", 1500)
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    start = time.perf_counter()
    window.open_source(stalled_server)
    qtbot.waitUntil(lambda: window.banner.level == "error" and not window.tasks, timeout=WAIT_MS)
    assert time.perf_counter() - start < 10
    assert "127.0.0.1" in window.banner.text and not window.running
    assert window.video.frames_drawn == 0  # the last video's frame is not left on screen


def test_text_fields_leave_on_enter_or_esc_and_shortcuts_work(
    make_window, qtbot, model_copy, toy_data
):
    window = make_window(str(toy_clip(toy_data, "arms_up")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    assert window.focusWidget() is window.video  # not the source field: Space works at once
    edit = window.record_panel.action_edit
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)  # click in: editing
    assert edit.hasFocus()
    qtbot.keyClicks(edit, "reach up")  # while typing, r and space type into the field
    assert edit.text() == "reach up" and window._recorder is None and window.running
    qtbot.keyClick(edit, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Ctrl+R: record
    assert window._recorder is not None and edit.text() == "reach up"
    qtbot.keyClick(edit, Qt.Key.Key_Escape)  # done typing: the field keeps the focus ...
    assert edit.hasFocus() and edit.isReadOnly()
    qtbot.keyClick(edit, Qt.Key.Key_R)  # ... and R stops the recording, typing nothing
    assert window._recorder is None and edit.text() == "reach up"
    qtbot.keyClick(edit, Qt.Key.Key_Space)  # Space pauses, even with the field focused
    assert window.state == "paused" and edit.text() == "reach up"
    qtbot.keyClick(edit, Qt.Key.Key_Space)
    assert window.state == "running"
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)  # typing again edits the name again
    qtbot.keyClicks(edit, "r")
    assert edit.text() == "reach ur" and window._recorder is None and not edit.isReadOnly()
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # Enter finishes too
    qtbot.waitUntil(lambda: edit.isReadOnly(), timeout=WAIT_MS)
    qtbot.keyClick(edit, Qt.Key.Key_R)
    assert window._recorder is not None and edit.text() == "reach ur"
    qtbot.keyClick(edit, Qt.Key.Key_R)
    assert window._recorder is None
    qtbot.keyClick(edit, Qt.Key.Key_Escape)  # Esc in a finished field leaves it
    assert window.video.hasFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # name it
    assert edit.hasFocus() and not edit.isReadOnly() and edit.selectedText() == "reach ur"
    qtbot.keyClicks(edit, "wave")  # typing replaces the selected name
    assert edit.text() == "wave" and window._recorder is None
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.video, Qt.MouseButton.LeftButton)
    assert window.video.hasFocus()


def test_space_and_r_on_focused_buttons_spin_and_combo_boxes(
    make_window, qtbot, model_copy, toy_data
):
    """Space would click a focused button or open a combo box, R would go into a spin box."""
    window = make_window(str(toy_clip(toy_data, "arms_up")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    window.record_panel.action_edit.setText("clap")
    teach_button = window.record_panel.teach_button
    taught = []
    window.record_panel.teach_requested.connect(lambda: taught.append(1))
    for widget in (
        teach_button,
        window.model_panel.pose_combo,
        window.model_panel.stride_spin,
        window.source_panel.source_edit,
    ):
        widget.setFocus()
        assert widget.hasFocus(), widget
        before = window.state
        qtbot.keyClick(widget, Qt.Key.Key_Space)
        assert window.state != before, widget  # paused or resumed
        qtbot.keyClick(widget, Qt.Key.Key_Space)
        assert window.state == before, widget
        qtbot.keyClick(widget, Qt.Key.Key_R)
        assert window._recorder is not None, widget
        qtbot.keyClick(widget, Qt.Key.Key_R)
        assert window._recorder is None, widget
    assert not taught  # Space never clicked the focused Teach button
    assert window.model_panel.stride_spin.value() == window.settings.stride
    assert " " not in window.source_panel.source_edit.text()
    assert not window.model_panel.pose_combo.view().isVisible()


def test_space_pauses_a_file_and_resumes_where_it_was(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_data / "wave"), model_copy)
    wait_label(qtbot, window, "wave")
    entries = len(window.results.timeline.entries)
    window.video.setFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    assert window.state == "paused" and window.source_panel.start_button.text() == "Resume"
    drawn = window.video.frames_drawn
    position = window.source.position
    qtbot.wait(400)
    assert window.video.frames_drawn <= drawn + 1 and window.results.timeline.frozen_at
    assert "paused" in window.results.stats_label.full_text()
    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.video.frames_drawn > drawn + 5, timeout=WAIT_MS)
    assert window.source.position >= position  # not from frame 0
    assert len(window.results.timeline.entries) >= entries  # the timeline is not cleared


def test_wheel_over_unfocused_combo_and_spin_boxes_changes_nothing(
    make_window, qtbot, model_copy, toy_data
):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    combo, spin = window.model_panel.pose_combo, window.model_panel.stride_spin
    before = (combo.currentText(), spin.value())
    for widget in (combo, spin):
        centre = QPointF(widget.width() / 2, widget.height() / 2)
        event = QWheelEvent(
            centre,
            widget.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)
    assert (combo.currentText(), spin.value()) == before
    assert window.settings.pose_backend == before[0]


def test_width_never_depends_on_text_and_fits_small_screens(
    make_window, qtbot, model_copy, toy_data
):
    window = make_window(str(toy_clip(toy_data, "wave")), model_copy)
    window.resize(1366, 740)
    qtbot.wait(50)
    width = window.width()
    window.record_panel.action_edit.setText("x" * 240)
    window.show_message("y" * 400, "info")
    window.results.recording_label.setText("● REC " + "z" * 300)
    qtbot.wait(50)
    assert window.width() == width and window.minimumSizeHint().width() <= 1000
    assert len(window.record_panel.action_edit.text()) <= 64  # a file system's name fits
    window.resize(1000, 600)
    qtbot.wait(50)
    assert window.width() <= 1000
    scroll = window.side_scroll
    scroll.ensureWidgetVisible(window.record_panel.teach_button)  # every panel is reachable
    qtbot.wait(20)
    pos = window.record_panel.teach_button.mapTo(scroll.viewport(), QPoint(0, 0))
    assert 0 <= pos.y() < scroll.viewport().height()


def test_overlong_action_name_is_refused_before_recording(
    make_window, qtbot, model_copy, toy_data, tmp_path
):
    window = make_window(str(toy_clip(toy_data, "wave")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    window.record_panel.action_edit.setMaxLength(1000)  # as if pasted around the limit
    window.record_panel.action_edit.setText("a" * 240)
    assert window.toggle_recording() is None and window._recorder is None
    assert "too long" in window.banner.text
    assert not (tmp_path / "recordings").exists()  # no empty folder left behind
    window.record_panel.action_edit.setText("")
    window.toggle_recording()
    assert "''" not in window.banner.text and "name" in window.banner.text


def test_stopped_state_and_headline_after_model_load(
    make_window, qtbot, model_copy, toy_data, tmp_path
):
    window = make_window(str(toy_data / "squat"), model_copy)
    wait_label(qtbot, window, "squat")
    window.stop_by_user()
    assert window.state == "stopped" and "stopped" in window.results.stats_label.full_text()
    assert "#888" in window.results.action_label.styleSheet()
    runs = window.results.timeline.segments()
    qtbot.wait(600)
    assert window.results.timeline.segments() == runs  # the last label is not extended
    window.start()
    wait_label(qtbot, window, "squat")
    window.load_model(model_copy)
    wait_idle(qtbot, window)
    bars = window.results.bars
    shown = window.results.action_label.full_text()
    assert shown == "—" or bars.probabilities[bars.class_names.index(shown)] > 0


def test_gone_saved_model_and_source_fall_back(
    make_window, qtbot, model_copy, toy_data, tmp_path, monkeypatch
):
    monkeypatch.setattr("app.session.DEFAULT_MODEL", model_copy)
    window = make_window(None, tmp_path / "gone.tflite", source=str(tmp_path / "gone.mp4"))
    assert window.classifier is not None and "gone.tflite" in window.banner.text
    assert "gone.mp4" in window.banner.text and window.source_spec == "demo"
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)


def test_export_results_and_help(make_window, qtbot, model_copy, toy_data, tmp_path):
    import json

    from app import menus

    window = make_window(str(toy_data / "squat"), model_copy)
    wait_label(qtbot, window, "squat")
    out = window.export_results(tmp_path / "r.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and rows[-1]["label"] == "squat" and "squat" in rows[-1]["probabilities"]
    csv_out = window.export_results(tmp_path / "r.csv")
    assert (
        csv_out.read_text().splitlines()[0].startswith("time,source,person,frame,label,confidence")
    )
    assert "PySide6" in menus.about_text() and "squat" in menus.classes_text(window)
    assert window.recent_menu.actions()[0].text().endswith("squat")
