"""Slow work off the Qt UI thread, in the style of superqt/napari `thread_worker`.

`run_task(label, fn, ...)` runs `fn(task)` in a thread pool and hands its result (or a one-line
error) back to the UI thread through queued signals. `fn` may call `task.report(text)` to show
progress and check `task.cancelled`. Cancelling never waits: the UI is free at once; if the work
still finishes later (a blocking open cannot be interrupted), its result goes to `discard`
(e.g. closing a source nobody wants any more) instead of the UI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from relsar_core.errors import RelsarError, first_line

# Enough threads that a stalled stream never queues a model load or a camera scan behind it.
_POOL = QThreadPool()
_POOL.setMaxThreadCount(8)
_MAX_MESSAGE = 300  # a user message, not a stack dump


def user_message(exc: BaseException) -> str:
    """One line a person can read: the message of a RelsarError, else the first line of the
    exception with its type, never a multi-line dump."""
    if isinstance(exc, RelsarError):
        text = str(exc)
    else:
        first = first_line(exc, default="")
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class Task(QObject):
    """One piece of work in a worker thread; its signals arrive in the UI thread."""

    progress = Signal(str)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()  # after succeeded/failed/cancel, exactly once
    _result = Signal(object, str, bool)  # worker → UI thread: result, error, ok

    def __init__(self, label: str, discard: Callable[[Any], None] | None = None) -> None:
        super().__init__()
        self.label = label
        self.discard = discard
        self._cancel = threading.Event()
        self.done = False
        self.text = label
        self.progress.connect(self._set_text)
        self._result.connect(self._deliver)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, text: str) -> None:
        """From the worker: what it is doing now (shown beside the progress bar)."""
        self.progress.emit(text)

    def cancel(self) -> None:
        if self.done or self.cancelled:
            return
        self._cancel.set()
        self.done = True
        self.finished.emit()

    def _set_text(self, text: str) -> None:
        self.text = text

    def _deliver(self, result: Any, error: str, ok: bool) -> None:
        if self.cancelled:
            if ok and result is not None and self.discard is not None:
                self.discard(result)
            return
        self.done = True
        if ok:
            self.succeeded.emit(result)
        else:
            self.failed.emit(error)
        self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task, fn: Callable[[Task], Any]) -> None:
        super().__init__()
        self.task, self.fn = task, fn  # strong references: the task outlives any widget
        self.discard = task.discard  # still callable if the task's Qt side is gone

    def run(self) -> None:
        try:
            result = self.fn(self.task)
        except BaseException as exc:  # anything: the UI shows it, the thread never dies loudly
            self._deliver(None, user_message(exc), False)
        else:
            self._deliver(result, "", True)

    def _deliver(self, result: Any, error: str, ok: bool) -> None:
        try:
            self.task._result.emit(result, error, ok)
        except RuntimeError:  # the window closed while this ran (a stalled stream): nobody waits
            if ok and result is not None and self.discard is not None:
                self.discard(result)


def run_task(
    label: str,
    fn: Callable[[Task], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    discard: Callable[[Any], None] | None = None,
) -> Task:
    """Start `fn(task)` in a worker thread; `on_done(result)` / `on_error(message)` run in the
    UI thread unless the task was cancelled first."""
    task = Task(label, discard)
    if on_done is not None:
        task.succeeded.connect(on_done)
    if on_error is not None:
        task.failed.connect(on_error)
    _POOL.start(_Runnable(task, fn))
    return task


def wait_all(timeout_ms: int = 10000) -> bool:
    """Wait for every worker to finish (closing the app, tests)."""
    return _POOL.waitForDone(timeout_ms)
