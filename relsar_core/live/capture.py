"""Sources OpenCV's VideoCapture opens: video files, webcams and network streams, and the list
of cameras present on this machine."""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import numpy as np

from relsar_core.live.frames import FrameSource, SourceError

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
