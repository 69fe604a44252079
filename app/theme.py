"""Follow the system's light or dark scheme (Qt 6.5+ styleHints().colorScheme())."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def dark_palette() -> QPalette:
    pal = QPalette()
    colours = {
        QPalette.ColorRole.Window: QColor(37, 37, 42),
        QPalette.ColorRole.WindowText: QColor(230, 230, 235),
        QPalette.ColorRole.Base: QColor(28, 28, 32),
        QPalette.ColorRole.AlternateBase: QColor(45, 45, 50),
        QPalette.ColorRole.Text: QColor(230, 230, 235),
        QPalette.ColorRole.Button: QColor(50, 50, 56),
        QPalette.ColorRole.ButtonText: QColor(230, 230, 235),
        QPalette.ColorRole.Highlight: QColor(60, 120, 200),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.ToolTipBase: QColor(50, 50, 56),
        QPalette.ColorRole.ToolTipText: QColor(230, 230, 235),
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 150),
    }
    for role, colour in colours.items():
        pal.setColor(role, colour)
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(120, 120, 128))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(120, 120, 128))
    return pal


def apply_scheme(app: QApplication, scheme: Qt.ColorScheme) -> None:
    if app.property("relsar_light_palette") is None:
        app.setProperty("relsar_light_palette", app.palette())
    light = app.property("relsar_light_palette")
    app.setPalette(dark_palette() if scheme == Qt.ColorScheme.Dark else light)


def follow_system_theme(app: QApplication) -> None:
    """Dark when the system is dark, now and whenever it changes."""
    hints = app.styleHints()
    if app.property("relsar_theme_hooked"):
        return
    app.setProperty("relsar_theme_hooked", True)
    apply_scheme(app, hints.colorScheme())
    hints.colorSchemeChanged.connect(lambda scheme: apply_scheme(app, scheme))
