"""The viewer's controls over telemetry, wired into the main window: the first-run consent
question, Settings, the sync status in the status bar, "What Reelscope knows about you", and
the stats for nerds (the player's `I` key).

Owns those windows and applies what they report: consent to the telemetry client, a new
collector URL or key to its sender, new library folders to the browse controller (through
`library_changed`), and tells when recording starts (`recording_started`: the viewer opted in,
so what is on screen can be recorded from now on). Engine options (network caching, hardware
decoding) are read by the app's engine factory from the settings store, so they apply to the
next engine. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from player.play_session import PlaySession
from player.settings import Settings, SettingsStore
from telemetry.client.client import TelemetryClient
from ui.consent_dialog import ConsentDialog
from ui.main_window import MainWindow
from ui.privacy_window import PrivacyWindow
from ui.settings_dialog import SettingsDialog
from ui.stats_overlay import SessionSource, StatsOverlay
from ui.sync_status import SyncStatusButton


def _no_session() -> PlaySession | None:
    return None


class TelemetryControls(QObject):
    """Create after the window with the settings in effect (the collector URL and key the
    client was configured with); call `ask_consent_if_needed()` once the window is shown."""

    library_changed = Signal(object)  # tuple of folder paths
    settings_saved = Signal(object)  # Settings, after the viewer saved them
    recording_started = Signal()

    def __init__(
        self,
        window: MainWindow,
        client: TelemetryClient,
        store: SettingsStore,
        settings: Settings,
        *,
        session: SessionSource = _no_session,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._window = window
        self._client = client
        self._store = store
        self._settings = settings
        self.consent_dialog: ConsentDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.sync_status = SyncStatusButton(client.status())
        self.sync_status.sync_now_requested.connect(client.sync_now)
        client.add_status_listener(self.sync_status.post)
        window.statusBar().addPermanentWidget(self.sync_status)
        # Built when first opened: its event list costs more than the rest of start-up here.
        self.privacy: PrivacyWindow | None = None
        self.stats = StatsOverlay(lambda: window.player.engine, session, parent=window)
        window.player.engine_event.connect(self.stats.on_engine_event)
        window.player.stats_requested.connect(self.stats.toggle)
        window.settings_requested.connect(self.open_settings)
        window.privacy_requested.connect(self.open_privacy)

    def _server(self) -> tuple[str, str]:
        return self._settings.collector_url, self._settings.write_key

    def ask_consent_if_needed(self) -> ConsentDialog | None:
        """At first run (no choice stored), ask without blocking; nothing is recorded until
        the viewer opts in. Returns the dialog shown, if any."""
        if self._client.consent_decided:
            return None
        dialog = ConsentDialog(self._settings.collector_url, parent=self._window)
        dialog.choice_made.connect(self._set_consent)
        dialog.open()
        self.consent_dialog = dialog
        return dialog

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(
            self._store, self._settings, self._client.consent, parent=self._window
        )
        dialog.settings_saved.connect(self._on_settings_dialog_settings_saved)
        dialog.consent_changed.connect(self._set_consent)
        dialog.open()
        self.settings_dialog = dialog
        return dialog

    def open_privacy(self) -> PrivacyWindow:
        if self.privacy is None:
            self.privacy = PrivacyWindow(self._client, self._server, parent=self._window)
        self.privacy.show()
        self.privacy.raise_()
        return self.privacy

    def _set_consent(self, enabled: bool) -> None:
        was = self._client.consent
        self._client.set_consent(enabled)
        if enabled and not was:
            self.recording_started.emit()

    def _on_settings_dialog_settings_saved(self, settings: Settings) -> None:
        before, self._settings = self._settings, settings
        if (settings.collector_url, settings.write_key) != (before.collector_url, before.write_key):
            self._client.set_endpoint(settings.collector_url, settings.write_key)
        self.settings_saved.emit(settings)
        self._window.watch.preferred_audio = settings.audio_language
        self._window.watch.preferred_subtitle = settings.subtitle_language
        if settings.library_folders != before.library_folders:
            self.library_changed.emit(settings.library_folders)
