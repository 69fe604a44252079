"""The landmark model on several people's ROIs of one frame at once.

One interpreter per worker, each with one XNNPACK thread, the calling thread being the first
worker: on a 2-core CPU two people's landmarks run side by side, and no interpreter's thread pool
spins waiting for work (one interpreter with 2 threads cost about 20 % more CPU per invoke than
with 1, measured in docs/pose.md). Invoke releases Python's GIL, so threads suffice. Each ROI's
result depends only on the frame and the ROI, and every interpreter runs the same kernels with
one thread, so the results are the same whichever worker ran which ROI, and the same as running
them one by one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from relsar_core.pose.blazepose.landmarks import BlazePoseLandmarker, LandmarkResult
from relsar_core.pose.roi import Roi
from relsar_core.threads import usable_cores


def default_workers(max_people: int) -> int:
    """As many workers as usable cores, at most one per person."""
    return max(1, min(usable_cores(), max_people))


class LandmarkPool:
    """`run(frame, rois) -> ([LandmarkResult] in the order of `rois`, None)`."""

    def __init__(self, model_path: str, workers: int = 1, threads: int = 1) -> None:
        """`threads`: each interpreter's XNNPACK threads (1 but to measure the alternative)."""
        self.threads = threads
        self.landmarkers = [
            BlazePoseLandmarker(model_path, threads) for _ in range(max(1, workers))
        ]
        self._executor = (
            ThreadPoolExecutor(len(self.landmarkers) - 1, thread_name_prefix="relsar-landmarks")
            if len(self.landmarkers) > 1
            else None
        )

        self.helper_cpu_s = 0.0  # CPU seconds of the busiest helper thread in the last run

    @property
    def workers(self) -> int:
        return len(self.landmarkers)

    def run(
        self, frame_bgr: np.ndarray, rois: list[Roi], first: Callable[[], Any] | None = None
    ) -> tuple[list[LandmarkResult], Any]:
        """The landmarks of every ROI (in the order of `rois`), and the result of `first`
        (e.g. the detector on the same frame), run as one more job before the ROIs."""
        jobs: list[Callable[[BlazePoseLandmarker], Any]] = (
            [] if first is None else [lambda _: first()]
        )
        jobs += [lambda lm, roi=roi: lm.run(frame_bgr, roi) for roi in rois]
        self.helper_cpu_s = 0.0
        if len(jobs) <= 1 or self._executor is None:
            out = [job(self.landmarkers[0]) for job in jobs]
        else:
            out = [None] * len(jobs)
            todo = iter(range(len(jobs)))
            lock = threading.Lock()

            def work(landmarker: BlazePoseLandmarker) -> None:
                # Each worker takes the next job when it is free: a worker the OS holds back (a
                # busy machine) leaves more of the frame's work to the others.
                while True:
                    with lock:
                        i = next(todo, None)
                    if i is None:
                        return
                    out[i] = jobs[i](landmarker)

            def helper(landmarker: BlazePoseLandmarker) -> float:
                start = time.thread_time()
                work(landmarker)
                return time.thread_time() - start

            helpers = [self._executor.submit(helper, lm) for lm in self.landmarkers[1 : len(jobs)]]
            work(self.landmarkers[0])
            # The busiest helper's CPU this frame (a benchmark's measure; .result() also
            # re-raises a worker's error here).
            self.helper_cpu_s = max(future.result() for future in helpers)
        if first is None:
            return out, None
        return out[1:], out[0]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.landmarkers = []
