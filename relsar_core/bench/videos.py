"""Video files the benchmarks play: frames written as a 30 FPS MJPG file, and the sample video's
walker region (the pipeline benchmarks' source)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FPS = 30.0


def write_video(
    folder: Path,
    frames: list[np.ndarray],
    name: str = "bench.avi",
    size: tuple[int, int] | None = None,
) -> Path:
    """An MJPG video at 30 FPS of `frames`, resized on the way to `size` (width, height) if given."""
    import cv2

    path = folder / name
    size = size or (frames[0].shape[1], frames[0].shape[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
    for frame in frames:
        writer.write(frame if frame.shape[1::-1] == size else cv2.resize(frame, size))
    writer.release()
    return path


def write_sample_video(path: str | os.PathLike, frames: int = 300) -> str:
    """The sample video's walker region at 640×480, 30 FPS, as a video file (the benchmark's
    source; also what docs/screenshot.png shows). Returns a description of the frames."""
    from relsar_core.bench.pose import load_sample_frames

    images, desc = load_sample_frames(frames)
    path = Path(path)
    written = write_video(path.parent, images)
    written.replace(path)
    return desc
