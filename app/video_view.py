"""The video panel: the current frame (or a blank canvas for a skeleton replay) with the skeleton
drawn over it, joints coloured by confidence (red = unsure → green = sure).

In people mode (FrameResult.people) every person is drawn in their own colour with their label
and confidence (or why they are not classified) above them; the selected person's box is drawn;
a click on a person selects them (`person_clicked`); the top-left corner says how many people
are in view and what each costs."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app import people_overlay
from app.panels.widgets import FOCUS_HOME
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.layouts import BODY15_BONES

MIN_DRAWN_CONFIDENCE = 0.05  # below this a joint is "missing" and not drawn


def confidence_colour(conf: float) -> QColor:
    """Hue from red (0) through yellow to green (1)."""
    return QColor.fromHsvF(max(0.0, min(1.0, conf)) / 3.0, 0.9, 0.95)


class VideoView(QWidget):
    person_clicked = Signal(int)  # the track id of the person clicked (people mode)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the video leaves a text field
        self.setObjectName(FOCUS_HOME)  # where the focus goes when its widget is disabled
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._image_size = (640, 480)
        self._body15: np.ndarray | None = None
        self._placeholder = "No source running — press Space to start"
        self.frames_drawn = 0
        self.people: tuple = ()  # people mode: this frame's PersonResults
        self.selected: int | None = None
        self.hud = ""  # people mode: "3 people · 8.1 ms per person"

    def show_result(self, result, people_mode: bool = False) -> None:
        """One FrameResult: the frame, and its skeleton or (people mode) everyone in it."""
        self.people, self.selected = result.people, result.selected
        self.hud = people_overlay.hud_text(result) if people_mode else ""
        skeleton = None if people_mode else result.skeleton
        self.show_frame(result.frame.image, result.frame.image_size, skeleton)

    def show_frame(
        self, image_bgr: np.ndarray | None, image_size: tuple[int, int], skeleton: Skeleton | None
    ) -> None:
        if image_bgr is not None:
            bgr = np.ascontiguousarray(image_bgr)
            h, w = bgr.shape[:2]
            # Qt reads BGR directly (no channel swap); QImage borrows the buffer, so copy() to
            # own the pixels once the frame goes away.
            self._image = QImage(bgr.data, w, h, 3 * w, QImage.Format.Format_BGR888).copy()
            self._image_size = (w, h)
        else:
            self._image = None
            self._image_size = tuple(image_size)
        self._body15 = skeleton.to_body15() if skeleton is not None else None
        self.frames_drawn += 1
        self.update()

    def clear(self, message: str) -> None:
        self._image, self._body15, self._placeholder = None, None, message
        self.people, self.selected, self.hud = (), None, ""
        self.frames_drawn = 0
        self.update()

    def to_image(self, pos: QPointF) -> tuple[float, float]:
        """A point on the widget in the frame's pixels."""
        target = self._target()
        sx = self._image_size[0] / max(target.width(), 1e-9)
        sy = self._image_size[1] / max(target.height(), 1e-9)
        return (pos.x() - target.left()) * sx, (pos.y() - target.top()) * sy

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        person = people_overlay.person_at(self.people, *self.to_image(event.position()))
        if person is not None:
            self.selected = person
            self.person_clicked.emit(person)
            self.update()
        super().mousePressEvent(event)

    def _target(self) -> QRectF:
        """Where the frame goes: as large as fits, aspect kept, centred."""
        w, h = self._image_size
        scale = min(self.width() / max(w, 1), self.height() / max(h, 1))
        tw, th = w * scale, h * scale
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(18, 18, 22))
        if self.frames_drawn == 0:
            p.setPen(QColor(170, 170, 180))
            p.setFont(QFont(self.font().family(), 14))
            p.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            return
        target = self._target()
        if self._image is not None:
            p.drawImage(target, self._image)
        else:
            p.fillRect(target, QColor(40, 42, 50))  # the replay canvas
        if self._body15 is not None:
            self._draw_skeleton(p, target, self._body15)
        if self.people or self.hud:
            people_overlay.draw_people(self, p, target)

    def _draw_skeleton(
        self, p: QPainter, target: QRectF, kp: np.ndarray, bone: QColor | None = None
    ) -> None:
        sx = target.width() / max(self._image_size[0], 1)
        sy = target.height() / max(self._image_size[1], 1)
        pts = [QPointF(target.left() + x * sx, target.top() + y * sy) for x, y, _ in kp]
        seen = kp[:, 2] >= MIN_DRAWN_CONFIDENCE
        width = max(2.0, target.height() / 160)
        for a, b in BODY15_BONES:
            if seen[a] and seen[b]:
                p.setPen(
                    QPen(
                        bone or QColor(235, 235, 245, 210),
                        width,
                        Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap,
                    )
                )
                p.drawLine(pts[a], pts[b])
        radius = width * 1.6
        p.setPen(QPen(QColor(20, 20, 20), 1.0))
        for i, pt in enumerate(pts):
            if seen[i]:
                p.setBrush(confidence_colour(float(kp[i, 2])))
                p.drawEllipse(pt, radius, radius)
