"""The unit-test suite runs offline: any attempt to open an internet socket fails the test.

pytest-socket (``--disable-socket --allow-unix-socket`` in pyproject.toml) makes every
``socket.socket`` creation outside AF_UNIX raise; chapters run with the network blocked in their
kernel (see tests/test_harness.py). These tests prove the guard is in force, so a unit test that
tries to download something fails instead of hanging or silently using the network.
"""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest
from pytest_socket import SocketBlockedError

# pytest-socket warns each time it blocks something; here blocking is the point.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_opening_an_internet_socket_fails():
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_download_fails_fast():
    with pytest.raises((SocketBlockedError, OSError)):
        urllib.request.urlopen("http://192.0.2.1/model.safetensors", timeout=1)


def test_hub_libraries_are_told_to_stay_offline():
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        assert os.environ.get(var) == "1", var
