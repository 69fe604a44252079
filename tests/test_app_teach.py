"""Teaching in the app: the work runs in a worker thread (the Qt event loop keeps turning), and
before switching the user sees each taught action's leave-one-clip-out score and chooses."""

from __future__ import annotations

import shutil
import time

import pytest
from PySide6.QtCore import Qt, QTimer

from app.settings import open_store
from app.teach_review import TeachReview
from app.window import MainWindow
from relsar_core.runtime import fewshot

WAIT_MS = 15000


@pytest.fixture
def teach_window(qtbot, tiny_tflite_model, toy_data, tmp_path):
    """A window on a private copy of the tiny model, with three takes of "hop" (toy jumps) and
    three of "flap" (toy waves) recorded."""
    model = tmp_path / "model" / "toy.tflite"
    model.parent.mkdir()
    shutil.copy(tiny_tflite_model, model)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), model.with_suffix(".json"))
    for name, source in (("hop", "jump"), ("flap", "wave")):
        takes = tmp_path / "recordings" / name
        takes.mkdir(parents=True)
        for path in sorted((toy_data / source).glob("*.npz"))[:3]:
            shutil.copy(path, takes / path.name)
    store = open_store(str(tmp_path / "settings.ini"))
    window = MainWindow(
        store, None, {"model": str(model), "data_root": str(tmp_path / "recordings")}
    )
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: not window.tasks and window.classifier is not None, timeout=WAIT_MS)
    return window, model


def wait_review(qtbot, window) -> TeachReview:
    qtbot.waitUntil(lambda: window.teach_review is not None, timeout=WAIT_MS)
    review = window.teach_review
    qtbot.waitUntil(review.isVisible, timeout=WAIT_MS)
    return review


def test_the_event_loop_keeps_turning_while_teaching(qtbot, teach_window, monkeypatch):
    window, model = teach_window
    real_teach = fewshot.teach

    def slow_teach(*args, **kwargs):  # the real teaching, made to last: a slow machine
        time.sleep(1.0)
        return real_teach(*args, **kwargs)

    monkeypatch.setattr(fewshot, "teach", slow_teach)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    started = time.perf_counter()
    window.teach("hop")
    assert time.perf_counter() - started < 0.5  # the call returns at once
    review = wait_review(qtbot, window)
    qtbot.wait(300)  # the review is open and the loop still turns (open(), not exec())
    timer.stop()
    assert len(ticks) >= 20  # ≥ 1 s of 20 ms ticks while teaching ran
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.5  # never blocked
    qtbot.mouseClick(review.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.tasks, timeout=WAIT_MS)
    assert "hop" in window.classifier.class_names
    window.close()


def test_teach_shows_leave_one_clip_out_scores_and_switches_only_when_accepted(qtbot, teach_window):
    window, model = teach_window
    before = window.classifier
    window.record_panel.action_edit.setText("hop")
    qtbot.mouseClick(window.record_panel.teach_button, Qt.MouseButton.LeftButton)
    review = wait_review(qtbot, window)
    shown = review.scores_shown()
    assert list(shown) == ["hop"]  # one action taught: its own score, 3 clips → a percentage
    assert shown["hop"].endswith("%") and 0 <= int(shown["hop"][:-1]) <= 100
    # Decline with Escape, as a person would: nothing saved, nothing switched.
    qtbot.keyClick(review, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.teach_review is None, timeout=WAIT_MS)
    assert not fewshot.taught_path(model).exists()
    assert window.classifier is before and "hop" not in window.classifier.class_names
    assert "nothing was saved" in window.banner.text

    # Accept with a click: saved, switched, and the next action's review shows both actions.
    qtbot.mouseClick(window.record_panel.teach_button, Qt.MouseButton.LeftButton)
    review = wait_review(qtbot, window)
    qtbot.mouseClick(review.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "hop" in window.classifier.class_names, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.tasks, timeout=WAIT_MS)
    assert set(fewshot.load_taught(model).labels) == {"hop"}
    assert "Taught “hop”" in window.banner.text

    window.record_panel.action_edit.setText("flap")
    qtbot.mouseClick(window.record_panel.teach_button, Qt.MouseButton.LeftButton)
    review = wait_review(qtbot, window)
    shown = review.scores_shown()
    assert list(shown) == ["flap", "hop"]  # the new action first, then those taught before
    # Taught from the tiny model's own jump and wave clips: the base-class gate keeps those
    # windows jump and wave, and the score says so before anything is used (a new action's high
    # score: tests/test_teach.py::test_loco_scores_*).
    assert all(int(text[:-1]) < 50 for text in shown.values()), shown
    assert "Weak: " in review.explanation.text()
    notes = [review.table.item(r, 3).text() for r in range(review.table.rowCount())]
    assert all("weak" in note for note in notes), notes  # each weak row says so (was empty)
    qtbot.keyClick(review, Qt.Key.Key_Escape)  # declining the second keeps the first
    qtbot.waitUntil(lambda: window.teach_review is None, timeout=WAIT_MS)
    assert set(fewshot.load_taught(model).labels) == {"hop"}
    assert "flap" not in window.classifier.class_names and "hop" in window.classifier.class_names

    # Teaching "hop" again and declining keeps the earlier "hop", and the banner says so.
    window.record_panel.action_edit.setText("hop")
    qtbot.mouseClick(window.record_panel.teach_button, Qt.MouseButton.LeftButton)
    review = wait_review(qtbot, window)
    qtbot.keyClick(review, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.teach_review is None, timeout=WAIT_MS)
    assert "hop" in window.classifier.class_names
    assert "“hop” stays as it was taught before" in window.banner.text, window.banner.text
    window.close()


def test_teach_waits_while_forgetting_runs(qtbot, teach_window, monkeypatch):
    """Both rewrite the taught file: Teach refuses while a Forget runs (and Forget while Teach)."""
    from PySide6.QtWidgets import QMessageBox

    window, model = teach_window
    base = window.base_classifier
    fewshot.teach(
        base, model, {"hop": sorted((model.parent.parent / "recordings" / "hop").glob("*.npz"))}
    )
    window.load_model(model)
    qtbot.waitUntil(
        lambda: not window.tasks and "hop" in window.classifier.class_names, timeout=WAIT_MS
    )
    real_forget = fewshot.forget_taught

    def slow_forget(*args, **kwargs):
        time.sleep(1.5)
        return real_forget(*args, **kwargs)

    monkeypatch.setattr(fewshot, "forget_taught", slow_forget)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(window.record_panel.forget_button, Qt.MouseButton.LeftButton)
    assert "forget" in window.tasks
    window.record_panel.action_edit.setText("flap")
    qtbot.mouseClick(window.record_panel.teach_button, Qt.MouseButton.LeftButton)
    assert "teach" not in window.tasks and window.teach_review is None
    assert "Wait until forgetting has finished, then teach." in window.banner.text
    qtbot.waitUntil(lambda: not window.tasks, timeout=WAIT_MS)
    assert "hop" not in window.classifier.class_names
    window.close()


def test_teaching_a_name_of_the_models_own_class_says_so_in_the_review(qtbot, teach_window):
    window, _ = teach_window
    root = window.settings.data_root
    shutil.copytree(f"{root}/flap", f"{root}/wave")  # the tiny model has a class "wave"
    window.record_panel.action_edit.setText("wave")
    qtbot.mouseClick(window.record_panel.teach_button, Qt.MouseButton.LeftButton)
    review = wait_review(qtbot, window)
    assert "one of the model's own actions: adds to it" in review.table.item(0, 3).text()
    qtbot.keyClick(review, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.teach_review is None, timeout=WAIT_MS)
    window.close()
