"""What the model says: the headline (action, confidence, FPS and latency, recording), the
per-class bars and the timeline. Stopped or stale results are shown greyed, never as live."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QGridLayout,
    QGroupBox,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.charts import ProbabilityBars, TimelineStrip, class_colour
from app.panels.widgets import ElidedLabel
from app.people_overlay import person_colour
from relsar_core.runtime.smoothing import NO_ACTION


def readable(colour: QColor) -> QColor:
    """A person's colour as title text: darkened on a light window, lightened on a dark one (the
    overlay's bright yellows and greens vanish on a light background)."""
    light = QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 128
    return colour.darker(180) if light else colour.lighter(120)


STALE_COLOUR = "#888"
IDLE_STATS = "FPS – · latency –"


# Room the confidence and the FPS/latency lines need beside the action's name: a narrower
# headline (a half-screen window) puts those lines in a second row instead of eliding all three.
BESIDE_THE_NAME = 420


class Headline(QWidget):
    """The action's name and its confidence in one row, the recording and FPS/latency lines
    beside them, or under them when the row is too narrow for all three."""

    def __init__(self, name: QWidget, confidence: QWidget) -> None:
        super().__init__()
        self.name, self.confidence, self.right = name, confidence, QVBoxLayout()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.addWidget(name, 0, 0)
        self.grid.addWidget(confidence, 0, 1, Qt.AlignmentFlag.AlignVCenter)
        self.stacked: bool | None = None
        self._arrange(stacked=False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def _arrange(self, stacked: bool) -> None:
        if stacked == self.stacked:
            return
        self.stacked = stacked
        self.grid.removeItem(self.right)
        if stacked:
            self.grid.addLayout(self.right, 1, 0, 1, 2)
            stretches = (3, 5, 0)
        else:
            self.grid.addLayout(self.right, 0, 2)
            stretches = (3, 5, 4)
        for column, stretch in enumerate(stretches):
            self.grid.setColumnStretch(column, stretch)
        self.updateGeometry()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._arrange(event.size().width() < self.name.minimumWidth() + BESIDE_THE_NAME)
        super().resizeEvent(event)


class ResultsPanel:
    """Owns three widgets the window places: `headline` (above the video), `actions_box`
    (top of the side panel) and `timeline` (below the video)."""

    def __init__(self, font: QFont) -> None:
        self.action_label = ElidedLabel(NO_ACTION)
        big = QFont(font)
        big.setPointSize(30)
        big.setBold(True)
        self.action_label.setFont(big)
        self.action_label.setMinimumWidth(120)
        # A sentence ("people too small: …") wraps onto a second line, never widening anything.
        self.confidence_label = ElidedLabel("", mode=Qt.TextElideMode.ElideRight, lines=2)
        mid = QFont(font)
        mid.setPointSize(15)
        self.confidence_label.setFont(mid)
        self.hint_font = QFont(font)  # a sentence in smaller type
        self.hint_font.setPointSize(11)
        self.percent_font = mid
        right_elide = Qt.TextElideMode.ElideRight
        self.stats_label = ElidedLabel(IDLE_STATS, mode=right_elide, lines=2)
        self.stats_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.recording_label = ElidedLabel("", mode=right_elide)
        self.recording_label.setStyleSheet("color:#ff5555; font-weight:bold;")
        self.headline = Headline(self.action_label, self.confidence_label)
        self.headline.right.addWidget(self.recording_label)
        self.headline.right.addWidget(self.stats_label)

        self.bars = ProbabilityBars()
        self.actions_box = QGroupBox("Actions")
        QVBoxLayout(self.actions_box).addWidget(self.bars)
        self.timeline = TimelineStrip()
        self.live = False

    def set_classes(self, names: list[str]) -> None:
        """A new model: the bars start at 0 and the headline says nothing until it predicts.
        The headline's label is kept wide enough for the model's longest class name (its share
        of the row alone cut `arms_out` to "arm…out" in a 1280-px window)."""
        self.bars.set_classes(names)
        metrics = QFontMetrics(self.action_label.font())
        longest = max(metrics.horizontalAdvance(n) for n in (*names, NO_ACTION))
        self.action_label.setMinimumWidth(max(120, longest + metrics.averageCharWidth()))
        self.show_label(NO_ACTION, "", live=self.live)

    def show_label(self, label: str, confidence: str, live: bool = True) -> None:
        self.action_label.setText(label)
        colour = class_colour(label).name() if label != NO_ACTION and live else STALE_COLOUR
        self.action_label.setStyleSheet(f"color:{colour};")
        hint = bool(confidence) and not confidence.endswith("%")
        self.confidence_label.setFont(self.hint_font if hint else self.percent_font)
        self.confidence_label.setText(confidence)
        self.confidence_label.setStyleSheet("" if live else f"color:{STALE_COLOUR};")

    def show_prediction(self, pred, confidence: str) -> None:
        self.live = True
        label = pred.smoothed.label
        self.show_label(label, confidence)
        self.bars.set_probabilities(pred.smoothed.probabilities, label)

    def show_person(self, selected: int | None, people) -> None:
        """People mode: the bars and timeline are the selected person's; say whose."""
        mine = next((p for p in people if p.person == selected), None)
        title = "Actions" if mine is None else f"Actions · person {selected}"
        if title != self.actions_box.title():
            self.actions_box.setTitle(title)
            colour = "" if mine is None else f"color:{readable(person_colour(mine.colour)).name()};"
            self.actions_box.setStyleSheet(f"QGroupBox {{ {colour} }}" if colour else "")

    def show_stats(self, text: str) -> None:
        self.stats_label.setText(text)

    def show_stopped(self, why: str = "stopped") -> None:
        """Nothing runs: the timeline stops moving, the headline greys, the FPS says so."""
        self.live = False
        self.timeline.freeze()
        self.show_label(self.action_label.full_text(), self.confidence_label.full_text(), False)
        self.stats_label.setText(f"{why} · {IDLE_STATS}")
        self.recording_label.setText("")

    def clear(self, stats: str = IDLE_STATS) -> None:
        """A new source: the last one's headline, bars, timeline and person go."""
        self.timeline.clear()
        self.bars.set_probabilities(np.zeros(len(self.bars.class_names), np.float32), None)
        self.show_person(None, ())
        self.show_label(NO_ACTION, "", live=False)
        self.stats_label.setText(stats)
        self.recording_label.setText("")

    def start(self) -> None:
        self.timeline.clear()
        self.live = True
        self.show_label(NO_ACTION, "")
        self.stats_label.setText("starting…")
