"""Refuse and record every network connection.

Used as a fixture (``no_network`` in conftest.py) and, in pytester subprocesses, as a plugin
loaded with ``-p netguard`` before any other: with ``NETGUARD_LOG`` set it writes one line per
attempt to that file, so the test can read what the run tried.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any


class NetworkGuard:
    """Records every connection attempt (and appends it to ``log`` if given), then refuses it."""

    def __init__(self, log: str | None = None) -> None:
        self.attempts: list[str] = []
        self.log = log

    def refuse(self, what: str, address: Any) -> None:
        attempt = f"{what} {address!r}"
        self.attempts.append(attempt)
        if self.log:
            with open(self.log, "a", encoding="utf-8") as f:
                f.write(attempt + "\n")
        raise OSError(f"network access refused in tests: {attempt}")


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _local(sock: socket.socket, address: Any) -> bool:
    """Unix sockets and the loopback interface (xdist's helpers use them) are not the network."""
    if sock.family == getattr(socket, "AF_UNIX", None):
        return True
    return isinstance(address, tuple) and bool(address) and address[0] in LOOPBACK


def install(guard: NetworkGuard, setattr: Callable[[Any, str, Any], None]) -> None:
    """Patch socket connect, connect_ex, create_connection and getaddrinfo with ``setattr``."""

    def connect(self: socket.socket, address: Any) -> None:
        if _local(self, address):
            return original_connect(self, address)
        guard.refuse("connect", address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if _local(self, address):
            return original_connect_ex(self, address)
        guard.refuse("connect_ex", address)
        return 1

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        guard.refuse("create_connection", address)
        raise AssertionError("unreachable")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> list[Any]:
        guard.refuse("getaddrinfo", host)
        return []

    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    setattr(socket.socket, "connect", connect)
    setattr(socket.socket, "connect_ex", connect_ex)
    setattr(socket, "create_connection", create_connection)
    setattr(socket, "getaddrinfo", getaddrinfo)


if os.environ.get("NETGUARD_LOG"):
    install(NetworkGuard(os.environ["NETGUARD_LOG"]), setattr)
