"""The first-run question: may Reelscope collect usage data? Says in plain language what is
collected and why, generated from the event vocabulary (`telemetry.client.disclosure`), what is
never collected, where it goes, and how to change the choice later. Two equal buttons: opt in or
out.

The dialog only reports the choice (`choice_made`); whoever opened it applies it. Shown with
`open()` (window-modal, never blocking the event loop), so the app keeps starting behind it:
nothing is recorded until the viewer opts in, whatever they do meanwhile. GUI thread only.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from telemetry.client.disclosure import ALWAYS_SENT, NEVER_SENT, PURPOSES


def consent_html(collector_url: str) -> str:
    """What is collected and why, as the dialog and the privacy window show it."""
    parts = []
    for purpose in PURPOSES:
        items = "".join(
            f"<li>{escape(item.description)} <span style='color:gray'>"
            f"({escape(item.event_type)})</span></li>"
            for item in purpose.events
        )
        parts.append(
            f"<h4>{escape(purpose.title)}</h4><p>Why: {escape(purpose.why)}.</p><ul>{items}</ul>"
        )
    where = escape(collector_url) if collector_url else "the collector set in Settings"
    return (
        "".join(parts)
        + f"<p>{escape(ALWAYS_SENT)}</p><p><b>{escape(NEVER_SENT)}</b></p>"
        + f"<p>Where it goes: {where}. Events wait on this device until they are sent.</p>"
    )


class ConsentDialog(QDialog):
    """Asks once; `choice_made(True)` to share, `choice_made(False)` not to. Closing it without
    choosing (Esc) leaves the question open: nothing is recorded, and it is asked next launch."""

    choice_made = Signal(bool)

    def __init__(self, collector_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConsentDialog")
        self.setWindowTitle("Help improve Reelscope?")
        self.resize(620, 560)
        intro = QLabel(
            "<h3>May Reelscope record how you use it?</h3>"
            "<p>If you agree, Reelscope records what the home screen showed you and how "
            "playback went, and sends it to the collector so that the player and its "
            "recommendations can be improved. If you do not, nothing is recorded and nothing "
            "is sent. You can change your mind at any time in <b>Settings</b>, and see "
            "everything recorded in <b>What Reelscope knows about you</b>.</p>"
        )
        intro.setWordWrap(True)
        self.details = QTextBrowser()
        self.details.setHtml(consent_html(collector_url))
        self.share = QPushButton("Share usage data")
        self.decline = QPushButton("Don't share")
        self.share.clicked.connect(self._on_share_clicked)
        self.decline.clicked.connect(self._on_decline_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.decline)
        buttons.addWidget(self.share)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)

    def _on_share_clicked(self) -> None:
        self.choice_made.emit(True)
        self.accept()

    def _on_decline_clicked(self) -> None:
        self.choice_made.emit(False)
        self.accept()
