"""Videos in, skeleton clips out: one `.npz` per video in `<out>/<class>/<clip>.npz`, the class
being the video's parent folder, so the result is a data set `relsar-train` reads directly.

Built for large corpora: finished clips are skipped (writes are atomic, so a clip on disk is
complete), `shard(k, n)` splits the work by a stable hash of each video's path so machines that
list files in different orders still agree, and a bad video is reported, never fatal."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from relsar_core.errors import ClipError, DataError, first_line
from relsar_core.files import visible
from relsar_core.pose.base import PoseEstimator
from relsar_core.skeleton.clip import Clip, load_clip, save_clip
from relsar_core.skeleton.layouts import BODY15_BONES, to_body15

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"}
)
DEFAULT_FPS = 30.0  # when a container does not say (some webcams' .avi)


@dataclass(frozen=True)
class ExtractJob:
    video: Path
    label: str  # the parent folder's name
    out: Path  # the clip to write
    overlay: Path | None = None  # optional check video


@dataclass
class ExtractResult:
    video: str
    status: str  # "done" | "skipped" | "failed"
    frames: int = 0
    frames_with_person: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass
class ExtractSummary:
    results: list[ExtractResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failures(self) -> list[ExtractResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results if r.status == "done")


def find_videos(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """(video, the input root it was found under) for files and folders (searched recursively)."""
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        # Resolved, so `videos/../x.mp4` has a real parent folder as its class, never "..".
        item = Path(item).resolve()
        if item.is_dir():
            found += [
                (p, item)
                for p in visible(item.rglob("*"), item)
                if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
            ]
        elif item.is_file():
            found.append((item, item.parent))
        else:
            raise DataError(f"{item}: no such video file or folder")
    if not found:
        raise DataError(
            f"{', '.join(map(str, inputs))}: no videos found ({', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    return found


def _safe(name: str) -> str:
    """A file or folder name of letters, digits, '.', '_', '-' that never starts with a dot
    (no hidden clip, no '..' that would climb out of --out)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "clip"


def plan_jobs(
    inputs: list[Path], out_dir: Path, overlay_dir: Path | None = None
) -> list[ExtractJob]:
    """Every video's clip path. The clip is named after the video; when two videos of one class
    share a name (in different sub-folders), the sub-folders are joined into the name. Decided on
    the full list, so every shard of a split run names clips the same way."""
    videos = find_videos(inputs)
    labels = [_safe(v.parent.name) for v, _ in videos]
    stems = Counter((label, _safe(v.stem)) for (v, _), label in zip(videos, labels, strict=True))
    jobs, seen = [], set()
    for (video, root), label in zip(videos, labels, strict=True):
        name = _safe(video.stem)
        if stems[(label, name)] > 1:
            rel = video.relative_to(root) if video.is_relative_to(root) else video
            name = "__".join(_safe(p) for p in (*rel.parent.parent.parts, video.stem)) or name
        if (label, name) in seen:  # the same file given twice
            continue
        seen.add((label, name))
        overlay = overlay_dir / label / f"{name}.mp4" if overlay_dir else None
        jobs.append(ExtractJob(video, label, out_dir / label / f"{name}.npz", overlay))
    return jobs


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" with 0 <= K < N (SLURM_ARRAY_TASK_ID with --array=0-(N-1))."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise DataError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def shard(jobs: list[ExtractJob], k: int, n: int) -> list[ExtractJob]:
    """The jobs of shard k of n, by a stable hash of the output path."""
    return [j for j in jobs if zlib.crc32(f"{j.label}/{j.out.name}".encode()) % n == k]


def is_finished(job: ExtractJob) -> bool:
    if not job.out.is_file():
        return False
    try:
        load_clip(job.out)
    except ClipError:  # unreadable (written by something else): do it again
        return False
    return job.overlay is None or job.overlay.is_file()


def extract_video(
    job: ExtractJob,
    estimator: PoseEstimator,
    max_frames: int | None = None,
    on_frame: Callable[[], None] | None = None,
) -> ExtractResult:
    """Run the estimator over every frame of one video and write its clip (and overlay)."""
    start = time.perf_counter()
    cap = cv2.VideoCapture(str(job.video))
    overlay = None
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None or frame.ndim != 3:
            return ExtractResult(
                str(job.video), "failed", message="unreadable video (cannot decode a frame)"
            )
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = float(fps) if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        h, w = frame.shape[:2]
        if job.overlay is not None:
            overlay = OverlayWriter(job.overlay, fps, (w, h), estimator.layout)
        estimator.reset()
        rows: list[np.ndarray | None] = []
        while ok and (max_frames is None or len(rows) < max_frames):
            skeleton = estimator.estimate(frame)
            rows.append(None if skeleton is None else skeleton.keypoints.astype(np.float32))
            if overlay is not None:
                overlay.write(frame, rows[-1])
            if on_frame is not None:
                on_frame()
            ok, frame = cap.read()
        seen = sum(r is not None for r in rows)
        if seen == 0:
            return ExtractResult(
                str(job.video),
                "failed",
                len(rows),
                0,
                time.perf_counter() - start,
                f"no person found in {len(rows)} frames",
            )
        joints = next(r for r in rows if r is not None).shape[0]
        # A frame without a person: every joint at confidence 0 (features fill them from neighbours).
        empty = np.zeros((joints, 3), np.float32)
        keypoints = np.stack([empty if r is None else r for r in rows])
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        save_clip(job.out, Clip(keypoints, estimator.layout, fps, (int(w), int(h)), job.label))
        if overlay is not None:
            overlay.finish()
            overlay = None
        note = ""
        if max_frames is None and declared > 0 and len(rows) < 0.95 * declared:
            note = f"warning: read {len(rows)} of {declared} frames (a truncated or damaged video?)"
        return ExtractResult(
            str(job.video), "done", len(rows), seen, time.perf_counter() - start, note
        )
    finally:
        cap.release()
        if overlay is not None:
            overlay.abort()


