"""`reelscope [FILE_OR_URL]`: start-up checks, the QApplication, and the wiring of the parts.

Owns process start-up and shutdown: logging (set up by `ui.log_file`, Qt's own messages routed
into it), the libVLC check with a message that names what to install, the engine's options for
this display, and the main window. GUI thread (the main thread) only.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QMessageLogContext,
    QSocketNotifier,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from player.engine import EngineEvent, EngineEventKind, EventSink, PlaybackEngine
from player.errors import LIBVLC_INSTALL_HINT
from player.paths import APP_ID, config_dir, log_dir, resources_dir
from player.settings import Settings, SettingsStore
from telemetry.client.config import APP_VERSION, TelemetryConfig
from ui.log_file import configure_logging
from ui.main_window import MainWindow
from ui.theme import apply_theme

if TYPE_CHECKING:
    from player.catalog import Catalog
    from player.history import WatchHistory
    from player.session_journal import SessionJournals
    from telemetry.client.client import TelemetryClient
    from telemetry.client.feed_client import FeedRequest
    from ui.home.browse import CatalogLoader
    from ui.playback_telemetry import PlaybackTelemetry

log = logging.getLogger("reelscope.app")
_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
_HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc"}
_SIGNAL_SOCKETS: list[socket.socket] = []
_CLOSING_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_FIRST_PICTURE_OR_FAILURE = {
    EngineEventKind.VIDEO_OUTPUT,
    EngineEventKind.ERROR,
    EngineEventKind.ENDED,
}


def _route_qt_messages(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    logging.getLogger("reelscope.qt").log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reelscope", description="Reelscope video player")
    # Several, because file managers pass every selected file (the launcher's %F); one plays.
    parser.add_argument(
        "sources", nargs="*", metavar="FILE_OR_URL", help="video files or URLs; the first plays"
    )
    parser.add_argument(
        "--catalog",
        action="append",
        default=[],
        metavar="FILE_OR_URL",
        help="a catalog JSON file or URL to browse (see docs/catalog.md); repeatable",
    )
    parser.add_argument(
        "--library",
        action="append",
        default=[],
        metavar="FOLDER",
        help="a folder of videos to browse (scanned in the background); repeatable",
    )
    parser.add_argument("--version", action="version", version=f"reelscope {APP_VERSION}")
    return parser.parse_args(list(argv))


def make_engine_factory(platform: str) -> tuple[str | None, str | None]:
    """The video and audio outputs for this Qt platform (environment overrides win).

    Without a real window system libVLC must not look for one: it falls back to an ASCII-art
    output and crashes, so headless platforms get the dummy video output.
    """
    video = os.environ.get("REELSCOPE_VOUT") or (
        "dummy" if platform in _HEADLESS_PLATFORMS else None
    )
    audio = os.environ.get("REELSCOPE_AOUT") or None
    return video, audio


def _load_libvlc() -> tuple[ModuleType | None, str | None]:
    """Import the libVLC engine and check it works; on failure, what to tell the user.

    python-vlc may raise OSError or NotImplementedError at import with a broken library, and
    calls sys.exit() when PYTHON_VLC_LIB_PATH names a library it cannot load.
    """
    try:
        from player import vlc_engine
    except (ImportError, OSError, NotImplementedError, SystemExit) as exc:
        log.debug("python-vlc failed to import: %r", exc)
        return None, LIBVLC_INSTALL_HINT
    return vlc_engine, vlc_engine.check_video_output_plugins()


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    configure_logging(log_dir(), os.environ.get("REELSCOPE_LOG", "WARNING"))
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    qInstallMessageHandler(_route_qt_messages)
    QGuiApplication.setDesktopFileName(APP_ID)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Reelscope")
    app.setApplicationDisplayName("Reelscope")
    app.setOrganizationName("Reelscope")
    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / f"{APP_ID}.svg")))

    vlc_engine, problem = _load_libvlc()
    if vlc_engine is None or problem is not None:
        return _fail(problem or LIBVLC_INSTALL_HINT)

    apply_theme(app)
    video_output, audio_output = make_engine_factory(QGuiApplication.platformName())

    store = SettingsStore(config_dir())

    def engine_factory(sink: EventSink) -> PlaybackEngine:
        # Read when the engine is made, so saved engine settings apply to the next engine.
        settings = store.load()
        engine: PlaybackEngine = vlc_engine.VlcEngine(
            sink,
            video_output=video_output,
            audio_output=audio_output,
            network_caching_ms=settings.network_caching_ms,
            hardware_decoding=settings.hardware_decoding,
        )
        return engine

    # Only what the window's first paint needs comes before it; the rest is imported after.
    window = MainWindow(engine_factory, QWidget())
    _log_first_picture(window, started)
    window.show()
    log.info("window shown after %.0f ms", (time.monotonic() - started) * 1000)

    from player.session_journal import SessionJournals, default_journal_dir
    from telemetry.client.client import TelemetryClient
    from ui.playback_telemetry import PlaybackTelemetry

    settings, config = _telemetry_config(store.load())
    window.watch.preferred_audio = settings.audio_language
    window.watch.preferred_subtitle = settings.subtitle_language
    telemetry = TelemetryClient(config)
    # A session's crash journal goes once its session_end is committed, not when it is sent.
    journals = SessionJournals(default_journal_dir(), telemetry.add_commit_listener)
    # Play sessions are wired before anything plays, so a title's play_request is time zero;
    # the home page, Settings and the privacy window wait (see `_finish_start_up`).
    playback = PlaybackTelemetry(window, telemetry.track, journals=journals, parent=window)
    try:
        window.player.engine  # noqa: B018 - libVLC starts here, after the window is up
    except vlc_engine.LibVlcUnavailableError as exc:
        return _fail(str(exc))

    _close_on_termination_signals(window)
    _integrate_with_the_desktop(window, playback)

    def finish() -> None:
        _finish_start_up(
            app, window, playback, journals, telemetry, store, settings, args, vlc_engine
        )
        log.info("start-up finished after %.0f ms", (time.monotonic() - started) * 1000)

    if args.sources:
        window.play(args.sources[0])
        _after_first_picture(window, finish)
    else:
        QTimer.singleShot(0, finish)
    return app.exec()


def _finish_start_up(  # noqa: PLR0917 - the parts main() made, handed over once
    app: QApplication,
    window: MainWindow,
    playback: PlaybackTelemetry,
    journals: SessionJournals,
    telemetry: TelemetryClient,
    store: SettingsStore,
    settings: Settings,
    args: argparse.Namespace,
    vlc_engine: ModuleType,
) -> None:
    """Everything the window's first paint and first picture do not need, on the first turn
    of the event loop: the home screen, sync controls and consent, telemetry's threads, crash
    recovery and catalog loading. Imported here, not at the top, for the same reason."""
    from player.history import WatchHistory, default_history_path
    from ui.home.browse import BrowseController
    from ui.home.home_view import HomeView
    from ui.home.server_feed import ServerFeed
    from ui.telemetry_controls import TelemetryControls

    history = WatchHistory(default_history_path())
    home = HomeView(telemetry.track)
    window.set_home(home)
    server = ServerFeed(lambda: _feed_request(telemetry), parent=window)
    browse = BrowseController(home, window, history, server=server, parent=window)
    browse.play_starting.connect(playback.prepare)
    controls = TelemetryControls(
        window, telemetry, store, settings, session=lambda: playback.session, parent=window
    )
    # A feed laid out while the consent question was open is recorded once the viewer opts in.
    controls.recording_started.connect(home.recording_started)
    # ... and, the viewer having opted in, the server may now be asked for a feed.
    controls.recording_started.connect(browse.ask_server)
    controls.library_changed.connect(
        lambda folders: browse.load_in_background(_catalog_loaders(args, vlc_engine, folders))
    )
    app.aboutToQuit.connect(browse.shutdown)
    from ui.up_next import UpNext

    up_next = UpNext(
        window,
        telemetry.track,
        playback=playback,
        feed_next=browse.next_in_row,
        autoplay=settings.autoplay,
        parent=window,
    )
    up_next.set_queue(args.sources)
    window.opened_together.connect(up_next.set_queue)
    controls.settings_saved.connect(lambda saved: setattr(up_next, "autoplay", saved.autoplay))
    controls.ask_consent_if_needed()
    telemetry.start()
    _recover_crashed_sessions(journals, telemetry, history)
    browse.load_in_background(_catalog_loaders(args, vlc_engine, settings.library_folders))


def _feed_request(telemetry: TelemetryClient) -> FeedRequest | None:
    """What to ask GET /v1/feed for this device; None until the viewer has opted in."""
    from telemetry.client.feed_client import FeedRequest

    if not telemetry.consent:
        return None
    endpoint, write_key = telemetry.endpoint
    return FeedRequest(
        endpoint,
        write_key,
        telemetry.device_id,
        app_version=APP_VERSION,
        allow_insecure_http=telemetry.allows_insecure_http,
    )


def _telemetry_config(settings: Settings) -> tuple[Settings, TelemetryConfig]:
    """The client's config from the saved settings (or their environment defaults), and the
    settings with the URL and key the client really uses filled in."""
    overrides: dict[str, object] = {}
    if settings.collector_url:
        overrides["endpoint"] = settings.collector_url
    if settings.write_key:
        overrides["write_key"] = settings.write_key
    config = TelemetryConfig.default(**overrides)
    return replace(settings, collector_url=config.endpoint, write_key=config.write_key), config


def _recover_crashed_sessions(
    journals: SessionJournals, telemetry: TelemetryClient, history: WatchHistory
) -> None:
    """Sends the `session_end` a killed run could not, and keeps where it was for resuming.
    The sessions of this run (the title given on the command line is playing by now) are not
    a crash: `SessionJournals` knows its own."""
    for session in journals.recover(telemetry.track):
        log.info("recovered play session %s after a crash", session.play_session_id)
        if session.position_ms > 0:
            history.record_progress(session.video_id, session.position_ms, session.duration_ms or 0)


def _integrate_with_the_desktop(window: MainWindow, playback: PlaybackTelemetry) -> None:
    """MPRIS media controls and the screen saver held off while playing, where a D-Bus
    session bus runs (Linux desktops); nothing elsewhere."""
    from ui.mpris import MprisService, ScreenSaverInhibitor, session_bus_available

    if not sys.platform.startswith("linux") or not session_bus_available():
        return
    mpris = MprisService(window, parent=window)
    mpris.viewer_action.connect(playback.record_viewer_action)
    # An inhibition ends with this process's bus connection too, so none outlives the app.
    ScreenSaverInhibitor(window, parent=window)


def _fail(problem: str) -> int:
    print(problem, file=sys.stderr)
    if QGuiApplication.platformName() not in _HEADLESS_PLATFORMS:
        QMessageBox.critical(None, "Reelscope cannot play video", problem)
    return 1


def _close_on_termination_signals(window: MainWindow) -> None:
    """SIGTERM (logout, `kill`) and SIGINT close the window as the viewer would, so the play
    session ends as `app_exit` and telemetry flushes, instead of the next launch finding a
    crash. Python runs signal handlers only between bytecodes and Qt's loop runs in C, so a
    wake-up socket watched by the loop brings control back to Python."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)

    def on_wake_up() -> None:
        received = reader.recv(64)
        if any(number in _CLOSING_SIGNALS for number in received):
            log.info("closing on signal %s", ", ".join(str(n) for n in received))
            window.close()

    notifier.activated.connect(on_wake_up)
    for number in _CLOSING_SIGNALS:
        signal.signal(number, lambda *_: None)  # the wake-up byte is the message
    # The sockets live as long as the process: the wake-up fd must stay valid until exit.
    _SIGNAL_SOCKETS.extend((reader, writer))


