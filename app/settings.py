"""The app's persistent settings: typed access to QSettings with defaults in one place.

Tests (and `--settings FILE`) pass an ini file so the user's own settings are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from relsar_core.assets import DEFAULT_MODEL
from relsar_core.pose.factory import DEFAULT_POSE_BACKEND

ORGANISATION, APPLICATION = "relsar", "relsar-live"


@dataclass
class AppSettings:
    source: str = ""  # camera[:N], demo, a URL, a .npz clip/folder or a video file; "" = automatic
    loop: bool = True  # video files and replays start again at the end
    camera_size: str = ""  # "WIDTHxHEIGHT" asked of a webcam; "" = the camera's default
    model: str = str(DEFAULT_MODEL)
    pose_backend: str = DEFAULT_POSE_BACKEND
    pose_weights: str = ""
    stride: int = 5
    alpha: float = 0.5  # EMA weight of the newest window
    threshold: float = 0.5
    people: int = 1  # follow up to this many people (1: the one-person path, fastest)
    data_root: str = str(Path.home() / "relsar-recordings")
    record_video: bool = False
    recent: str = ""  # recently opened sources, newest first, one a line

    @classmethod
    def load(cls, store: QSettings) -> AppSettings:
        values = {}
        for f in fields(cls):
            default = getattr(cls, f.name)
            raw = store.value(f.name, default)
            try:
                if f.type == "bool" or isinstance(default, bool):
                    values[f.name] = (
                        raw in (True, "true", "1", 1) if not isinstance(raw, bool) else raw
                    )
                else:
                    values[f.name] = type(default)(raw)
            except (
                TypeError,
                ValueError,
            ):  # a hand-edited or stale value: fall back to the default
                values[f.name] = default
        return cls(**values)

    def save(self, store: QSettings) -> None:
        for f in fields(self):
            store.setValue(f.name, getattr(self, f.name))
        store.sync()


def open_store(path: str | None = None) -> QSettings:
    """The user's settings, or an ini file at `path` (tests, portable installs)."""
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)