def draw_skeleton(
    frame: np.ndarray, keypoints: np.ndarray, layout: str, min_conf: float = 0.3
) -> np.ndarray:
    """The frame with the body15 skeleton drawn (bones between confident joints)."""
    out = frame.copy()
    body = to_body15(keypoints, layout)
    for a, b in BODY15_BONES:
        if body[a, 2] >= min_conf and body[b, 2] >= min_conf:
            pa, pb = (int(body[a, 0]), int(body[a, 1])), (int(body[b, 0]), int(body[b, 1]))
            cv2.line(out, pa, pb, (0, 255, 0), 2, cv2.LINE_AA)
    for x, y, c in body:
        if c >= min_conf:
            cv2.circle(out, (int(x), int(y)), 3, (0, 0, 255), -1, cv2.LINE_AA)
    return out


class OverlayWriter:
    """A check video written frame by frame (no frames kept in memory) into a temporary file
    that replaces `path` only when complete."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], layout: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.layout = path, layout
        self._tmp = path.with_name(f".{path.stem}.part{path.suffix}")
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise DataError(f"{path}: OpenCV cannot write an .mp4 overlay video here")

    def write(self, frame: np.ndarray, keypoints: np.ndarray | None) -> None:
        self._writer.write(
            frame if keypoints is None else draw_skeleton(frame, keypoints, self.layout)
        )

    def finish(self) -> None:
        self._writer.release()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._writer.release()
        self._tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class EstimatorSpec:
    """What each worker process needs to build its own estimator."""

    backend: str = "auto"
    weights: str | None = None
    runtime: str = "torch"
    num_threads: int | None = None

    def create(self) -> PoseEstimator:
        from relsar_core.pose.factory import create_pose_estimator

        return create_pose_estimator(self.backend, self.weights, self.runtime, self.num_threads)


def _safe_extract(
    job: ExtractJob, estimator: PoseEstimator, max_frames: int | None, on_frame=None
) -> ExtractResult:
    try:
        return extract_video(job, estimator, max_frames, on_frame)
    except Exception as err:  # one broken video (decoder crash, disk full) never stops the batch
        first = first_line(err, 200, default="")
        return ExtractResult(str(job.video), "failed", message=f"{type(err).__name__}: {first}")


_worker_estimator: PoseEstimator | None = None


def _watch_parent(parent: int) -> None:
    """A worker whose parent died (SIGKILL, a crash) stops within 0.2 s instead of writing on."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGTERM)


class _Terminated(BaseException):
    """Raised in a worker by SIGTERM while it extracts: unwinds through atomic_write (which
    removes its temp file), then `_work` ends the process."""


_busy = False


def _exit_on_term(signum, frame) -> None:
    if not _busy:
        os._exit(128 + signum)  # idle (waiting for a job): nothing to clean up
    raise _Terminated


def _init_worker(spec: EstimatorSpec, parent: int) -> None:
    global _worker_estimator
    # Ctrl-C reaches the whole process group: the parent decides and terminates the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _worker_estimator = spec.create()


def _work(job: ExtractJob, max_frames: int | None) -> ExtractResult:
    global _busy
    assert _worker_estimator is not None
    _busy = True
    try:
        return _safe_extract(job, _worker_estimator, max_frames)
    except _Terminated:
        os._exit(128 + signal.SIGTERM)
    finally:
        _busy = False


def _terminate(pool) -> None:
    """SIGTERM every worker of `pool` (each removes its half-written temp file and exits)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def extract_all(
    jobs: list[ExtractJob],
    spec: EstimatorSpec,
    workers: int = 1,
    overwrite: bool = False,
    max_frames: int | None = None,
    on_result: Callable[[ExtractResult], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    estimator: PoseEstimator | None = None,
) -> ExtractSummary:
    """Extract every job, skipping finished clips unless `overwrite`. One worker uses
    `estimator` if given (else builds one from `spec`). With workers > 1 each process builds its
    own from `spec`, threads split between them; on_frame is then not called (results arrive per
    video)."""
    summary = ExtractSummary()

    def record(result: ExtractResult) -> None:
        summary.results.append(result)
        if on_result is not None:
            on_result(result)

    todo = []
    for job in jobs:
        if not overwrite and is_finished(job):
            record(ExtractResult(str(job.video), "skipped", message="clip already there"))
        else:
            todo.append(job)
    if not todo:
        return summary
    workers = min(workers, len(todo))  # no process without a video to do
    if workers <= 1:
        own = estimator is None
        estimator = spec.create() if own else estimator  # a missing model: one clear error
        try:
            for job in todo:
                record(_safe_extract(job, estimator, max_frames, on_frame))
        finally:
            if own:
                estimator.close()
        return summary
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from relsar_core.threads import usable_cores

    cores = usable_cores()
    per_worker = EstimatorSpec(
        spec.backend, spec.weights, spec.runtime, spec.num_threads or max(1, cores // workers)
    )
    # spawn: workers start clean (no inherited interpreter threads or progress-bar thread).
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(per_worker, os.getpid())
    ) as pool:
        futures = [pool.submit(_work, job, max_frames) for job in todo]
        try:
            for future in as_completed(futures):
                record(future.result())
        except BrokenProcessPool:
            pool.shutdown(wait=False, cancel_futures=True)
            raise DataError(
                f"a worker process died (its estimator could not start, or it ran out of memory); "
                f"try --workers 1 to see why ({spec.backend} pose)"
            ) from None
        except BaseException:  # Ctrl-C: stop now, not after every running video
            _terminate(pool)  # before shutdown, which forgets the processes
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return summary
