"""The systemd notify protocol over a real AF_UNIX datagram socket, and the watchdog pinger."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from appliance.service import sdnotify


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET, as systemd binds it."""

    def __init__(self, address: str | bytes, env_value: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.environ = {"NOTIFY_SOCKET": env_value}

    def receive(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.receive(timeout=seconds)
        except TimeoutError:
            return True
        return False

    def drain(self) -> None:
        """Discard what was already sent."""
        while not self.nothing_within(0.01):
            pass


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    path = tmp_path / "notify"
    assert len(str(path)) < 100, "AF_UNIX paths are limited to 108 bytes"
    fake = FakeSystemd(str(path), str(path))
    yield fake
    fake.sock.close()


@pytest.fixture
def abstract_systemd() -> Iterator[FakeSystemd]:
    name = f"kiosk-test-{uuid.uuid4().hex}"
    fake = FakeSystemd(b"\0" + name.encode(), "@" + name)
    yield fake
    fake.sock.close()


def test_notify_without_notify_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.notify("READY=1", environ={}) is False


def test_notify_sends_one_datagram_to_a_path_socket(systemd: FakeSystemd) -> None:
    assert sdnotify.notify("READY=1", "STATUS=serving on port 8080", environ=systemd.environ) is True
    assert systemd.receive() == "READY=1\nSTATUS=serving on port 8080"


def test_notify_reads_the_process_environment(systemd: FakeSystemd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.environ["NOTIFY_SOCKET"])
    assert sdnotify.notify("STOPPING=1") is True
    assert systemd.receive() == "STOPPING=1"


def test_notify_reaches_an_abstract_namespace_socket(abstract_systemd: FakeSystemd) -> None:
    assert sdnotify.notify("WATCHDOG=1", environ=abstract_systemd.environ) is True
    assert abstract_systemd.receive() == "WATCHDOG=1"


def test_notify_to_a_missing_socket_logs_and_returns_false(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    environ = {"NOTIFY_SOCKET": str(tmp_path / "gone")}
    with caplog.at_level(logging.WARNING, logger="appliance.service.sdnotify"):
        assert sdnotify.notify("READY=1", environ=environ) is False
    assert "cannot notify systemd" in caplog.text


def test_notify_ignores_an_unsupported_address(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="appliance.service.sdnotify"):
        assert sdnotify.notify("READY=1", environ={"NOTIFY_SOCKET": "vsock:2:1234"}) is False
    assert "unsupported" in caplog.text


@pytest.mark.parametrize("bad", [(), ("READY",), ("STATUS=two\nlines",)])
def test_notify_refuses_malformed_assignments(bad: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        sdnotify.notify(*bad, environ={})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "500000"}, 0.25),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "thirty"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(environ: dict[str, str], expected: float | None) -> None:
    assert sdnotify.watchdog_interval(environ) == expected


def test_watchdog_interval_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 10.0


def test_pinger_sends_watchdog_pings_from_a_named_thread_and_stops(systemd: FakeSystemd) -> None:
    environ = {**systemd.environ, "WATCHDOG_USEC": "60000"}  # a ping every 30 ms
    pinger = sdnotify.WatchdogPinger(lambda: True, environ=environ)
    assert pinger.interval == 0.03

    pinger.start()
    try:
        assert [systemd.receive() for _ in range(3)] == ["WATCHDOG=1"] * 3
        assert sdnotify.WatchdogPinger.THREAD_NAME in [t.name for t in threading.enumerate()]
    finally:
        pinger.stop()

    assert not pinger.running
    systemd.drain()
    assert systemd.nothing_within(0.15)
    assert pinger.pings >= 3


def test_pinger_withholds_pings_while_unhealthy(systemd: FakeSystemd, caplog: pytest.LogCaptureFixture) -> None:
    healthy = threading.Event()
    pinger = sdnotify.WatchdogPinger(healthy.is_set, interval=0.02, environ=systemd.environ)

    with caplog.at_level(logging.INFO, logger="appliance.service.sdnotify"):
        pinger.start()
        try:
            assert systemd.nothing_within(0.15)
            healthy.set()
            assert systemd.receive() == "WATCHDOG=1"
        finally:
            pinger.stop()
    assert "withholding pings" in caplog.text
    assert "pings resumed" in caplog.text


def test_pinger_treats_a_raising_health_check_as_unhealthy(
    systemd: FakeSystemd, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> bool:
        raise RuntimeError("store handle lost")

    pinger = sdnotify.WatchdogPinger(broken, interval=0.02, environ=systemd.environ)
    with caplog.at_level(logging.ERROR, logger="appliance.service.sdnotify"):
        pinger.start()
        try:
            assert systemd.nothing_within(0.1)
        finally:
            pinger.stop()
    assert "store handle lost" in caplog.text
    assert pinger.pings == 0


def test_pinger_without_a_watchdog_starts_no_thread() -> None:
    pinger = sdnotify.WatchdogPinger(lambda: True, environ={})
    pinger.start()
    assert pinger.interval is None
    assert not pinger.running
    pinger.stop()


def test_pinger_stop_returns_promptly_with_a_long_interval(systemd: FakeSystemd) -> None:
    pinger = sdnotify.WatchdogPinger(lambda: True, interval=3600, environ=systemd.environ)
    pinger.start()
    assert systemd.receive() == "WATCHDOG=1"  # the first ping goes out at once

    started = time.monotonic()
    pinger.stop()
    assert time.monotonic() - started < 1
    assert not pinger.running
