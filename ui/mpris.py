"""Linux desktop integration over D-Bus: MPRIS (the desktop's media controls and media keys see
the title, its length and position, and can play, pause, seek and skip chapters), and the
screen saver held off while a video plays (org.freedesktop.ScreenSaver).

Owns the D-Bus objects only; every command goes to `ui.player_view.PlayerView` and
`ui.watch_controls.WatchControls` as a key or menu would. QtDBus delivers calls on the GUI
thread (the connection's objects live there); GUI thread only.
"""

from __future__ import annotations

import logging
import os
from typing import Final

from PySide6.QtCore import Q_ARG, ClassInfo, Property, QMetaObject, QObject, Qt, Signal, Slot
from PySide6.QtDBus import (
    QDBusAbstractAdaptor,
    QDBusConnection,
    QDBusInterface,
    QDBusMessage,
    QDBusObjectPath,
    QDBusPendingCallWatcher,
)

from player.engine import EngineEvent, EngineEventKind, PlaybackState
from player.paths import APP_ID
from player.sources import display_name, is_url
from ui.main_window import MainWindow

log = logging.getLogger("reelscope.ui.mpris")

OBJECT_PATH: Final = "/org/mpris/MediaPlayer2"
SERVICE: Final = "org.mpris.MediaPlayer2.reelscope"
ROOT_INTERFACE: Final = "org.mpris.MediaPlayer2"
PLAYER_INTERFACE: Final = "org.mpris.MediaPlayer2.Player"
_NO_TRACK: Final = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
_TRACK: Final = "/io/github/reelscope/Reelscope/track/current"
_US_PER_MS: Final = 1000
_STATUS: Final = {
    PlaybackState.PLAYING: "Playing",
    PlaybackState.BUFFERING: "Playing",
    PlaybackState.OPENING: "Playing",
    PlaybackState.PAUSED: "Paused",
}
_STATE_EVENTS: Final = frozenset(
    {
        EngineEventKind.PLAYING,
        EngineEventKind.PAUSED,
        EngineEventKind.STOPPED,
        EngineEventKind.ENDED,
        EngineEventKind.ERROR,
        EngineEventKind.LENGTH_CHANGED,
    }
)

_RELEASING_EVENTS: Final = frozenset(
    {EngineEventKind.PAUSED, EngineEventKind.STOPPED, EngineEventKind.ENDED, EngineEventKind.ERROR}
)


