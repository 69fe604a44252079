"""Frame sources for the live pipeline: webcam, video file, stream URL and skeleton replay.

A source hands out `Frame`s one at a time from the capture thread. Camera and stream sources are
live; file and replay sources can be paced to their frame rate (`realtime=True`, as the app plays
them) or read as fast as the consumer takes them (headless mode, benchmarks). A skeleton replay
carries its skeletons, so the pipeline skips pose estimation for it. Problems the user can fix
(missing file, no camera, unreadable video) raise `SourceError` with one line naming the source.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relsar_core.assets import DEMO_DIR
from relsar_core.errors import RelsarError
from relsar_core.files import visible
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.clip import Clip, load_clip
from relsar_core.skeleton.features import MODEL_FPS

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class SourceError(RelsarError):
    """A camera, video, stream or replay clip that cannot be opened or read any more."""


@dataclass
class Frame:
    index: int  # position in the source since it was opened (loops keep counting)
    capture_time: float  # time.perf_counter() when the frame was read: latency starts here
    image: np.ndarray | None  # (H, W, 3) uint8 BGR; None for a skeleton replay
    image_size: tuple[int, int]  # (width, height) in pixels
    skeleton: Skeleton | None = None  # given by a replay source; otherwise pose estimates it
    # Seconds on the source's own clock: measured capture time for a camera or stream (whatever
    # fps it claims), media time (index / fps) for files and replays. Windows are timed by it;
    # without one, frames are taken to come at the model's rate.
    timestamp: float | None = None

    def __post_init__(self) -> None:
        if self.timestamp is None:
            self.timestamp = self.index / MODEL_FPS


class FrameSource(ABC):
    """One source of frames. `read()` returns None at the end (never for a live source)."""

    name: str = "source"
    fps: float = 30.0
    image_size: tuple[int, int] = (640, 480)
    live: bool = False  # a camera or stream: frames come at their own pace
    provides_skeletons: bool = False  # a replay: frames carry their skeleton, no pose needed
    num_frames: int | None = None  # frames in one pass, when known (files, replays)

    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime
        self._index = 0
        self._next_due: float | None = None
        self.position = 0  # frame number within the file or replay (files and replays)
        self._seek_to: int | None = None

    def seek(self, frame: int) -> None:
        """Ask for a jump to `frame` (any thread): the capture thread does it on its next read."""
        if self.num_frames:
            self._seek_to = max(0, min(int(frame), self.num_frames - 1))

    def _apply_seek(self, frame: int) -> None:  # noqa: B027 - files and replays override it
        """Jump to `frame` (capture thread)."""

    @abstractmethod
    def _read(self) -> tuple[np.ndarray | None, Skeleton | None] | None:
        """(image, skeleton) of the next frame, or None at the end."""

    def read(self) -> Frame | None:
        if self._seek_to is not None:
            target, self._seek_to = self._seek_to, None
            self._apply_seek(target)
        if self.realtime and not self.live:
            self._pace()
        got = self._read()
        if got is None:
            return None
        image, skeleton = got
        now = time.perf_counter()
        stamp = now if self.live else self._index / self.fps
        frame = Frame(self._index, now, image, self.image_size, skeleton, stamp)
        self._index += 1
        return frame

    def _pace(self) -> None:
        # Sleep until the next frame is due, without drifting; after a stall, restart the clock.
        now = time.perf_counter()
        period = 1.0 / self.fps
        if self._next_due is None or now - self._next_due > 5 * period:
            self._next_due = now
        elif self._next_due > now:
            time.sleep(self._next_due - now)
        self._next_due += period

    def close(self) -> None:  # noqa: B027 - optional hook: nothing to release by default
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
        return visible(path.rglob("*.npz"))  # never a killed writer's temp file
    if path.suffix.lower() != ".npz":
        raise SourceError(f"{path}: a skeleton replay needs a .npz clip or a folder of them")
    if not path.is_file():
        raise SourceError(f"{path}: no such skeleton clip")
    return [path]


# A stream server that accepts and never answers must not hold the opener for OpenCV's default
# 30 s; the app opens in a worker with Cancel, this bounds how long that worker stays busy.
STREAM_TIMEOUT_MS = 8000


class _CaptureSource(FrameSource):
    """Anything OpenCV's VideoCapture opens: files, cameras, stream URLs."""

    def __init__(self, target, name: str, realtime: bool) -> None:
        import cv2

        super().__init__(realtime)
        self.name = name
        self._cv2 = cv2
        self._cap = self._open(target)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(self._open_error())
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{name}: opened but no frame could be read from it")
        self._pending: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.num_frames = count if count > 0 else None
        self.image_size = (int(first.shape[1]), int(first.shape[0]))

    def _open(self, target):
        return self._cv2.VideoCapture(target)

    def _open_error(self) -> str:
        return f"{self.name}: cannot be opened"

    def _grab(self) -> np.ndarray | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        ok, frame = self._cap.read()
        return frame if ok and frame is not None else None

    def close(self) -> None:
        self._cap.release()


