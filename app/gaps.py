"""How long the UI thread stops: a 10 ms timer whose longest interval between ticks is the
longest freeze of the event loop (relsar-app --report prints it). With each gap, the UI
thread's own CPU time in it (time.thread_time): a gap the UI thread spent computing is the
app's doing; one it spent waiting (for a CPU on a loaded machine, or for the GIL) is not."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import QEvent, QObject, QTimer

TICK_MS = 10


class GapMeter(QObject):
    """Longest gap between ticks; every gap over `print_over_ms` is printed as a JSON line
    (seconds since `start`), so a scripted run can tell which step it happened in."""

    def __init__(self, start: float, print_over_ms: float | None = None) -> None:
        super().__init__()
        self.start = start
        self.print_over_ms = print_over_ms
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()
        self.max_ms = 0.0
        self.max_at_s = 0.0
        self.max_busy_ms = 0.0  # the most UI-thread CPU time between two ticks
        self.ticks = 0
        self.timer = QTimer(self, interval=TICK_MS, timeout=self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gap, busy = (now - self.last) * 1e3, (cpu - self.last_cpu) * 1e3
        self.last, self.last_cpu = now, cpu
        self.ticks += 1
        self.max_busy_ms = max(self.max_busy_ms, busy)
        if gap > self.max_ms:
            self.max_ms, self.max_at_s = gap, now - self.start
        if self.print_over_ms is not None and gap > self.print_over_ms:
            at = round(now - self.start, 3)
            line = {"event": "gap", "ms": round(gap, 1), "ui_cpu_ms": round(busy, 1), "at_s": at}
            print(json.dumps(line), flush=True)

    def reset(self) -> None:
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.max_ms = self.max_busy_ms = 0.0


class CloseHook(QObject):
    """Calls `hook` once when the window is about to close, before its closeEvent stops it."""

    def __init__(self, window, hook) -> None:
        super().__init__(window)
        self.hook = hook

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close and self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return False


def report_messages(window, start: float) -> None:
    """Print what the window tells the user (banner and status bar) as JSON lines, so a
    scripted run can check each step."""

    def say(kind: str, text: str, level: str | None = None) -> None:
        if text:
            line = {"event": kind, "at_s": round(time.perf_counter() - start, 3), "text": text}
            print(json.dumps(line | ({"level": level} if level else {})), flush=True)

    shown = window.show_message

    def show_message(text: str, level: str = "info", append: bool = False) -> None:
        say("message", text, level)
        shown(text, level, append)

    window.show_message = show_message
    window.statusBar().messageChanged.connect(lambda text: say("status", text))
