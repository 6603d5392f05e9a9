"""A port on 127.0.0.1 that refuses connections for as long as the test process runs.

Closing a probe socket and reusing its number races every other process on the machine: a
collector or media server started meanwhile can take the port and answer 404, turning an
"unreachable" case into "not found". A socket that stays bound and never listens keeps the
port ours, and connections to it are refused. Any thread.
"""

from __future__ import annotations

import socket

_held: list[socket.socket] = []


def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _held.append(sock)
    return int(sock.getsockname()[1])
