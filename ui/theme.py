"""Reelscope's look: the Fusion style with a dark palette and a few style-sheet touches.

Applied once at start-up on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor("#e50914")

_STYLE_SHEET = """
QMainWindow, QStackedWidget { background: #141414; }
#ControlBar { background: #1c1c1c; border-top: 1px solid #2a2a2a; }
#ControlBar QLabel { color: #d0d0d0; }
#SeekPreview { background: #111111; border: 1px solid #555555; }
#SeekPreview QLabel { color: #f2f2f2; }
#PlayerMessage { color: #e8e8e8; background: #101010; padding: 24px; }
QSlider::groove:horizontal { height: 4px; background: #3a3a3a; border-radius: 2px; }
QSlider::sub-page:horizontal { background: #e50914; border-radius: 2px; }
QSlider::handle:horizontal { background: #f2f2f2; width: 12px; margin: -5px 0; border-radius: 6px; }
QStatusBar { color: #a0a0a0; }
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#141414",
        QPalette.ColorRole.WindowText: "#e8e8e8",
        QPalette.ColorRole.Base: "#1b1b1b",
        QPalette.ColorRole.AlternateBase: "#222222",
        QPalette.ColorRole.ToolTipBase: "#2a2a2a",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.Text: "#e8e8e8",
        QPalette.ColorRole.Button: "#232323",
        QPalette.ColorRole.ButtonText: "#e8e8e8",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT.name(),
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#808080",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    app.setPalette(palette)
    app.setStyleSheet(_STYLE_SHEET)