def _after_first_picture(window: MainWindow, then: Callable[[], None]) -> None:
    """Run `then` once the title being opened shows its first picture (or fails, or 1.5 s
    have passed): with a title playing, the picture comes before the rest of start-up."""
    done = False

    def run_once() -> None:
        nonlocal done
        if not done:
            done = True
            window.player.engine_event.disconnect(on_engine_event)
            QTimer.singleShot(0, then)

    def on_engine_event(event: EngineEvent) -> None:
        if event.kind in _FIRST_PICTURE_OR_FAILURE and (
            event.kind is not EngineEventKind.VIDEO_OUTPUT or event.value
        ):
            run_once()

    window.player.engine_event.connect(on_engine_event)
    window.player.playback_failed.connect(run_once)
    QTimer.singleShot(1500, run_once)


def _log_first_picture(window: MainWindow, started: float) -> None:
    """Log when the first picture of the first source appears (start-up diagnostics)."""

    def on_engine_event(event: EngineEvent) -> None:
        if event.kind is EngineEventKind.VIDEO_OUTPUT and event.value:
            log.info("first picture after %.0f ms", event.mono_ms - started * 1000)
            window.player.engine_event.disconnect(on_engine_event)

    window.player.engine_event.connect(on_engine_event)


def _catalog_loaders(
    args: argparse.Namespace, vlc_engine: ModuleType, folders: Sequence[str] = ()
) -> list[tuple[str, CatalogLoader]]:
    """The bundled samples, each `--catalog`, then each `--library` and library folder from
    Settings, in that order."""
    from player.catalog import load_catalog_file, load_catalog_url, load_sample_catalog
    from player.library_scan import FolderScanner
    from player.sources import is_url

    loaders: list[tuple[str, CatalogLoader]] = [("samples", load_sample_catalog)]
    for source in args.catalog:

        def load(source: str = source) -> Catalog:
            return load_catalog_url(source) if is_url(source) else load_catalog_file(Path(source))

        loaders.append((source, load))
    for folder in dict.fromkeys([*args.library, *folders]):
        scanner = FolderScanner(Path(folder), probe=vlc_engine.probe_media)
        loaders.append((folder, scanner.scan))
    return loaders


if __name__ == "__main__":
    sys.exit(main())