def session_bus_available() -> bool:
    """Whether a session bus is there to talk to, without making libdbus start one."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")) or bool(
        runtime and os.path.exists(os.path.join(runtime, "bus"))
    )


class _Adaptor(QDBusAbstractAdaptor):
    """An MPRIS interface of `service`: its methods and properties call the service."""

    def __init__(self, service: MprisService) -> None:
        super().__init__(service)
        self._service = service


def _command(method: str, command: str) -> object:
    """The D-Bus method `method` (no arguments): the service runs `command`."""

    def call(self: _Adaptor) -> None:
        self._service.command(command)

    call.__name__ = method
    return Slot(name=method)(call)


def _constant(kind: type | str, value: object) -> Property:
    """A read-only D-Bus property that never changes."""
    return Property(kind, lambda _self: value)  # type: ignore[arg-type]  # a Qt type name


@ClassInfo({"D-Bus Interface": ROOT_INTERFACE})  # type: ignore[call-arg]  # PySide6's stubs
class _RootAdaptor(_Adaptor):  # type: ignore[operator]
    Raise = _command("Raise", "raise")
    Quit = _command("Quit", "quit")

    CanQuit = _constant(bool, True)
    CanRaise = _constant(bool, True)
    HasTrackList = _constant(bool, False)
    Identity = _constant(str, "Reelscope")
    DesktopEntry = _constant(str, APP_ID)
    SupportedUriSchemes = _constant("QStringList", ["file", "http", "https", "rtsp"])
    SupportedMimeTypes = _constant(
        "QStringList",
        ["video/mp4", "video/x-matroska", "video/webm", "application/vnd.apple.mpegurl"],
    )


@ClassInfo({"D-Bus Interface": PLAYER_INTERFACE})  # type: ignore[call-arg]
class _PlayerAdaptor(_Adaptor):  # type: ignore[operator]
    Play = _command("Play", "play")
    Pause = _command("Pause", "pause")
    PlayPause = _command("PlayPause", "play_pause")
    Stop = _command("Stop", "stop")
    Next = _command("Next", "next")
    Previous = _command("Previous", "previous")

    @Slot("qlonglong")
    def Seek(self, offset_us: int) -> None:  # noqa: N802 - MPRIS names
        self._service.command("seek", offset_us)

    @Slot(QDBusObjectPath, "qlonglong")
    def SetPosition(self, _track: QDBusObjectPath, position_us: int) -> None:  # noqa: N802
        self._service.command("set_position", position_us)

    @Slot(str)
    def OpenUri(self, uri: str) -> None:  # noqa: N802
        self._service.open_uri(uri)

    def _status(self) -> str:
        return self._service.playback_status()

    def _metadata(self) -> dict[str, object]:
        return self._service.metadata()

    def _position(self) -> int:
        return self._service.position_us()

    def _rate(self) -> float:
        return self._service.rate()

    def _volume(self) -> float:
        return self._service.volume()

    def _can_play(self) -> bool:
        return self._service.has_media()

    def _can_chapter(self) -> bool:
        return bool(self._service.window.watch.chapters)

    PlaybackStatus = Property(str, _status)
    Metadata = Property("QVariantMap", _metadata)  # type: ignore[arg-type]  # a Qt type name
    Position = Property("qlonglong", _position)  # type: ignore[arg-type]  # a Qt type name
    Rate = Property(float, _rate)
    Volume = Property(float, _volume)
    MinimumRate = _constant(float, 0.1)
    MaximumRate = _constant(float, 4.0)
    CanPlay = Property(bool, _can_play)
    CanPause = Property(bool, _can_play)
    CanSeek = Property(bool, _can_play)
    CanGoNext = Property(bool, _can_chapter)
    CanGoPrevious = Property(bool, _can_chapter)
    CanControl = _constant(bool, True)


class _OnSessionBus(QObject):
    """A part of `window` that talks to the session bus (or to `connection`, in tests); each
    kind says what it does there in `_start`."""

    def __init__(
        self,
        window: MainWindow,
        connection: QDBusConnection | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self._bus = connection if connection is not None else QDBusConnection.sessionBus()
        self._start()

    def _start(self) -> None:
        raise NotImplementedError


class MprisService(_OnSessionBus):
    """The player on the session bus as an MPRIS media player."""

    viewer_action = Signal(str, object)  # "remote_control", {"command": …}

    def _start(self) -> None:
        window = self.window
        self._root = _RootAdaptor(self)
        self._player_adaptor = _PlayerAdaptor(self)
        self._status = "Stopped"
        self.registered = False
        if not self._bus.isConnected():
            log.info("no D-Bus session bus: no MPRIS media controls")
            return
        if not self._bus.registerObject(OBJECT_PATH, self):
            log.warning("cannot register MPRIS object: %s", self._bus.lastError().message())
            return
        # A second instance takes a name of its own, as the MPRIS spec suggests.
        self.service_name = SERVICE
        if not self._bus.registerService(SERVICE):
            self.service_name = f"{SERVICE}.instance{os.getpid()}"
            self._bus.registerService(self.service_name)
        self.registered = True
        window.player.engine_event.connect(self._on_player_engine_event)
        window.source_opened.connect(self._on_window_source_opened)

    # -- what the desktop reads ----------------------------------------------------------------

    def has_media(self) -> bool:
        return self.window.player.source is not None

    def playback_status(self) -> str:
        if not self.has_media():
            return "Stopped"
        return _STATUS.get(self.window.player.engine.state, "Stopped")

    def metadata(self) -> dict[str, object]:
        source = self.window.player.source
        if source is None:
            return {"mpris:trackid": QDBusObjectPath(_NO_TRACK)}
        data: dict[str, object] = {
            "mpris:trackid": QDBusObjectPath(_TRACK),
            "xesam:title": display_name(source),
            "mpris:length": self.window.player.engine.duration_ms * _US_PER_MS,
        }
        if not is_url(source):
            data["xesam:url"] = f"file://{source}"
        return data

    def position_us(self) -> int:
        return self.window.player.engine.position_ms * _US_PER_MS if self.has_media() else 0

    def rate(self) -> float:
        return self.window.player.engine.rate if self.has_media() else 1.0

    def volume(self) -> float:
        return self.window.player.engine.volume / 100.0 if self.has_media() else 1.0

    # -- what the desktop asks ------------------------------------------------------------------

    def command(self, name: str, argument: int = 0) -> None:
        player, watch = self.window.player, self.window.watch
        if name == "raise":
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
        elif name == "quit":
            self.window.close()
        elif not self.has_media():
            return
        elif name == "play_pause" or (
            name == "play" and player.engine.state is not PlaybackState.PLAYING
        ):
            player.toggle_pause()
        elif name == "pause":
            player.engine.pause()
        elif name == "stop":
            player.stop()
        elif name == "next":
            watch.next_chapter()
        elif name == "previous":
            watch.previous_chapter()
        elif name == "seek":
            player.seek(player.engine.position_ms + argument // _US_PER_MS, "remote")
        elif name == "set_position":
            player.seek(argument // _US_PER_MS, "remote")
        self.viewer_action.emit("remote_control", {"command": name})

    def open_uri(self, uri: str) -> None:
        source = uri.removeprefix("file://") if uri.startswith("file://") else uri
        self.window.play(source)
        self.viewer_action.emit("remote_control", {"command": "open_uri"})

    # -- telling the desktop ----------------------------------------------------------------

    def _on_player_engine_event(self, event: EngineEvent) -> None:
        if event.kind in _STATE_EVENTS:
            self._announce()

    def _on_window_source_opened(self, _source: str) -> None:
        self._announce()

    def _announce(self) -> None:
        """PropertiesChanged for what a desktop shows: status, metadata, what it may do."""
        changed = {
            "PlaybackStatus": self.playback_status(),
            "Metadata": self.metadata(),
            "CanGoNext": bool(self.window.watch.chapters),
            "CanGoPrevious": bool(self.window.watch.chapters),
        }
        message = QDBusMessage.createSignal(
            OBJECT_PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged"
        )
        message.setArguments([PLAYER_INTERFACE, changed, []])
        self._bus.send(message)


class ScreenSaverInhibitor(_OnSessionBus):
    """Asks org.freedesktop.ScreenSaver not to blank the screen while a video plays, and lets
    it go on pause, stop, end or error. Without the service (no desktop) it does nothing.

    The interface is introspected once, at the first play (a blocking call, milliseconds on a
    local bus): UnInhibit takes a D-Bus uint, which Python ints only become through the
    introspected method's signature."""

    SERVICE: Final = "org.freedesktop.ScreenSaver"
    PATH: Final = "/org/freedesktop/ScreenSaver"

    def _start(self) -> None:
        self._screensaver: QDBusInterface | None = None
        self._cookie: int | None = None
        self._asking: QDBusPendingCallWatcher | None = None
        self._wanted = False
        self.window.player.engine_event.connect(self._on_player_engine_event)

    @property
    def inhibited(self) -> bool:
        return self._cookie is not None

    def _interface(self) -> QDBusInterface | None:
        if self._screensaver is None and self._bus.isConnected():
            interface = QDBusInterface(self.SERVICE, self.PATH, self.SERVICE, self._bus, self)
            if not interface.isValid():
                log.debug("no screen saver service: %s", interface.lastError().message())
                return None
            self._screensaver = interface
        return self._screensaver

    def _on_player_engine_event(self, event: EngineEvent) -> None:
        if event.kind is EngineEventKind.PLAYING:
            self._wanted = True
            self._sync()
        elif event.kind in _RELEASING_EVENTS:
            self._wanted = False
            self._sync()

    def _sync(self) -> None:
        if self._asking is not None:
            return  # an answer is on its way; `_on_inhibit_finished` syncs again
        if self._wanted and self._cookie is None:
            interface = self._interface()
            if interface is None:
                return
            call = interface.asyncCallWithArgumentList("Inhibit", ["Reelscope", "Playing a video"])
            self._asking = QDBusPendingCallWatcher(call, self)
            self._asking.finished.connect(self._on_inhibit_finished)
        elif not self._wanted and self._cookie is not None:
            self.release()

    def _on_inhibit_finished(self, watcher: QDBusPendingCallWatcher) -> None:
        self._asking = None
        reply = watcher.reply()
        watcher.deleteLater()
        arguments = reply.arguments()
        if reply.type() == QDBusMessage.MessageType.ErrorMessage or not arguments:
            log.debug("screen saver not inhibited: %s", reply.errorMessage())
            return
        self._cookie = int(arguments[0])
        self._sync()

    def release(self) -> None:
        """Let the screen saver run again (also when the window closes)."""
        cookie, self._cookie = self._cookie, None
        if cookie is not None and self._screensaver is not None:
            QMetaObject.invokeMethod(
                self._screensaver,
                "UnInhibit",
                Qt.ConnectionType.DirectConnection,
                Q_ARG("uint", cookie),
            )
