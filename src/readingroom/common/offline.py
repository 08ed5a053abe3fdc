"""Make accidental network use fail loudly: the book runs offline.

:func:`block_network` patches :meth:`socket.socket.connect` and :meth:`socket.socket.connect_ex`
so that a connection to anything but a Unix socket or the loopback interface (``127.0.0.0/8``,
``::1``, ``localhost``) raises :class:`NetworkBlockedError` at once, before any packet is sent.
Loopback stays open because Jupyter kernels and some test tools talk to themselves over it.
A chapter that tries to download weights or data therefore fails with a message that says why,
instead of hanging or silently depending on the internet.

The patch covers everything built on Python sockets (``urllib``, ``requests``, ``huggingface_hub``
...). It does not stop DNS look-ups made inside the C library, nor native code opening its own
sockets.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

__all__ = ["NetworkBlockedError", "block_network", "allow_network", "network_blocked"]


class NetworkBlockedError(OSError):
    """Raised by a blocked :meth:`socket.socket.connect` to a non-loopback address."""


def _socket_class() -> type[socket.socket]:
    """The standard library's ``socket.socket`` class.

    Test tools (e.g. pytest-socket) may replace ``socket.socket`` by a subclass; patching that
    subclass would miss sockets created elsewhere, so walk back to the original class.
    """
    for cls in socket.socket.__mro__:
        if cls.__module__ == "socket" and cls.__name__ == "socket":
            return cls
    return socket.socket  # pragma: no cover - the standard class is always in the MRO


_SOCKET = _socket_class()
# The patched methods' previous values: (name, had its own entry in the class dict, value).
_saved: list[tuple[str, bool, Any]] = []


def _is_allowed(sock: socket.socket, address: Any) -> bool:
    """True for Unix sockets and loopback addresses; everything else is blocked."""
    if hasattr(socket, "AF_UNIX") and sock.family == socket.AF_UNIX:
        return True
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 scope id ("fe80::1%eth0")
    except ValueError:
        return False  # a host name: resolving it could itself go to the network
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1
    return ip.is_loopback


def _blocked_message(address: Any) -> str:
    return (
        f"network access to {address!r} is blocked: the Reading Room book runs offline "
        "(no downloads at run time; train tiny models in place or ship data with a package). "
        "Call readingroom.common.allow_network() to lift the block."
    )


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_allowed(self, address):
        raise NetworkBlockedError(_blocked_message(address))
    return _original("connect")(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_allowed(self, address):
        raise NetworkBlockedError(_blocked_message(address))
    return _original("connect_ex")(self, address)


def _original(name: str) -> Any:
    for saved_name, _, value in _saved:
        if saved_name == name:
            return value
    return getattr(super(_SOCKET, _SOCKET), name)  # pragma: no cover - only if state was lost


def network_blocked() -> bool:
    """Whether :func:`block_network` is in force (checked on the socket class itself)."""
    return (
        _SOCKET.__dict__.get("connect") is _guarded_connect
        and _SOCKET.__dict__.get("connect_ex") is _guarded_connect_ex
    )


def block_network() -> None:
    """Make connections to non-loopback addresses raise :class:`NetworkBlockedError`.

    Idempotent: calling it again while the block is in force changes nothing.
    """
    if network_blocked():
        return
    allow_network()  # clear a half-applied state (e.g. one method restored by another tool)
    _saved.clear()
    for name, guard in (("connect", _guarded_connect), ("connect_ex", _guarded_connect_ex)):
        _saved.append((name, name in _SOCKET.__dict__, getattr(_SOCKET, name)))
        setattr(_SOCKET, name, guard)


def allow_network() -> None:
    """Undo :func:`block_network`, restoring the original ``connect`` and ``connect_ex``.

    Harmless when the network is not blocked.
    """
    for name, had_own, value in _saved:
        if _SOCKET.__dict__.get(name) not in (_guarded_connect, _guarded_connect_ex):
            continue  # someone else replaced it since; leave theirs in place
        if had_own:
            setattr(_SOCKET, name, value)
        else:
            delattr(_SOCKET, name)
    _saved.clear()