class VideoFileSource(_CaptureSource):
    """A video file; at the end it loops or stops, as chosen."""

    def __init__(self, path: str | os.PathLike, loop: bool = True, realtime: bool = False) -> None:
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such video file")
        self.path = path
        super().__init__(str(path), str(path), realtime)
        self.loop = loop

    def _open_error(self) -> str:
        return f"{self.path}: not a readable video (OpenCV cannot decode it)"

    def _apply_seek(self, frame: int) -> None:
        self._pending = None
        self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, frame)
        self.position = frame

    def _read(self):
        frame = self._grab()
        if frame is None and self.loop and self._index > 0:
            self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            self.position = 0
            frame = self._grab()
        if frame is None:
            return None
        self.position += 1
        return frame, None


class CameraSource(_CaptureSource):
    """A webcam by device number, optionally at a requested resolution."""

    live = True

    def __init__(
        self, device: int = 0, width: int | None = None, height: int | None = None
    ) -> None:
        self.device = device
        if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{device}"):
            raise SourceError(f"camera {device}: not found (/dev/video{device} does not exist)")
        super().__init__(device, f"camera {device}", realtime=False)
        self.num_frames = None
        if width and height:
            self._cap.set(self._cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(self._cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._pending = None  # the first frame had the old resolution

    def _open_error(self) -> str:
        return (
            f"camera {self.device}: cannot be opened (in use by another program, or no permission)"
        )

    def _read(self):
        frame = self._grab()
        if frame is None:
            raise SourceError(
                f"camera {self.device}: lost (unplugged or stopped delivering frames)"
            )
        self.image_size = (int(frame.shape[1]), int(frame.shape[0]))
        return frame, None


class StreamSource(_CaptureSource):
    """A network stream (rtsp://, http://, ...); one reconnect try when it drops."""

    live = True

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(url, url, realtime=False)
        self.num_frames = None

    def _open(self, target):
        cv2 = self._cv2
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            STREAM_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            STREAM_TIMEOUT_MS,
        ]
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)

    def _open_error(self) -> str:
        return (
            f"{self.url}: stream cannot be opened (wrong address, or the server is not answering)"
        )

    def _read(self):
        frame = self._grab()
        if frame is None:
            self._cap.release()
            self._cap = self._open(self.url)
            frame = self._grab() if self._cap.isOpened() else None
            if frame is None:
                raise SourceError(f"{self.url}: stream lost")
        return frame, None


def _is_capture_node(device: int) -> bool:
    """Linux gives one camera several /dev/video nodes; only index 0 delivers frames (the others
    carry metadata). Without sysfs, assume it does."""
    index = Path(f"/sys/class/video4linux/video{device}/index")
    try:
        return index.read_text().strip() == "0"
    except OSError:
        return True


def list_cameras(max_devices: int = 10) -> list[int]:
    """Camera device numbers present on this machine (Linux: /dev/videoN; elsewhere 0..3 probed)."""
    if sys.platform.startswith("linux"):
        found = []
        for dev in glob.glob("/dev/video*"):
            suffix = dev.removeprefix("/dev/video")
            if suffix.isdigit() and int(suffix) < max_devices and _is_capture_node(int(suffix)):
                found.append(int(suffix))
        return sorted(found)
    import cv2

    found = []
    for device in range(4):
        cap = cv2.VideoCapture(device)
        if cap.isOpened():
            found.append(device)
        cap.release()
    return found


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
    if head in ("camera", "webcam"):
        if tail and not tail.isdigit():
            raise SourceError(f"{spec}: camera number must be an integer, e.g. camera:0")
        return CameraSource(int(tail or 0), width, height)
    if spec == "demo":
        return demo_source(loop=loop, realtime=realtime)
    if "://" in spec and not spec.startswith("file://"):
        return StreamSource(spec)
    path = Path(spec.removeprefix("file://")).expanduser()
    if path.is_dir() or path.suffix.lower() == ".npz":
        return ReplaySource(path, loop=loop, realtime=realtime)
    return VideoFileSource(path, loop=loop, realtime=realtime)
