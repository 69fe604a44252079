"""`relsar-extract --people all|largest`: one skeleton clip per tracked person of a video,
`<out>/<class>/<video>_p<id>.npz`, with the live pipeline's tracker (PersonTracker) keeping
who is who. A clip spans its track from first to last frame seen (frames where the person was
hidden hold zero-confidence joints, as in a one-person clip); tracks seen in fewer than
`min_frames` frames are left out. `largest` keeps only the person with the largest total
visible area (near and long in view: usually the one the video is about).

Lives in live/ (not data/) because it uses the live tracker; layers: live > data."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from relsar_core.data.extract import DEFAULT_FPS, ExtractJob, ExtractResult, ExtractSummary
from relsar_core.errors import ClipError, DataError, first_line
from relsar_core.live.tracking import PersonTracker
from relsar_core.skeleton.clip import Clip, load_clip, save_clip

PEOPLE_MODES = ("all", "largest")
MIN_TRACK_FRAMES = 30  # one model window: a shorter clip cannot be trained on


@dataclass
class _Track:
    first: int
    rows: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> keypoints (own layout)
    area: float = 0.0  # sum over frames of the visible joints' box area


def person_clip_path(job: ExtractJob, person: int) -> Path:
    return job.out.with_name(f"{job.out.stem}_p{person}.npz")


def people_finished(job: ExtractJob) -> bool:
    """Any readable `<video>_p<id>.npz` of this job (a resumed run skips the video)."""
    for path in job.out.parent.glob(f"{job.out.stem}_p*.npz"):
        try:
            load_clip(path)
            return True
        except ClipError:
            continue
    return False


def _people(estimator, frame: np.ndarray) -> list:
    if hasattr(estimator, "estimate_people"):
        return estimator.estimate_people(frame)
    one = estimator.estimate(frame)  # a one-person backend: that person, tracked
    return [] if one is None else [one]


def extract_people(
    job: ExtractJob,
    estimator,
    mode: str = "all",
    min_frames: int = MIN_TRACK_FRAMES,
    max_frames: int | None = None,
    on_frame: Callable[[], None] | None = None,
) -> ExtractResult:
    """Track everyone in one video and write a clip per kept track."""
    if mode not in PEOPLE_MODES:
        raise DataError(f"--people {mode!r}: choose from {', '.join(PEOPLE_MODES)}")
    start = time.perf_counter()
    cap = cv2.VideoCapture(str(job.video))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None or frame.ndim != 3:
            return ExtractResult(str(job.video), "failed", message="unreadable video")
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = float(fps) if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        h, w = frame.shape[:2]
        estimator.reset()
        tracker, tracks, layout, index = PersonTracker(fps=fps), {}, estimator.layout, 0
        while ok and (max_frames is None or index < max_frames):
            skeletons = _people(estimator, frame)
            for p in tracker.update([s.to_body15() for s in skeletons]):
                track = tracks.setdefault(p.person, _Track(index))
                track.rows[index] = skeletons[p.index].keypoints.astype(np.float32)
                track.area += (p.box[2] - p.box[0]) * (p.box[3] - p.box[1])
            if on_frame is not None:
                on_frame()
            index += 1
            ok, frame = cap.read()
    finally:
        cap.release()
    kept = {k: t for k, t in tracks.items() if len(t.rows) >= min_frames}
    if mode == "largest" and kept:
        best = max(kept, key=lambda k: kept[k].area)
        kept = {best: kept[best]}
    seconds = time.perf_counter() - start
    if not kept:
        return ExtractResult(
            str(job.video),
            "failed",
            index,
            0,
            seconds,
            f"no person tracked for {min_frames} frames ({len(tracks)} shorter tracks) "
            f"in {index} frames",
        )
    for person, track in kept.items():
        last = max(track.rows)
        joints = next(iter(track.rows.values())).shape[0]
        keypoints = np.zeros((last - track.first + 1, joints, 3), np.float32)
        for i, kp in track.rows.items():
            keypoints[i - track.first] = kp
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        clip = Clip(keypoints, layout, fps, (int(w), int(h)), job.label)
        save_clip(person_clip_path(job, person), clip)
    seen = sum(len(t.rows) for t in kept.values())
    ids = ", ".join(f"p{k} ({len(t.rows)} frames)" for k, t in kept.items())
    return ExtractResult(str(job.video), "done", index, seen, seconds, f"people: {ids}")


def open_people_estimator(backend: str, weights: str | None, threads: int | None, max_people: int):
    """The backend's several-people estimator (BlazePose's, or ViTPose's batched one)."""
    from relsar_core.pose.factory import create_people_estimator

    return create_people_estimator(backend, weights, num_threads=threads, max_people=max_people)


def extract_all_people(
    jobs: list[ExtractJob],
    estimator,
    mode: str = "all",
    min_frames: int = MIN_TRACK_FRAMES,
    overwrite: bool = False,
    max_frames: int | None = None,
    on_result: Callable[[ExtractResult], None] | None = None,
    on_frame: Callable[[], None] | None = None,
) -> ExtractSummary:
    """`extract_people` for every job, in this process; a video with a clip of anyone already
    written is skipped unless `overwrite`; one broken video never stops the batch."""
    summary = ExtractSummary()
    for job in jobs:
        if not overwrite and people_finished(job):
            result = ExtractResult(str(job.video), "skipped", message="clips already there")
        else:
            try:
                result = extract_people(job, estimator, mode, min_frames, max_frames, on_frame)
            except DataError:
                raise
            except Exception as err:  # a decoder crash, a full disk: report, go on
                first = first_line(err, 200, default="")
                result = ExtractResult(
                    str(job.video), "failed", message=f"{type(err).__name__}: {first}"
                )
        summary.results.append(result)
        if on_result is not None:
            on_result(result)
    return summary
