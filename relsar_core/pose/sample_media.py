"""The project's real sample footage (fetched by `relsar-models fetch sample-video`): OpenCV's
vtest.avi, people walking, 768×576 at 10 fps, 795 frames (Debian package opencv-doc).

vtest.avi is a wide surveillance view: people are ≈ 80 px tall, smaller than BlazePose is made
for. `walker_frames` gives the 400×300 region the walkers cross, scaled to 640×480, which is
what a webcam sees of a person a few metres away; the benchmarks and demos use it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relsar_core.pose.model_store import SAMPLE_VIDEO, require_file

WALKER_REGION = (280, 120, 680, 420)  # x0, y0, x1, y1 in vtest.avi
WALKER_FRAME_SIZE = (640, 480)


def sample_video_path() -> Path:
    """vtest.avi, checksum-verified; a one-line error naming the fetch command if missing."""
    return require_file(SAMPLE_VIDEO, "vtest.avi")


def full_body_photo_path() -> Path:
    """messi5.jpg: a footballer mid-kick, whole body in view (548×342)."""
    return require_file(SAMPLE_VIDEO, "messi5.jpg")


def walker_frames(count: int, start: int = 0) -> list[np.ndarray]:
    """Up to `count` BGR frames of the walker region from frame `start`, at 640×480."""
    import cv2

    cap = cv2.VideoCapture(str(sample_video_path()))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    x0, y0, x1, y1 = WALKER_REGION
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame[y0:y1, x0:x1], WALKER_FRAME_SIZE))
    cap.release()
    return frames
