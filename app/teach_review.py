"""Before a taught action is used: how well each taught action separates, leave-one-clip-out,
and the choice to use them (switch) or not (nothing is saved or changed).

A window-modal dialog opened with `open()`, never `exec()`: the event loop keeps turning, so
video, bars and timers go on while the user reads the scores."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

GOOD_SCORE = 0.8  # below this share the dialog suggests more or clearer examples


def score_text(score: float | None) -> str:
    return "— (one clip)" if score is None else f"{score:.0%}"


def is_weak(score: float | None) -> bool:
    """A score the dialog calls weak (None: taught from one clip, no score to judge)."""
    return score is not None and score < GOOD_SCORE


def row_note(score: float | None, looks_like: str | None, own: bool = False) -> str:
    """The table's Note for one taught action: what the sentence under it says, per row;
    `own`: the name is one of the model's own classes, which the examples add to."""
    parts = ["one of the model's own actions: adds to it"] if own else []
    parts += [f"looks like {looks_like}"] if looks_like else []
    if score is None:
        parts.append("one clip: record more")
    elif is_weak(score):
        parts.append("weak: record more or clearer examples")
    return "; ".join(parts)


def verdict(scores: dict[str, float | None]) -> str:
    """One sentence under the table: what the scores mean for the user."""
    weak = [name for name, s in scores.items() if is_weak(s)]
    single = [name for name, s in scores.items() if s is None]
    parts = [
        "Each score is the share of an action's example windows recognised when that example "
        "is left out of teaching (new examples of it should do about as well)."
    ]
    if weak:
        parts.append(
            f"Weak: {', '.join(weak)}: record more or clearer examples, or delete a bad take."
        )
    if single:
        parts.append(f"Taught from one clip: {', '.join(single)} (3–10 examples work best).")
    return " ".join(parts)


class TeachReview(QDialog):
    """Rows: taught action, examples, leave-one-clip-out score, note. Use them / Don't use."""

    def __init__(self, parent, action: str, classifier, scores: dict[str, float | None]) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Teach “{action}”?")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        summaries = {s.name: s for s in classifier.summaries()}
        names = sorted(scores, key=lambda n: (n != action, n))  # the action just taught first
        self.table = QTableWidget(len(names), 4)
        self.table.setHorizontalHeaderLabels(
            ["Taught action", "Examples", "Held-out score", "Note"]
        )
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for row, name in enumerate(names):
            summary = summaries.get(name)
            looks_like = summary.looks_like if summary else None
            note = row_note(
                scores[name], looks_like, name in getattr(classifier, "base_classes", ())
            )
            cells = (name, str(summary.clips if summary else ""), score_text(scores[name]), note)
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.explanation = QLabel(verdict(scores))
        self.explanation.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.use_button = buttons.addButton("Use them", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton("Don't use", QDialogButtonBox.ButtonRole.RejectRole)
        self.use_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"How well the taught actions separate, with “{action}”:"))
        layout.addWidget(self.table)
        layout.addWidget(self.explanation)
        layout.addWidget(buttons)
        self.resize(520, 160 + 30 * len(names))

    def scores_shown(self) -> dict[str, str]:
        """{action: score text} as the table shows them (for tests and the log)."""
        return {
            self.table.item(r, 0).text(): self.table.item(r, 2).text()
            for r in range(self.table.rowCount())
        }
