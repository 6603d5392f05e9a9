"""One D-Bus object served on its own connection with explicit D-Bus types, for MPRIS.

QtDBus from Python cannot send an int64 inside a variant: PySide6 turns a Python int below 2**31
into a QVariant int (PYSIDE-1250), so `mpris:length` in the Metadata map went out as int32, and
`QDBusArgument << int` picks the uint16 overload. MPRIS wants int64 (`x`) there. jeepney (pure
Python) serialises each message with the signature it is given, so every value goes out with the
type the spec names.

`BusObject` connects (a blocking handshake of milliseconds on a local bus), owns a bus name, and
then reads its socket through a `QSocketNotifier`: method calls reach `handler` and its answer
(or `DBusError`) goes back as the reply; `send_signal` sends a signal. Threads: GUI thread only (the
notifier fires there; nothing else runs on another thread).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Final

from jeepney import (
    DBusAddress,
    HeaderFields,
    Message,
    MessageFlag,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from PySide6.QtCore import QObject, QSocketNotifier

log = logging.getLogger("reelscope.ui.dbus")

_PRIMARY_OWNER: Final = 1  # RequestName's answer when the name is ours
_DO_NOT_QUEUE: Final = 4
_TIMEOUT_S: Final = 2.0

Reply = tuple[str, tuple[Any, ...]]  # signature, body
Handler = Callable[[str, str, tuple[Any, ...]], Reply]  # interface, member, body


def session_bus_address() -> str | None:
    """The session bus's address: the environment's, else the systemd user bus socket (as
    libdbus finds it); None without either, so that no bus gets started."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


class DBusError(Exception):
    """Answered to the caller as a D-Bus error named `name`."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


class BusObject(QObject):
    """`path` on the bus at `address` (None: the session bus), served by `handler`."""

    def __init__(
        self, path: str, handler: Handler, address: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.path = path
        self._handler = handler
        self._connection: DBusConnection | None = None
        self._notifier: QSocketNotifier | None = None
        address = address or session_bus_address()
        if address is None:
            log.info("no D-Bus session bus: no MPRIS media controls")
            return
        try:
            self._connection = open_dbus_connection(bus=address)
        except (OSError, ValueError, RuntimeError) as exc:  # refused, an odd address or transport
            log.info("no D-Bus session bus at %s (%s): no MPRIS media controls", address, exc)
            return
        self._notifier = QSocketNotifier(
            self._connection.sock.fileno(), QSocketNotifier.Type.Read, self
        )
        self._notifier.activated.connect(self._on_notifier_activated)

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def request_name(self, name: str) -> bool:
        """Own `name` (not queued behind another owner); False if it is taken."""
        if self._connection is None:
            return False
        try:
            reply = self._connection.send_and_get_reply(
                message_bus.RequestName(name, _DO_NOT_QUEUE), timeout=_TIMEOUT_S
            )
        except OSError as exc:  # a bus that does not answer in time, or went away
            log.warning("cannot own the D-Bus name %s: %s", name, exc)
            return False
        if reply.header.message_type is MessageType.error:
            log.warning("cannot own the D-Bus name %s: %s", name, reply.body)
            return False
        return bool(reply.body[0] == _PRIMARY_OWNER)

    def send_signal(
        self, interface: str, member: str, signature: str, body: tuple[Any, ...]
    ) -> None:
        if self._connection is not None:
            address = DBusAddress(self.path, interface=interface)
            self._send(new_signal(address, member, signature, body))

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send(self, message: Message) -> None:
        assert self._connection is not None
        try:
            self._connection.send(message)
        except OSError as exc:  # the bus went away: the desktop stops seeing the player
            log.warning("D-Bus connection lost: %s", exc)
            self.close()

    def _on_notifier_activated(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            data = connection.sock.recv(65536)
        except OSError as exc:
            log.warning("D-Bus connection lost: %s", exc)
            self.close()
            return
        if not data:
            log.info("the D-Bus session bus closed the connection")
            self.close()
            return
        connection.parser.add_data(data)
        while self._connection is not None:
            message = connection.parser.get_next_message()
            if message is None:
                break
            if message.header.message_type is MessageType.method_call:
                self._answer(message)

    def _answer(self, call: Message) -> None:
        fields = call.header.fields
        interface = str(fields.get(HeaderFields.interface, ""))
        member = str(fields.get(HeaderFields.member, ""))
        reply: Message
        if fields.get(HeaderFields.path) != self.path:
            reply = new_error(
                call,
                "org.freedesktop.DBus.Error.UnknownObject",
                "s",
                (f"no object at {fields.get(HeaderFields.path)}",),
            )
        else:
            try:
                signature, body = self._handler(interface, member, tuple(call.body))
                reply = new_method_return(call, signature or None, body)
            except DBusError as exc:
                reply = new_error(call, exc.name, "s", (str(exc),))
            except (TypeError, ValueError, IndexError) as exc:  # arguments of the wrong shape
                reply = new_error(call, "org.freedesktop.DBus.Error.InvalidArgs", "s", (str(exc),))
        if not call.header.flags & MessageFlag.no_reply_expected:
            self._send(reply)
