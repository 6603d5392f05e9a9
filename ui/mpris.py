"""Linux desktop integration over D-Bus: MPRIS (the desktop's media controls and media keys see
the title, its length and position, and can play, pause, seek and skip chapters), and the
screen saver held off while a video plays (org.freedesktop.ScreenSaver).

Owns the D-Bus objects only; every command goes to `ui.player_view.PlayerView` and
`ui.watch_controls.WatchControls` as a key or menu would. MPRIS is served by
`ui.dbus_object.BusObject` (jeepney), which types every value as the spec does (int64 lengths and
positions); the screen saver is asked through QtDBus. Both deliver on the GUI thread; GUI thread
only.
"""

from __future__ import annotations

import logging
import os
from typing import Final

from PySide6.QtCore import Q_ARG, QMetaObject, QObject, Qt, Signal
from PySide6.QtDBus import (
    QDBusConnection,
    QDBusInterface,
    QDBusMessage,
    QDBusPendingCallWatcher,
)

from player.engine import EngineEvent, EngineEventKind, PlaybackState
from player.paths import APP_ID
from player.sources import display_name, is_url
from ui.dbus_object import BusObject, DBusError, Reply, session_bus_address
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
    return session_bus_address() is not None


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


_INTROSPECTION: Final = f"""<!DOCTYPE node PUBLIC
 "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="org.freedesktop.DBus.Introspectable">
  <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
 </interface>
 <interface name="org.freedesktop.DBus.Peer">
  <method name="Ping"></method>
 </interface>
 <interface name="org.freedesktop.DBus.Properties">
  <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="out"/></method>
  <method name="GetAll"><arg type="s" direction="in"/><arg type="a{{sv}}" direction="out"/></method>
  <method name="Set"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="in"/></method>
  <signal name="PropertiesChanged"><arg type="s"/><arg type="a{{sv}}"/><arg type="as"/></signal>
 </interface>
 <interface name="{ROOT_INTERFACE}">
  <method name="Raise"></method>
  <method name="Quit"></method>
  <property name="CanQuit" type="b" access="read"/>
  <property name="CanRaise" type="b" access="read"/>
  <property name="HasTrackList" type="b" access="read"/>
  <property name="Identity" type="s" access="read"/>
  <property name="DesktopEntry" type="s" access="read"/>
  <property name="SupportedUriSchemes" type="as" access="read"/>
  <property name="SupportedMimeTypes" type="as" access="read"/>
 </interface>
 <interface name="{PLAYER_INTERFACE}">
  <method name="Next"></method>
  <method name="Previous"></method>
  <method name="Pause"></method>
  <method name="PlayPause"></method>
  <method name="Stop"></method>
  <method name="Play"></method>
  <method name="Seek"><arg name="Offset" type="x" direction="in"/></method>
  <method name="SetPosition"><arg name="TrackId" type="o" direction="in"/>
   <arg name="Position" type="x" direction="in"/></method>
  <method name="OpenUri"><arg name="Uri" type="s" direction="in"/></method>
  <signal name="Seeked"><arg name="Position" type="x"/></signal>
  <property name="PlaybackStatus" type="s" access="read"/>
  <property name="Rate" type="d" access="read"/>
  <property name="Metadata" type="a{{sv}}" access="read"/>
  <property name="Volume" type="d" access="read"/>
  <property name="Position" type="x" access="read"/>
  <property name="MinimumRate" type="d" access="read"/>
  <property name="MaximumRate" type="d" access="read"/>
  <property name="CanGoNext" type="b" access="read"/>
  <property name="CanGoPrevious" type="b" access="read"/>
  <property name="CanPlay" type="b" access="read"/>
  <property name="CanPause" type="b" access="read"/>
  <property name="CanSeek" type="b" access="read"/>
  <property name="CanControl" type="b" access="read"/>
 </interface>
</node>
"""
_MIME_TYPES: Final = (
    "video/mp4",
    "video/x-matroska",
    "video/webm",
    "application/vnd.apple.mpegurl",
)
_ROOT_COMMANDS: Final = {"Raise": "raise", "Quit": "quit"}
_PLAYER_COMMANDS: Final = {
    "Play": "play",
    "Pause": "pause",
    "PlayPause": "play_pause",
    "Stop": "stop",
    "Next": "next",
    "Previous": "previous",
}
_UNKNOWN_METHOD: Final = "org.freedesktop.DBus.Error.UnknownMethod"
_UNKNOWN_PROPERTY: Final = "org.freedesktop.DBus.Error.UnknownProperty"
_READ_ONLY: Final = "org.freedesktop.DBus.Error.PropertyReadOnly"

Variant = tuple[str, object]  # a D-Bus type and a value: how jeepney writes a variant


