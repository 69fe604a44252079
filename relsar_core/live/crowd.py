"""Several people replayed at once: skeleton clips played together, one person each, side by
side (clip i moved right by i image widths). No camera, no pose model: a way to try people mode,
and what its tests run on. Named on the command line as `a.npz+b.npz[+...]`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from relsar_core.live.sources import Frame, FrameSource, SourceError, open_source
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.clip import Clip, load_clip


@dataclass
class CrowdFrame(Frame):
    people: tuple[Skeleton, ...] = ()  # everyone in the frame (no order, no identity)


class CrowdReplaySource(FrameSource):
    """`clips` (paths or Clip objects) played at once; each loops on its own when `loop`, else
    a finished clip's person leaves and the source ends with the longest clip."""

    provides_skeletons = True

    def __init__(
        self, clips: list[Clip | str | os.PathLike], loop: bool = True, realtime: bool = False
    ) -> None:
        super().__init__(realtime)
        if len(clips) < 2:
            raise SourceError("a several-people replay needs at least two clips (a.npz+b.npz)")
        self.clips = [c if isinstance(c, Clip) else load_clip(c) for c in clips]
        if len({c.layout for c in self.clips}) > 1:
            raise SourceError("a several-people replay needs clips of one layout (all body15, …)")
        self.loop = loop
        self.fps = self.clips[0].fps
        width = max(c.image_size[0] for c in self.clips)
        self._offsets = [i * width for i in range(len(self.clips))]
        self.image_size = (width * len(self.clips), max(c.image_size[1] for c in self.clips))
        self.num_frames = max(c.num_frames for c in self.clips)
        self.name = " + ".join(c.label or f"clip {i}" for i, c in enumerate(self.clips))
        self._frame = 0

    @property
    def current_clip(self) -> Clip:  # what a recording takes its layout from
        return self.clips[0]

    def _apply_seek(self, frame: int) -> None:
        self._frame = frame

    def _people_at(self, index: int) -> tuple[Skeleton, ...]:
        people = []
        for clip, dx in zip(self.clips, self._offsets, strict=True):
            if index >= clip.num_frames and not self.loop:
                continue  # this person has left
            kp = clip.keypoints[index % clip.num_frames].copy()
            if kp[:, 2].max() <= 0:
                continue
            kp[:, 0] += dx
            people.append(Skeleton(kp, clip.layout))
        return tuple(people)

    def _read(self):
        if self._frame >= self.num_frames:
            if not self.loop:
                return None
            self._frame = 0
        self._people = self._people_at(self._frame)
        self.position = self._frame
        self._frame += 1
        return None, None

    def read(self) -> CrowdFrame | None:
        frame = super().read()
        if frame is None:
            return None
        return CrowdFrame(
            frame.index,
            frame.capture_time,
            None,
            frame.image_size,
            None,
            frame.timestamp,
            people=self._people,
        )


def open_any_source(spec: str, loop: bool = True, realtime: bool = False, **kwargs) -> FrameSource:
    """`open_source`, plus `a.npz+b.npz[+...]`: several skeleton clips replayed as people."""
    parts = [p.strip() for p in str(spec).split("+")]
    if len(parts) > 1 and all(Path(p).suffix.lower() == ".npz" for p in parts):
        for part in parts:
            if not Path(part).is_file():
                raise SourceError(f"{part}: no such skeleton clip")
        return CrowdReplaySource([Path(p) for p in parts], loop=loop, realtime=realtime)
    return open_source(spec, loop=loop, realtime=realtime, **kwargs)


def people_of(source: FrameSource, requested: int) -> int:
    """How many people to follow in `source`: `requested`, but a several-people replay is
    followed as people (each clip one person) even when people mode is off, where one person
    would name nobody (its frames hold people, no single skeleton)."""
    clips = len(source.clips) if isinstance(source, CrowdReplaySource) else 0
    return requested if requested > 1 else max(requested, clips)
