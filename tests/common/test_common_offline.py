"""Tests for readingroom.common.offline.

pytest-socket blocks socket creation in this test run; the tests that open internet sockets are
marked ``enable_socket`` so that they exercise our guard instead. No traffic leaves the machine:
the guard raises before ``connect`` runs, and 192.0.2.1 is a documentation-only address anyway.
"""

import socket

import pytest

from readingroom.common import NetworkBlockedError, allow_network, block_network, network_blocked
from readingroom.common.offline import _SOCKET, _is_allowed, _socket_class


@pytest.fixture(autouse=True)
def _restore_network_state():
    """Start each test unblocked and leave the block as it was found (e.g. set by a conftest)."""
    was_blocked = network_blocked()
    allow_network()
    try:
        yield
    finally:
        allow_network()
        if was_blocked:
            block_network()


def _listener(family=socket.AF_INET, host="127.0.0.1"):
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((host, 0))
    server.listen(1)
    return server


@pytest.mark.enable_socket
def test_connect_to_internet_address_is_blocked():
    block_network()
    assert network_blocked()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)  # were the guard broken, fail fast instead of hanging
        with pytest.raises(
            NetworkBlockedError, match=r"\('192.0.2.1', 80\) is blocked: .* runs offline"
        ):
            sock.connect(("192.0.2.1", 80))
        with pytest.raises(NetworkBlockedError, match="192.0.2.1"):
            sock.connect_ex(("192.0.2.1", 80))
    assert issubclass(NetworkBlockedError, OSError)


@pytest.mark.enable_socket
def test_host_names_are_blocked_without_resolving_them():
    block_network()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        with pytest.raises(NetworkBlockedError, match="example.com"):
            sock.connect(("example.com", 443))


@pytest.mark.enable_socket
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_still_works(host):
    block_network()
    with _listener() as server:
        port = server.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.connect((host, port))
            conn, _ = server.accept()
            client.sendall(b"ping")
            assert conn.recv(4) == b"ping"
            conn.close()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            assert client.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.enable_socket
def test_ipv6_loopback_still_works():
    try:
        server = _listener(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    block_network()
    with server, socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as client:
        client.connect(("::1", server.getsockname()[1]))


def test_unix_sockets_still_work_under_pytest_socket(tmp_path):
    block_network()
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)


@pytest.mark.enable_socket
def test_block_is_idempotent_and_allow_restores_the_originals():
    before = (_SOCKET.connect, _SOCKET.connect_ex)
    assert not network_blocked()
    block_network()
    block_network()
    assert network_blocked()
    allow_network()
    assert not network_blocked()
    assert (_SOCKET.connect, _SOCKET.connect_ex) == before
    allow_network()  # harmless when not blocked
    assert (_SOCKET.connect, _SOCKET.connect_ex) == before


class _FakeSocket:
    def __init__(self, family):
        self.family = family


@pytest.mark.parametrize(
    "family, address, allowed",
    [
        (socket.AF_INET, ("127.0.0.1", 80), True),
        (socket.AF_INET, ("127.8.9.10", 80), True),
        (socket.AF_INET, ("localhost", 80), True),
        (socket.AF_INET, ("LOCALHOST.", 80), True),
        (socket.AF_INET, (b"127.0.0.1", 80), True),
        (socket.AF_INET6, ("::1", 80, 0, 0), True),
        (socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0), True),
        (socket.AF_UNIX, "/tmp/kernel.sock", True),
        (socket.AF_INET, ("10.0.0.1", 80), False),
        (socket.AF_INET, ("0.0.0.0", 80), False),
        (socket.AF_INET, ("huggingface.co", 443), False),
        (socket.AF_INET6, ("2001:db8::1", 80, 0, 0), False),
        (socket.AF_INET6, ("fe80::1%eth0", 80, 0, 0), False),
        (socket.AF_INET, (None, 80), False),
        (socket.AF_INET, (), False),
    ],
)
def test_which_addresses_are_allowed(family, address, allowed):
    assert _is_allowed(_FakeSocket(family), address) is allowed


def test_the_standard_socket_class_is_patched_even_under_pytest_socket():
    # In this (unmarked) test pytest-socket may have replaced socket.socket by a subclass.
    assert _socket_class() is _SOCKET
    assert _SOCKET.__module__ == "socket" and issubclass(socket.socket, _SOCKET)
