"""Two small painted widgets: per-class probability bars and a timeline strip of recent actions."""

from __future__ import annotations

import time
import zlib
from collections import deque

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from relsar_core.runtime.smoothing import NO_ACTION

_PALETTE: dict[str, QColor] = {}
_GOLDEN = 0.618033988749895  # successive hues this far apart never sit next to each other


def set_palette(names: list[str]) -> None:
    """Give the model's classes well-separated colours, by their order (taught ones follow).
    A name keeps its colour for the session: forgetting a taught action, or a new model, never
    recolours the others (by index, "spin" took "hop"'s) nor the timeline's older segments."""
    for name in names:
        if name not in _PALETTE:
            _PALETTE[name] = QColor.fromHsvF((0.58 + len(_PALETTE) * _GOLDEN) % 1.0, 0.6, 0.9)


def class_colour(name: str) -> QColor:
    """The colour of a class (the same in the bars, the label and the timeline)."""
    if name == NO_ACTION:
        return QColor(70, 70, 78)
    if name in _PALETTE:
        return QColor(_PALETTE[name])
    return QColor.fromHsvF((zlib.crc32(name.encode()) % 360) / 360.0, 0.6, 0.9)


class ProbabilityBars(QWidget):
    """One labelled bar per class; the current action's bar is highlighted."""

    ROW = 17  # compact: the side panel's Record and teach box fits a 1280×720 window

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.class_names: list[str] = []
        self.probabilities = np.zeros(0, np.float32)
        self.current: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_classes(self, names: list[str]) -> None:
        set_palette(names)
        self.class_names = list(names)
        self.probabilities = np.zeros(len(names), np.float32)
        self.current = None
        self.setFixedHeight(max(1, len(names)) * self.ROW + 4)
        self.update()

    def set_probabilities(self, probabilities: np.ndarray, current: str | None) -> None:
        self.probabilities = np.asarray(probabilities, np.float32)
        self.current = current
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        name_w = min(130, self.width() // 3)
        bar_w = self.width() - name_w - 52
        font = QFont(self.font())
        for i, name in enumerate(self.class_names):
            y = 2 + i * self.ROW
            prob = float(self.probabilities[i]) if i < len(self.probabilities) else 0.0
            font.setBold(name == self.current)
            p.setFont(font)
            p.setPen(self.palette().windowText().color())
            p.drawText(
                QRectF(0, y, name_w - 6, self.ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                p.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, name_w - 6),
            )
            p.fillRect(QRectF(name_w, y + 4, bar_w, self.ROW - 8), QColor(60, 60, 66, 90))
            colour = class_colour(name)
            if name != self.current:
                colour.setAlpha(150)
            p.fillRect(QRectF(name_w, y + 4, bar_w * prob, self.ROW - 8), colour)
            p.drawText(
                QRectF(name_w + bar_w + 4, y, 48, self.ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                f"{prob:4.0%}",
            )


class TimelineStrip(QWidget):
    """The actions of the last `span_s` seconds as coloured segments, newest on the right."""

    CAPTION_H = 14  # the "last 30 s" caption has its own row: it never covers a segment's label

    def __init__(self, span_s: float = 30.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.span_s = span_s
        self.entries: deque[tuple[float, str]] = deque(maxlen=5000)
        self.frozen_at: float | None = None  # stopped: time stands still, the last run ends
        self.setFixedHeight(38 + self.CAPTION_H)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def add(self, label: str, when: float | None = None) -> None:
        self.frozen_at = None
        self.entries.append((time.monotonic() if when is None else when, label))
        self.update()

    def clear(self) -> None:
        self.entries.clear()
        self.frozen_at = None
        self.update()

    def freeze(self) -> None:
        """The source stopped: the strip no longer scrolls nor extends the last label."""
        if self.frozen_at is None:
            self.frozen_at = time.monotonic()
        self.update()

    def now(self) -> float:
        return time.monotonic() if self.frozen_at is None else self.frozen_at

    def segments(self, now: float | None = None) -> list[tuple[float, float, str]]:
        """(start, end, label) runs of one label within the visible span."""
        now = self.now() if now is None else now
        runs: list[tuple[float, float, str]] = []
        items = list(self.entries)
        for i, (t, label) in enumerate(items):
            end = items[i + 1][0] if i + 1 < len(items) else now
            if end < now - self.span_s:
                continue
            if runs and runs[-1][2] == label:
                runs[-1] = (runs[-1][0], end, label)
            else:
                runs.append((max(t, now - self.span_s), end, label))
        return runs

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 36))
        now = self.now()
        w, h = self.width(), self.height() - self.CAPTION_H
        for start, end, label in self.segments(now):
            x0 = w * (1 - (now - start) / self.span_s)
            x1 = w * (1 - (now - end) / self.span_s)
            rect = QRectF(x0, 3, max(1.0, x1 - x0 - 1), h - 6)  # 1 px gap between runs
            p.fillRect(rect, class_colour(label))
            if rect.width() > 40 and label != NO_ACTION:
                p.setPen(QColor(15, 15, 15))
                p.drawText(
                    rect.adjusted(4, 0, -2, 0),
                    Qt.AlignmentFlag.AlignVCenter,
                    p.fontMetrics().elidedText(
                        label, Qt.TextElideMode.ElideRight, int(rect.width()) - 6
                    ),
                )
        p.setPen(QColor(150, 150, 160))
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        p.setFont(small)
        caption = f"last {self.span_s:.0f} s" + (" · stopped" if self.frozen_at else "")
        p.drawText(QRectF(4, h, w - 8, self.CAPTION_H), Qt.AlignmentFlag.AlignVCenter, caption)
        p.drawText(QRectF(4, h, w - 8, self.CAPTION_H), Qt.AlignmentFlag.AlignRight, "now")
