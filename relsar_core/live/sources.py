"""Frame sources for the live pipeline: webcam, video file, stream URL and skeleton replay.

A source hands out `Frame`s one at a time from the capture thread. Camera and stream sources are
live; file and replay sources can be paced to their frame rate (`realtime=True`, as the app plays
them) or read as fast as the consumer takes them (headless mode, benchmarks). A skeleton replay
carries its skeletons, so the pipeline skips pose estimation for it. Problems the user can fix
(missing file, no camera, unreadable video) raise `SourceError` with one line naming the source.

This module opens a source from one string and plays skeleton clips; the shared interface is in
frames.py, the OpenCV sources (file, camera, stream) in capture.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from relsar_core.assets import DEMO_DIR
from relsar_core.files import visible
from relsar_core.live.capture import CameraSource, StreamSource, VideoFileSource, list_cameras
from relsar_core.live.frames import Frame, FrameSource, SourceError
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.clip import Clip, load_clip

__all__ = [
    "CameraSource",
    "Frame",
    "FrameSource",
    "ReplaySource",
    "SourceError",
    "StreamSource",
    "VideoFileSource",
    "demo_clip_paths",
    "demo_source",
    "list_cameras",
    "open_source",
]


class ReplaySource(FrameSource):
    """Skeleton clips played back (a `.npz` file, a folder of them, or a list of paths or Clip
    objects); no camera, no pose model."""

    provides_skeletons = True

    def __init__(
        self, path: str | os.PathLike | list, loop: bool = True, realtime: bool = False
    ) -> None:
        super().__init__(realtime)
        items = list(path) if isinstance(path, list | tuple) else _clip_paths(Path(path))
        if not items:
            raise SourceError(f"{path}: no .npz skeleton clips in this folder")
        self.clips: list[Clip] = [c if isinstance(c, Clip) else load_clip(c) for c in items]
        self.name = str(path) if not isinstance(path, list | tuple) else f"{len(items)} clips"
        self.num_frames = sum(c.num_frames for c in self.clips)
        self.loop = loop
        first = self.clips[0]
        self.fps, self.image_size = first.fps, tuple(first.image_size)
        self.clip_index, self._frame = 0, 0

    @property
    def current_clip(self) -> Clip:
        return self.clips[self.clip_index]

    def _read(self):
        if self._frame >= self.current_clip.num_frames:
            if self.clip_index + 1 < len(self.clips):
                self.clip_index += 1
            elif self.loop:
                self.clip_index = 0
            else:
                return None
            self._frame = 0
            self.image_size = tuple(self.current_clip.image_size)
        clip = self.current_clip
        kp = clip.keypoints[self._frame]
        self.position = sum(c.num_frames for c in self.clips[: self.clip_index]) + self._frame
        self._frame += 1
        # A frame where no joint was seen is "nobody in view", as a pose estimator would say.
        skeleton = Skeleton(kp, clip.layout) if kp[:, 2].max() > 0 else None
        return None, skeleton

    def _apply_seek(self, frame: int) -> None:
        for i, clip in enumerate(self.clips):
            if frame < clip.num_frames:
                self.clip_index, self._frame = i, frame
                self.image_size = tuple(clip.image_size)
                return
            frame -= clip.num_frames


def _clip_paths(path: Path) -> list[Path]:
    if path.is_dir():
        return visible(path.rglob("*.npz"), path)  # never a killed writer's temp file
    if path.suffix.lower() != ".npz":
        raise SourceError(f"{path}: a skeleton replay needs a .npz clip or a folder of them")
    if not path.is_file():
        raise SourceError(f"{path}: no such skeleton clip")
    return [path]


def demo_clip_paths() -> list[Path]:
    """The shipped demo clips (relsar_core/assets/demo/*.npz); empty when none are installed."""
    return sorted(DEMO_DIR.glob("*.npz")) if DEMO_DIR.is_dir() else []


def demo_source(loop: bool = True, realtime: bool = False) -> ReplaySource:
    """The demo: the shipped clips, or synthetic toy motions when none are installed (the name
    says which, so the UI can tell the user)."""
    paths = demo_clip_paths()
    if paths:
        source = ReplaySource(paths, loop=loop, realtime=realtime)
        source.name = f"demo ({len(paths)} clips in {DEMO_DIR})"
        return source
    from relsar_core.skeleton.synthetic import TOY_CLASSES, toy_clip

    rng = np.random.default_rng(0)
    clips = [Clip(toy_clip(cls, 120, rng), fps=30.0, label=cls) for cls in TOY_CLASSES]
    source = ReplaySource(clips, loop=loop, realtime=realtime)
    source.name = "demo (synthetic toy motions: no demo clips installed in relsar_core/assets/demo)"
    return source


CAMERA_NAMES = ("camera", "webcam")  # `camera[:N]`


def is_stream_url(spec: str) -> bool:
    return "://" in spec and not spec.startswith("file://")


def is_live_spec(spec: str) -> bool:
    """A camera or a stream (they cannot pause), from the spec alone, as open_source reads it."""
    spec = str(spec).strip()
    return spec.partition(":")[0] in CAMERA_NAMES or is_stream_url(spec)


def open_source(
    spec: str,
    loop: bool = True,
    realtime: bool = False,
    width: int | None = None,
    height: int | None = None,
) -> FrameSource:
    """Open a source from one string: `camera[:N]`, `demo`, a URL, a `.npz` clip or folder of
    clips (replay), or a video file."""
    spec = str(spec).strip()
    if not spec:
        raise SourceError(
            "no source given (camera[:N], demo, a URL, a .npz clip/folder or a video file)"
        )
    head, _, tail = spec.partition(":")
    if head in CAMERA_NAMES:
        if tail and not tail.isdigit():
            raise SourceError(f"{spec}: camera number must be an integer, e.g. camera:0")
        return CameraSource(int(tail or 0), width, height)
    if spec == "demo":
        return demo_source(loop=loop, realtime=realtime)
    if is_stream_url(spec):
        return StreamSource(spec)
    path = Path(spec.removeprefix("file://")).expanduser()
    if path.is_dir() or path.suffix.lower() == ".npz":
        return ReplaySource(path, loop=loop, realtime=realtime)
    return VideoFileSource(path, loop=loop, realtime=realtime)
