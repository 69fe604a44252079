"""A non-modal message strip above the video: problems are shown here, never in a blocking
dialog, so the app keeps running (and tests can read them)."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

_STYLES = {
    "info": "background:#1f3b57; color:#e8f1fb;",
    "warning": "background:#5a4712; color:#fff6dc;",
    "error": "background:#6b1f22; color:#ffe9e9;",
}


class MessageBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = "info"
        self.label = QLabel()
        self.label.setWordWrap(True)
        # A long message wraps or is cut, it never widens the window.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(100)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_message(self, text: str, level: str = "info", append: bool = False) -> None:
        """Show `text`; with `append`, add it to a message already shown (keeping its level when
        that is the more serious one)."""
        order = list(_STYLES)
        if append and not self.isHidden():
            text = f"{self.label.text()} {text}"
            level = max(level, self.level, key=order.index)
        self.level = level
        self.setStyleSheet(
            f"QFrame {{{_STYLES[level]} border-radius:4px;}} QLabel {{background:transparent;}}"
        )
        self.label.setText(text)
        self.show()

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
