"""hub.sdnotify against a datagram socket the test owns (what systemd's NOTIFY_SOCKET is)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.system.sdnotify import Notifier, run_watchdog, watchdog_interval


class NotifySocket:
    """A bound AF_UNIX datagram socket; a thread records every datagram with its arrival time."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.received: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), data.decode()))

    def messages(self) -> list[str]:
        return [m for _, m in self.received]

    def times_of(self, message: str) -> list[float]:
        return [t for t, m in self.received if m == message]

    def wait_for(self, message: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while message not in self.messages():
            if time.monotonic() > deadline:
                raise AssertionError(f"{message!r} not received; got {self.messages()!r}")
            time.sleep(0.005)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify_path() -> Iterator[tuple[str, NotifySocket]]:
    # A short directory: AF_UNIX paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="sdn", dir="/tmp") as tmp:
        path = str(Path(tmp) / "notify")
        receiver = NotifySocket(path)
        try:
            yield path, receiver
        finally:
            receiver.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    assert notifier.status("x") is False


def test_vsock_and_relative_addresses_are_ignored() -> None:
    assert not Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled
    assert not Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}).enabled


def test_messages_reach_a_path_socket(notify_path: tuple[str, NotifySocket]) -> None:
    path, receiver = notify_path
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready()
    assert notifier.status("armed_away\n2 anomalies")
    assert notifier.watchdog()
    assert notifier.stopping("shutting down")
    receiver.wait_for("STOPPING=1\nSTATUS=shutting down")
    assert receiver.messages() == [
        "READY=1",
        "STATUS=armed_away 2 anomalies",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=shutting down",
    ]
    notifier.close()


def test_messages_reach_an_abstract_socket() -> None:
    name = f"casahub-test-{os.getpid()}-{time.monotonic_ns()}"
    receiver = NotifySocket(b"\0" + name.encode())
    try:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready(status="serving")
        receiver.wait_for("READY=1\nSTATUS=serving")
    finally:
        receiver.close()


def test_an_unreachable_socket_never_raises(tmp_path: Path) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env, pid=4242) == expected


def test_watchdog_interval_checks_our_own_pid() -> None:
    env = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(env) == 1.0


async def test_run_watchdog_returns_when_disabled() -> None:
    await asyncio.wait_for(run_watchdog(Notifier(None), 0.01, lambda: True), 1)
    path_notifier = Notifier("/nonexistent/socket")
    await asyncio.wait_for(run_watchdog(path_notifier, None, lambda: True), 1)  # no watchdog, no status


async def _run_for(seconds: float, coro_task: asyncio.Task[None]) -> None:
    await asyncio.sleep(seconds)
    coro_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await coro_task


async def test_watchdog_pings_at_the_configured_rate(notify_path: tuple[str, NotifySocket]) -> None:
    path, receiver = notify_path
    interval = 0.05
    task = asyncio.create_task(run_watchdog(Notifier(path), interval, lambda: True))
    await _run_for(0.6, task)
    await asyncio.sleep(0.05)
    pings = receiver.times_of("WATCHDOG=1")
    assert len(pings) >= 4, pings
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    # Never faster than configured (the loop may be late, never early).
    assert min(gaps) >= interval * 0.8, gaps


async def test_no_pings_while_unhealthy(notify_path: tuple[str, NotifySocket]) -> None:
    path, receiver = notify_path
    healthy = True
    task = asyncio.create_task(run_watchdog(Notifier(path), 0.02, lambda: healthy))
    await asyncio.sleep(0.15)
    healthy = False
    await asyncio.sleep(0.05)  # a ping already in flight may still land
    sick_from = time.monotonic()
    await asyncio.sleep(0.3)
    sick_until = time.monotonic()
    healthy = True
    await _run_for(0.15, task)
    await asyncio.sleep(0.05)
    pings = receiver.times_of("WATCHDOG=1")
    assert not [t for t in pings if sick_from < t < sick_until], "pinged while unhealthy"
    assert [t for t in pings if t > sick_until], "pings did not resume"


async def test_a_raising_health_check_stops_pings(notify_path: tuple[str, NotifySocket]) -> None:
    path, receiver = notify_path

    def broken() -> bool:
        raise RuntimeError("boom")

    task = asyncio.create_task(run_watchdog(Notifier(path), 0.02, broken))
    await _run_for(0.15, task)
    assert receiver.times_of("WATCHDOG=1") == []


async def test_a_blocked_event_loop_stops_the_pings(notify_path: tuple[str, NotifySocket]) -> None:
    path, receiver = notify_path
    interval = 0.03
    task = asyncio.create_task(run_watchdog(Notifier(path), interval, lambda: True))
    await asyncio.sleep(0.2)
    blocked_from = time.monotonic()
    time.sleep(0.6)  # noqa: ASYNC251 - the point: a synchronous call that hangs the loop
    blocked_until = time.monotonic()
    await _run_for(0.2, task)
    await asyncio.sleep(0.05)
    pings = receiver.times_of("WATCHDOG=1")
    assert [t for t in pings if t < blocked_from], "no pings before the block"
    # A datagram sent just before the block may arrive a moment later; none after that.
    assert not [t for t in pings if blocked_from + 0.1 < t < blocked_until], "pinged while the loop was blocked"
    assert [t for t in pings if t > blocked_until], "pings did not resume"


async def test_status_is_sent_when_it_changes(notify_path: tuple[str, NotifySocket]) -> None:
    path, receiver = notify_path
    text = "disarmed"
    task = asyncio.create_task(run_watchdog(Notifier(path), 0.02, lambda: True, status=lambda: text))
    await asyncio.sleep(0.1)
    text = "armed_away"
    await _run_for(0.1, task)
    await asyncio.sleep(0.05)
    statuses = [m for m in receiver.messages() if m.startswith("STATUS=")]
    assert statuses == ["STATUS=disarmed", "STATUS=armed_away"]
