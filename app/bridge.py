"""From the pipeline's worker threads to the Qt main thread.

`PipelineRunner` calls back in its inference thread; this QObject turns those calls into queued
signals. Results are coalesced: the worker only keeps the newest one and signals once until the
UI has taken it, so a UI that paints slower than the pipeline runs never builds a backlog.
Latencies of every prediction are kept here (not only the ones the UI happens to draw).
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.results_log import ResultsLog
from app.worker import user_message
from relsar_core.live.pipeline import FrameResult, LivePipeline, PipelineRunner
from relsar_core.live.sources import FrameSource


class PipelineBridge(QObject):
    result_ready = Signal()
    failed = Signal(str)
    ended = Signal()

    def __init__(self, parent: QObject | None = None, log: ResultsLog | None = None) -> None:
        super().__init__(parent)
        self.log = log  # every prediction goes here, drawn or not
        self._log_source, self._people_mode = "", False
        self.runner: PipelineRunner | None = None
        self._lock = threading.Lock()
        self._latest: FrameResult | None = None
        self._pending = False
        self.latencies: deque[float] = deque(maxlen=300)
        self.predictions = 0
        self._stopping: list[threading.Thread] = []

    def start(self, source: FrameSource, pipeline: LivePipeline, label: str = "") -> None:
        """Run `pipeline` on `source`; `label` names the source in the results log."""
        self.stop()
        self._log_source, self._people_mode = label or source.name, pipeline.people > 1
        with self._lock:
            self._latest, self._pending = None, False
        self.latencies.clear()
        self.predictions = 0
        runner = PipelineRunner(
            source,
            pipeline,
            lambda r: self._on_result(runner, r),
            lambda e: self._on_error(runner, e),
            lambda: self._on_end(runner),
        )
        self.runner = runner
        runner.start()

    def stop(self) -> None:
        """Stop at once without waiting: the old threads finish (and close their source) in a
        helper thread, so a source stuck in a read never blocks the UI."""
        runner, self.runner = self.runner, None
        if runner is None:
            return
        runner._stop.set()
        runner.slot.close()
        stopper = threading.Thread(target=runner.stop, args=(10.0,), daemon=True)
        stopper.start()
        with self._lock:
            self._stopping = [t for t in self._stopping if t.is_alive()] + [stopper]
            self._latest, self._pending = None, False

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until stopped sources are closed (a worker, before it reuses the pose model)."""
        with self._lock:
            stopping = list(self._stopping)
        for thread in stopping:
            thread.join(timeout)
        return not any(t.is_alive() for t in stopping)

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def take(self) -> FrameResult | None:
        """The newest result (called by the UI on `result_ready`)."""
        with self._lock:
            result, self._latest, self._pending = self._latest, None, False
            return result

    def latency_p50_p95(self) -> tuple[float, float] | None:
        if not self.latencies:
            return None
        lat = np.fromiter(self.latencies, float)
        return float(np.percentile(lat, 50)), float(np.percentile(lat, 95))

    # -- called in the inference thread --
    def _on_result(self, runner: PipelineRunner, result: FrameResult) -> None:
        if runner is not self.runner:
            return  # a stopped source's last frame
        if result.prediction is not None:
            self.latencies.append(result.prediction.latency_ms)
            self.predictions += 1
        if self.log is not None:
            for pred in result.predictions:  # one per person in view in people mode
                self.log.add(pred, self._log_source, pred.person if self._people_mode else None)
        with self._lock:
            self._latest = result
            if self._pending:
                return
            self._pending = True
        self.result_ready.emit()

    def _on_error(self, runner: PipelineRunner, exc: BaseException) -> None:
        if runner is self.runner:
            self.failed.emit(user_message(exc))

    def _on_end(self, runner: PipelineRunner) -> None:
        if runner is self.runner:
            self.ended.emit()
