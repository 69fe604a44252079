"""Recording labelled skeleton clips into a data-set folder `<root>/<action>/<clip>.npz` — the
layout `relsar-train` reads — with an optional video beside each clip.

Frames arrive one at a time from the pipeline's worker thread; the clip is written once, at
`stop()`, atomically (temporary file, then rename). The video is written while recording into a
hidden temporary file and renamed at the end, so a crash mid-recording loses at most that clip.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np

from relsar_core.errors import DataError
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.clip import Clip, save_clip
from relsar_core.skeleton.features import resample_at
from relsar_core.skeleton.layouts import get_layout

_ACTION_NAME = re.compile(r"^[\w][\w .+-]*$")
# A folder name, and a clip file name with a date stamp, both under the file system's 255 bytes.
MAX_ACTION_NAME = 64
MIN_FRAMES = 2


def check_action_name(name: str) -> str:
    """A usable action (class folder) name, stripped; DataError otherwise."""
    name = (name or "").strip()
    if not name or not _ACTION_NAME.match(name) or name in (".", ".."):
        raise DataError(
            f"action name {name!r}: use letters, digits, spaces, '_', '-', '.', '+' "
            "(it becomes a folder name)"
        )
    if len(name.encode()) > MAX_ACTION_NAME:
        raise DataError(
            f"action name {name[:20]!r}…: {len(name.encode())} bytes long, at most {MAX_ACTION_NAME}"
        )
    return name


def next_clip_path(root: str | os.PathLike, action: str) -> Path:
    """`<root>/<action>/<action>_<date>_<time>[_n].npz`, never an existing file."""
    folder = Path(root) / check_action_name(action)
    stem = f"{action.strip().replace(' ', '_')}_{time.strftime('%Y%m%d_%H%M%S')}"
    path, n = folder / f"{stem}.npz", 1
    while path.exists():
        path, n = folder / f"{stem}_{n}.npz", n + 1
    return path


class ClipRecorder:
    """Collects skeletons (and optionally frames) of one clip; `stop()` writes it."""

    def __init__(
        self,
        root: str | os.PathLike,
        action: str,
        layout: str,
        fps: float = 30.0,
        image_size: tuple[int, int] = (640, 480),
        record_video: bool = False,
        min_frames: int = MIN_FRAMES,
    ) -> None:
        self.action = check_action_name(action)
        # The app asks for one model window: relsar-train refuses clips shorter than that.
        self.min_frames = max(MIN_FRAMES, int(min_frames))
        self.path = next_clip_path(root, self.action)
        self.layout = layout
        self.num_joints = get_layout(layout).num_joints
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.image_size = tuple(int(v) for v in image_size)
        self.record_video = record_video
        self._frames: list[np.ndarray] = []
        self._times: list[float] = []  # capture timestamps (s), when the caller gives them
        self._writer = None
        self._video_tmp: Path | None = None
        self.video_path: Path | None = None

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    def add(
        self,
        skeleton: Skeleton | None,
        image: np.ndarray | None = None,
        timestamp: float | None = None,
    ) -> None:
        """One frame; nobody in view is stored as all-zero confidence (a missing person).
        With timestamps the clip stores the measured frame rate, not the camera's claim."""
        kp = np.zeros((self.num_joints, 3), np.float32)
        if skeleton is not None:
            if skeleton.layout != self.layout:
                raise DataError(
                    f"recording {self.path}: skeleton layout changed from {self.layout} to {skeleton.layout}"
                )
            kp = np.asarray(skeleton.keypoints, np.float32)
        self._frames.append(kp)
        if timestamp is not None:
            self._times.append(float(timestamp))
        if self.record_video and image is not None:
            self._write_video_frame(image)

    def _write_video_frame(self, image: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            self.image_size = (int(image.shape[1]), int(image.shape[0]))
            self._video_tmp = self.path.with_name(f".{self.path.stem}.tmp.mp4")
            self._video_tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(
                str(self._video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.image_size
            )
        self._writer.write(image)

    def stop(self) -> Path:
        """Write the clip (and finish the video); return the clip's path."""
        if len(self._frames) < self.min_frames:
            self.discard()
            raise DataError(
                f"{self.path}: recording too short ({len(self._frames)} frames, at least "
                f"{self.min_frames} needed), nothing saved"
            )
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            self.video_path = self.path.with_suffix(".mp4")
            os.replace(self._video_tmp, self.video_path)
        keypoints = np.stack(self._frames)
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        keypoints, fps = self._evenly_timed(keypoints)
        save_clip(self.path, Clip(keypoints, self.layout, fps, self.image_size, self.action))
        return self.path

    def _evenly_timed(self, keypoints: np.ndarray) -> tuple[np.ndarray, float]:
        """With a timestamp per frame: the measured mean rate, and the frames resampled onto an
        even grid at it (uneven gaps, e.g. dropped frames, no longer speed motion up)."""
        times = np.asarray(self._times)
        if len(times) != len(keypoints) or np.any(np.diff(times) <= 0):
            return keypoints, self.fps
        fps = (len(times) - 1) / float(times[-1] - times[0])
        grid = times[0] + np.arange(len(times)) / fps
        return resample_at(times, keypoints, grid), fps

    def discard(self) -> None:
        """Abandon the clip (and its partial video)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._video_tmp is not None and self._video_tmp.exists():
            self._video_tmp.unlink()
