"""People mode on the video: each person in their colour (bones, and their label and confidence
or the reason they are not classified, above them), the selected person's box, the click
hit-test and the HUD line. Drawing only; the numbers come from the pipeline's PersonResults."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from relsar_core.runtime.smoothing import NO_ACTION

# One colour per palette index (relsar_core.live.people.PALETTE_SIZE), far apart in hue.
PERSON_COLOURS = (
    "#4fc3f7",
    "#ffb74d",
    "#ba68c8",
    "#81c784",
    "#f06292",
    "#fff176",
    "#4db6ac",
    "#e57373",
)
HIT_MARGIN = 0.15  # a click this share of a person's height outside their joints still hits


def person_colour(index: int) -> QColor:
    return QColor(PERSON_COLOURS[index % len(PERSON_COLOURS)])


def person_text(person) -> str:
    """ "wave 87 %", or why this person has no label (e.g. "too small")."""
    if person.reason is not None:
        return person.reason
    if person.label is None or person.label.label == NO_ACTION:
        return NO_ACTION
    return f"{person.label.label} {person.label.confidence:.0%}"


def hud_text(result) -> str:
    """How many people are in view and the time each costs (pose + classifier) this frame."""
    n = len(result.people)
    if n == 0:
        return "nobody in view"
    classify = sum(p.classify_ms for p in result.predictions)
    cost = (result.pose_ms + classify) / n
    return f"{n} {'person' if n == 1 else 'people'} · {cost:.1f} ms per person"


def person_at(people, x: float, y: float) -> int | None:
    """The track id of the person at frame pixel (x, y); the smallest box when boxes overlap."""
    hits = []
    for p in people:
        x0, y0, x1, y1 = p.box
        pad = HIT_MARGIN * max(y1 - y0, x1 - x0, 1.0)
        if x0 - pad <= x <= x1 + pad and y0 - pad <= y <= y1 + pad:
            hits.append(((x1 - x0) * (y1 - y0), p.person))
    return min(hits)[1] if hits else None


def draw_people(view, p: QPainter, target: QRectF) -> None:
    sx = target.width() / max(view._image_size[0], 1)
    sy = target.height() / max(view._image_size[1], 1)
    font = QFont(view.font().family(), max(9, int(target.height() / 45)))
    font.setBold(True)
    p.setFont(font)
    metrics = QFontMetricsF(font)
    for person in view.people:
        colour = person_colour(person.colour)
        if person.keypoints is not None:
            view._draw_skeleton(p, target, person.keypoints, colour)
        x0, y0, x1, y1 = person.box
        box = QRectF(
            target.left() + x0 * sx, target.top() + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy
        )
        pad = 0.08 * box.height()
        box.adjust(-pad, -pad, pad, pad)
        if person.person == view.selected:
            p.setPen(QPen(colour, 2.5, Qt.PenStyle.SolidLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(box)
        text = person_text(person)
        w, h = metrics.horizontalAdvance(text) + 10, metrics.height() + 4
        tag = QRectF(box.center().x() - w / 2, box.top() - h - 2, w, h)
        tag.moveTop(max(tag.top(), target.top()))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(15, 15, 20, 190))
        p.drawRoundedRect(tag, 4, 4)
        p.setPen(colour if person.reason is None else colour.darker(130))
        p.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
    if view.hud:
        p.setPen(QColor(235, 235, 245))
        hud = QRectF(target.left() + 6, target.top() + 4, target.width() - 12, metrics.height())
        p.drawText(hud, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, view.hud)
