"""What the window says after a state change the tester drove under Xvfb: a good model after a
bad one, Space and Esc while a source opens, and switching source (nothing stale stays up)."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here
from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from tests.test_app import WAIT_MS, make_window, model_copy, toy_clip, wait_idle  # noqa: F401
from tests.test_app_responsive import stalled_server  # noqa: F401


def test_a_good_model_after_a_bad_one_clears_the_error(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    bad = model_copy.parent.parent / "bad" / "bad.tflite"
    bad.parent.mkdir()
    bad.write_bytes(model_copy.read_bytes()[:1000])  # truncated, its sidecar intact
    shutil.copy(model_copy.with_suffix(".json"), bad.with_suffix(".json"))
    window.load_model(bad)
    wait_idle(qtbot, window)
    assert window.banner.level == "error" and "Model not loaded" in window.banner.text
    window.load_model(model_copy)
    wait_idle(qtbot, window)
    loaded = f"Loaded toy.tflite — {len(window.classifier.class_names)} actions"
    assert window.banner.level == "info" and window.banner.text == loaded
    assert window.statusBar().currentMessage() == loaded
    window.stop()


def press(qtbot, window, key=Qt.Key.Key_Space) -> None:
    qtbot.keyClick(window.video, key)


def assert_paused_on_a_frame(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.video.frames_drawn >= 1, timeout=WAIT_MS)  # not "Starting…"
    assert window.state == "paused" and window.source_panel.start_button.text() == "Resume"
    assert window.statusBar().currentMessage().startswith("Paused")
    assert window.results.stats_label.full_text().startswith("paused")
    qtbot.wait(300)  # the source may read one more frame while the first is drawn
    drawn, position = window.video.frames_drawn, window.source.position
    qtbot.wait(600)
    assert (window.video.frames_drawn, window.source.position) == (drawn, position)  # held


def test_space_while_a_replay_opens_opens_it_paused_on_its_first_frame(
    make_window, qtbot, model_copy, toy_data
):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    opening = window.start()
    press(qtbot, window)  # while it opens
    assert window.tasks.get("source") is opening  # not a second open
    assert "open paused" in window.statusBar().currentMessage()
    wait_idle(qtbot, window)
    assert_paused_on_a_frame(qtbot, window)
    press(qtbot, window)
    assert window.state == "running" and window.statusBar().currentMessage().startswith("Playing")
    qtbot.waitUntil(lambda: window.video.frames_drawn > 5, timeout=WAIT_MS)
    window.stop()


def test_space_before_the_first_frame_pauses_on_that_frame(
    make_window, qtbot, model_copy, toy_data
):
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    opening = window.start()
    # Right after the source opened, before any frame of it is drawn ("Starting…").
    opening.succeeded.connect(lambda _: press(qtbot, window))
    wait_idle(qtbot, window)
    assert_paused_on_a_frame(qtbot, window)
    window.stop()


def test_esc_while_a_stream_opens_says_it_was_cancelled(
    make_window, qtbot, model_copy, toy_data, monkeypatch, stalled_server
):
    monkeypatch.setattr("relsar_core.live.capture.STREAM_TIMEOUT_MS", 1500)
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    window.open_source(stalled_server)
    assert "Opening http://127.0.0.1" in window.video._placeholder
    press(qtbot, window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: "cancelled" in window.video._placeholder, timeout=WAIT_MS)
    assert not window.tasks and window.busy.isHidden() and window.state == "stopped"
    assert window.statusBar().currentMessage().startswith("Cancelled opening http://127.0.0.1")
    assert window.source_panel.start_button.text() == "Start"
    assert window.results.stats_label.full_text().startswith("stopped")
    qtbot.wait(2500)  # the open gives up meanwhile: nobody is waiting for it any more
    assert "cancelled" in window.video._placeholder and window.banner.text == ""


def test_space_while_a_stream_opens_never_opens_it_again(
    make_window, qtbot, model_copy, toy_data, monkeypatch, stalled_server
):
    monkeypatch.setattr("relsar_core.live.capture.STREAM_TIMEOUT_MS", 1500)
    window = make_window(str(toy_clip(toy_data, "still")), model_copy)
    window.open_source(stalled_server)
    opening = window.tasks["source"]
    press(qtbot, window)
    assert window.tasks.get("source") is opening and not opening.cancelled
    assert "cannot pause" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.banner.level == "error" and not window.tasks, timeout=WAIT_MS)
    assert "127.0.0.1" in window.banner.text and window.state == "stopped"
    assert window.results.stats_label.full_text().startswith("stopped")


def test_a_new_source_clears_the_last_ones_display(make_window, qtbot, model_copy, toy_data):
    from tests.test_app import wait_label

    window = make_window(str(toy_clip(toy_data, "squat")), model_copy)
    wait_label(qtbot, window, "squat")
    qtbot.waitUntil(lambda: window.source_panel.seek_slider.value() > 0, timeout=WAIT_MS)
    press(qtbot, window, Qt.Key.Key_R)  # no action named: a warning about recording
    assert window.banner.level == "warning"
    window.open_source(str(toy_clip(toy_data, "wave")))
    results = window.results
    assert window.banner.text == ""
    assert results.action_label.full_text() == "—" and not results.bars.probabilities.any()
    assert results.bars.current is None and not results.timeline.entries
    assert results.stats_label.full_text() == "opening…"
    slider = window.source_panel.seek_slider
    assert not slider.isEnabled() and slider.value() == 0
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    window.stop()


def test_a_narrow_headline_puts_fps_under_the_name_instead_of_eliding_everything(qtbot):
    """Seen under Xvfb at 800×600: the confidence showed as "6…" and the FPS line as "30....".
    A headline too narrow for all three puts the FPS/latency lines in a second row."""
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from app.panels.results import ResultsPanel

    panel = ResultsPanel(QFont(QApplication.font()))
    qtbot.addWidget(panel.headline)
    panel.set_classes(["arms_out", "raise_hand", "walk"])
    panel.headline.show()
    stats = "30.1 FPS · latency 15/49 ms · pose 12 ms"
    for width, stacked in ((720, False), (350, True), (720, False)):
        panel.headline.resize(width, panel.headline.sizeHint().height())
        qtbot.waitUntil(lambda s=stacked: panel.headline.stacked is s)
        panel.show_label("raise_hand", "63%")
        panel.stats_label.setText(stats)
        QApplication.processEvents()
        assert panel.action_label.text() == "raise_hand" and panel.confidence_label.text() == "63%"
        assert panel.stats_label.text() == stats, (width, panel.stats_label.text())


def test_a_worker_finishing_after_its_task_is_gone_discards_its_result_quietly(qtbot, capfd):
    """Seen under Xvfb: quitting while a stalled stream was still opening printed
    "RuntimeError: Signal source has been deleted" from the worker thread."""
    import threading

    import shiboken6

    from app.worker import run_task, wait_all

    release, discarded = threading.Event(), []
    task = run_task("source", lambda t: release.wait(5) and "a source", discard=discarded.append)
    shiboken6.delete(task)  # the window and its tasks are gone (the app closed)
    release.set()
    assert wait_all(5000)
    assert discarded == ["a source"]  # closed, not leaked
    assert "RuntimeError" not in capfd.readouterr().err
