"""Teaching in the app does not stop the Qt event loop: the work runs in a worker thread."""

from __future__ import annotations

import shutil
import time

from PySide6.QtCore import QTimer

from app.settings import open_store
from app.window import MainWindow
from relsar_core.runtime import fewshot

WAIT_MS = 15000


def test_the_event_loop_keeps_turning_while_teaching(
    qtbot, tiny_tflite_model, toy_data, tmp_path, monkeypatch
):
    model = tmp_path / "model" / "toy.tflite"
    model.parent.mkdir()
    shutil.copy(tiny_tflite_model, model)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), model.with_suffix(".json"))
    takes = tmp_path / "recordings" / "hop"
    takes.mkdir(parents=True)
    for path in sorted((toy_data / "jump").glob("*.npz"))[:3]:
        shutil.copy(path, takes / path.name)
    store = open_store(str(tmp_path / "settings.ini"))
    window = MainWindow(
        store, None, {"model": str(model), "data_root": str(tmp_path / "recordings")}
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.tasks and window.classifier is not None, timeout=WAIT_MS)

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
    qtbot.waitUntil(lambda: not window.tasks, timeout=WAIT_MS)
    timer.stop()
    assert len(ticks) >= 20  # ≥ 1 s of 20 ms ticks while teaching ran
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.5  # never blocked
    assert "hop" in window.classifier.class_names
    window.close()