class MprisService(QObject):
    """The player on the session bus (or the bus at `address`, in tests) as an MPRIS media
    player; every value goes out with the D-Bus type the MPRIS spec gives it (`ui.dbus_object`).
    """

    viewer_action = Signal(str, object)  # "remote_control", {"command": …}

    def __init__(
        self, window: MainWindow, address: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.registered = False
        self.service_name = SERVICE
        self._bus = BusObject(OBJECT_PATH, self._on_call, address, self)
        if not self._bus.connected:
            return
        # A second instance takes a name of its own, as the MPRIS spec suggests.
        if not self._bus.request_name(SERVICE):
            self.service_name = f"{SERVICE}.instance{os.getpid()}"
            if not self._bus.request_name(self.service_name):
                return
        self.registered = True
        window.player.engine_event.connect(self._on_player_engine_event)
        window.player.seeking.connect(self._on_player_seeking)
        window.source_opened.connect(self._on_window_source_opened)

    def close(self) -> None:
        self._bus.close()

    # -- what the desktop reads ----------------------------------------------------------------

    def has_media(self) -> bool:
        return self.window.player.source is not None

    def playback_status(self) -> str:
        if not self.has_media():
            return "Stopped"
        return _STATUS.get(self.window.player.engine.state, "Stopped")

    def metadata(self) -> dict[str, Variant]:
        source = self.window.player.source
        if source is None:
            return {"mpris:trackid": ("o", _NO_TRACK)}
        data: dict[str, Variant] = {
            "mpris:trackid": ("o", _TRACK),
            "xesam:title": ("s", display_name(source)),
            "mpris:length": ("x", self.window.player.engine.duration_ms * _US_PER_MS),
        }
        if not is_url(source):
            data["xesam:url"] = ("s", f"file://{source}")
        return data

    def position_us(self) -> int:
        return self.window.player.engine.position_ms * _US_PER_MS if self.has_media() else 0

    def rate(self) -> float:
        return self.window.player.engine.rate if self.has_media() else 1.0

    def volume(self) -> float:
        return self.window.player.engine.volume / 100.0 if self.has_media() else 1.0

    def properties(self, interface: str) -> dict[str, Variant]:
        """Every property of `interface`, each with its MPRIS type."""
        if interface == ROOT_INTERFACE:
            return {
                "CanQuit": ("b", True),
                "CanRaise": ("b", True),
                "HasTrackList": ("b", False),
                "Identity": ("s", "Reelscope"),
                "DesktopEntry": ("s", APP_ID),
                "SupportedUriSchemes": ("as", ["file", "http", "https", "rtsp"]),
                "SupportedMimeTypes": (
                    "as",
                    [
                        "video/mp4",
                        "video/x-matroska",
                        "video/webm",
                        "application/vnd.apple.mpegurl",
                    ],
                ),
            }
        if interface == PLAYER_INTERFACE:
            media, chapters = self.has_media(), bool(self.window.watch.chapters)
            return {
                "PlaybackStatus": ("s", self.playback_status()),
                "Rate": ("d", self.rate()),
                "Metadata": ("a{sv}", self.metadata()),
                "Volume": ("d", self.volume()),
                "Position": ("x", self.position_us()),
                "MinimumRate": ("d", 0.1),
                "MaximumRate": ("d", 4.0),
                "CanGoNext": ("b", chapters),
                "CanGoPrevious": ("b", chapters),
                "CanPlay": ("b", media),
                "CanPause": ("b", media),
                "CanSeek": ("b", media),
                "CanControl": ("b", True),
            }
        raise DBusError(_UNKNOWN_PROPERTY, f"no interface {interface}")

    # -- what the desktop asks ------------------------------------------------------------------

    def _on_call(self, interface: str, member: str, body: tuple[object, ...]) -> Reply:
        """A method call from the bus (interface may be "" when the caller names none)."""
        if member == "Introspect" and interface in ("", "org.freedesktop.DBus.Introspectable"):
            return "s", (_INTROSPECTION,)
        if member == "Ping" and interface in ("", "org.freedesktop.DBus.Peer"):
            return "", ()
        if interface == "org.freedesktop.DBus.Properties":
            return self._on_properties_call(member, body)
        if member in _ROOT_COMMANDS and interface in ("", ROOT_INTERFACE):
            self.command(_ROOT_COMMANDS[member])
        elif interface not in ("", PLAYER_INTERFACE):
            raise DBusError(_UNKNOWN_METHOD, f"no interface {interface}")
        elif member in _PLAYER_COMMANDS:
            self.command(_PLAYER_COMMANDS[member])
        elif member == "Seek":
            self.command("seek", int(body[0]))  # type: ignore[call-overload]  # x
        elif member == "SetPosition":
            self.command("set_position", int(body[1]))  # type: ignore[call-overload]  # o, x
        elif member == "OpenUri":
            self.open_uri(str(body[0]))
        else:
            raise DBusError(_UNKNOWN_METHOD, f"no method {member}")
        return "", ()

    def _on_properties_call(self, member: str, body: tuple[object, ...]) -> Reply:
        if member == "GetAll":
            return "a{sv}", (self.properties(str(body[0])),)
        if member == "Get":
            found = self.properties(str(body[0])).get(str(body[1]))
            if found is None:
                raise DBusError(_UNKNOWN_PROPERTY, f"no property {body[1]}")
            return "v", (found,)
        if member == "Set":
            raise DBusError(
                "org.freedesktop.DBus.Error.PropertyReadOnly", f"{body[1]} is read-only"
            )
        raise DBusError(_UNKNOWN_METHOD, f"no method {member}")

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

    def _on_player_seeking(self, target_ms: int, _method: str) -> None:
        """Seeked (x, in µs): the position jumped, so the desktop's clock moves there."""
        duration_ms = self.window.player.engine.duration_ms
        landed = max(0, min(target_ms, duration_ms) if duration_ms > 0 else target_ms)
        self._bus.send_signal(PLAYER_INTERFACE, "Seeked", "x", (landed * _US_PER_MS,))

    def _announce(self) -> None:
        """PropertiesChanged for what a desktop shows: status, metadata, what it may do."""
        every = self.properties(PLAYER_INTERFACE)
        changed = {
            name: every[name]
            for name in ("PlaybackStatus", "Metadata", "CanGoNext", "CanGoPrevious")
        }
        self._bus.send_signal(
            "org.freedesktop.DBus.Properties",
            "PropertiesChanged",
            "sa{sv}as",
            (PLAYER_INTERFACE, changed, []),
        )


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
