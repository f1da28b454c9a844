"""The web server's limits against a running hub process (hub/web/limits.py).

- Held connections: a hub with its open-file limit lowered to 128 (a Pi stands behind it) and
  every real peer configured (`tests.peers.household`). Clients on 127.0.0.1 and other loopback
  addresses hold as many idle and slow connections as the hub lets them (half of them send a
  request head a byte a second; with TLS, half never finish the handshake), re-opening each one
  the hub cuts. A water alarm raised meanwhile by the dashboard of 127.0.0.2 (logged in before,
  on its kept-alive connection) reaches the SMS double, the SMTP server, the push service and
  the DC-09 receiver about as fast as an alarm without the attack, and the dashboard answers.
- The limits one by one, with short timeouts: the 33rd connection of one address is reset at
  once (another address still gets in), a request head sent byte by byte is cut when its time is
  up, an idle kept-alive connection is not, a slow body is cut, the 11th WebSocket of one user
  gets 429 `too_many_websockets`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.config import ConfigError, load_config
from hub.web.limits import ConnectionGate, Ticket, WebLimits
from tests.conftest import Api
from tests.peers.household import Household, household, subscribe_app
from tests.peers.sia import require_pysiaalarm
from tests.peers.tls import trusted
from tests.reliability.hub_process import HubProcess

DASHBOARD = "127.0.0.2"
ATTACKERS = ("127.0.0.1", "127.0.0.3", "127.0.0.4")
PER_ADDRESS = 32
STEP0 = ("centre", "email", "push", "sms")


# --------------------------------------------------------------------------- helpers


def hub_cap(hub: HubProcess) -> int:
    """The connection cap the hub computed at start (its log says it)."""
    found = re.findall(r"web: at most (\d+) connections", hub.tail(200_000))
    assert found, hub.tail()
    return int(found[-1])


@contextlib.asynccontextmanager
async def dashboard(base: str) -> AsyncIterator[Api]:
    """A logged-in dashboard on 127.0.0.2 that keeps one connection open (keep-alive)."""
    # One connection, kept alive longer than aiohttp's default 15 s (the hub allows 60 s idle).
    connector = aiohttp.TCPConnector(local_addr=(DASHBOARD, 0), limit=1, ssl=False, keepalive_timeout=50)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector, timeout=timeout
    ) as session:
        api = Api(base, session)
        await api.login()
        yield api


class Attacker:
    """Holds connections to the hub from `addresses`, `tries` each, re-opening what the hub closes.

    Every other connection is slow: a request head (or, with TLS, a ClientHello) sent a byte a
    second that never ends; the others stay silent. `held` counts, per address, the connections
    open right now that survived their first 0.3 s (a refused one is reset at once)."""

    def __init__(self, port: int, addresses: tuple[str, ...], tries: int, *, tls: bool) -> None:
        self.port = port
        self.addresses = addresses
        self.tries = tries
        self.tls = tls
        self.held: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.opened = 0
        self.refused = 0
        self.cut = 0  # held, then closed by the hub
        self.lifetimes: list[float] = []
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return (
            f"held {dict(self.held)}, peak {dict(self.peak)}, opened {self.opened}, refused {self.refused},"
            f" cut {self.cut}"
        )

    @property
    def total(self) -> int:
        return sum(self.held.values())

    def start(self) -> None:
        for address in self.addresses:
            for n in range(self.tries):
                self._tasks.append(asyncio.create_task(self._hold(address, slow=n % 2 == 1)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        _, pending = await asyncio.wait(self._tasks, timeout=15)
        assert not pending, f"{len(pending)} attacker connections did not stop"

    async def _hold(self, address: str, *, slow: bool) -> None:
        head = (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" if self.tls else b"GET / HTTP/1.1\r\nHost: hub\r\nX-Slow: "
        )
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(address, 0))
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.opened += 1
            started = time.monotonic()
            counted = False
            sent = 0
            try:
                while True:
                    if slow:
                        writer.write(head[sent : sent + 1] if sent < len(head) else b"a")
                        sent += 1
                    try:
                        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
                        # cancel of stop() when a byte arrives at that moment, and stop() hangs.
                        async with asyncio.timeout(0.3 if not counted else 1.0):
                            data = await reader.read(1)
                    except TimeoutError:
                        data = None
                    if data == b"":
                        break
                    if not counted:
                        counted = True
                        self.held[address] += 1
                        self.peak[address] = max(self.peak[address], self.held[address])
            except OSError:
                pass
            finally:
                if counted:
                    self.held[address] -= 1
                    self.cut += 1
                    self.lifetimes.append(time.monotonic() - started)
                else:
                    self.refused += 1
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await asyncio.sleep(0.05 if counted else 0.2)


async def eventually(check: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def incident_of(api: Api, kind: str) -> dict[str, Any] | None:
    for item in (await api.get("/api/v1/incidents"))["items"]:
        if item["kind"] == kind:
            return dict(item)
    return None


def received(peers: Household) -> dict[str, int]:
    return {
        "sms": len(peers.twilio.sms()),
        "email": len(peers.emails()),
        "push": len(peers.pushes()),
        "centre": len(peers.centre.reports()),
    }


async def delivered(api: Api, kind: str, zone: str) -> float:
    """Trigger `zone`, return the seconds until every message due now for its incident is sent."""
    started = time.monotonic()
    await api.trigger(zone)
    incident = await eventually(lambda: incident_of(api, kind), f"the {kind} incident", 10)

    async def all_sent() -> bool:
        rows = (await api.get(f"/api/v1/notifications?incident={incident['id']}"))["items"]
        now = [r for r in rows if r["step"] == 0]
        return sorted(r["channel"] for r in now) == list(STEP0) and all(r["state"] == "sent" for r in now)

    await eventually(all_sent, f"every {kind} message sent", 60)
    return time.monotonic() - started


# --------------------------------------------------------------------------- held connections


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


@pytest.fixture
def trust(peers: Household) -> Iterator[dict[str, str]]:
    with trusted(peers.cert) as env:
        yield env


@pytest.mark.parametrize("tls", ["off", "auto"])
async def test_held_connections_do_not_delay_an_alarm(
    tmp_path: Path, peers: Household, trust: dict[str, str], tls: str
) -> None:
    config = peers.write_config(tmp_path / "casahub.toml")
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[web]\ntls = "{tls}"\n')
    scheme = "https" if tls == "auto" else "http"
    hub = HubProcess(tmp_path / "data", config, trust, tmp_path / "hub.log", scheme=scheme, nofile=128)
    await hub.start()
    attacker = Attacker(hub.port, ATTACKERS, PER_ADDRESS + 8, tls=tls == "auto")
    try:
        cap = hub_cap(hub)
        assert cap >= 8, f"the hub left only {cap} connections to the web server under 128 open files"
        async with dashboard(hub.base) as api:
            await subscribe_app(api, peers.push)
            # The same alarm path without an attack: the time to compare with.
            calm = await delivered(api, "fire", await api.zone_id("smoke"))
            water = await api.zone_id("water")

            attacker.start()
            # Everything the hub allows is held: the cap, less the dashboard's own connection (and
            # the few that are between a cut and their re-opening).
            try:
                await eventually(lambda: attacker.total >= cap - 4, f"{cap - 4} held connections", 30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {attacker}") from None
            await asyncio.sleep(3)  # the slow ones well into their request heads
            assert attacker.peak["127.0.0.1"] <= PER_ADDRESS, attacker.peak
            assert attacker.total <= cap - 1, (attacker.total, cap)

            before = received(peers)
            attacked = await delivered(api, "water", water)
            after = received(peers)
            held_meanwhile = attacker.total
            # The dashboard on its kept-alive connection still answers, at once.
            started = time.monotonic()
            system = await api.get("/api/v1/system")
            answered = time.monotonic() - started
    finally:
        await attacker.stop()
        hub.kill_9(expect_running=False)
    log = hub.tail(200_000)
    print(
        f"\n[{tls}] cap={cap} held={held_meanwhile} peak={dict(attacker.peak)} opened={attacker.opened}"
        f" refused={attacker.refused} cut={attacker.cut} alarm: calm {calm:.2f}s, attacked {attacked:.2f}s;"
        f" dashboard {answered * 1000:.0f} ms"
    )
    assert held_meanwhile >= cap - 6, "the attack let go of its connections before the alarm went out"
    assert attacked <= calm + 5, f"the alarm took {attacked:.1f} s under attack, {calm:.1f} s without"
    assert system["mode"], system
    assert answered < 2, answered
    # Each real peer got the water alarm: one more SMS, e-mail, push and centre report at least.
    assert all(after[peer] > before[peer] for peer in before), (before, after)
    assert "Too many open files" not in log, log[-3000:]
    # Held connections do not last: the request head has 10 s from accept.
    assert attacker.lifetimes and max(attacker.lifetimes) < 10 + 3, max(attacker.lifetimes)


# --------------------------------------------------------------------------- one by one

SHORT = "[web]\nheader_timeout = 2\nbody_timeout = 2\nidle_timeout = 60\n"


@pytest.fixture
async def short_hub(tmp_path: Path) -> AsyncIterator[HubProcess]:
    config = tmp_path / "casahub.toml"
    config.write_text(SHORT, encoding="utf-8")
    hub = HubProcess(tmp_path / "data", config, dict(os.environ), tmp_path / "hub.log")
    await hub.start()
    try:
        yield hub
    finally:
        hub.kill_9(expect_running=False)


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    return sock


def _is_open(sock: socket.socket) -> bool:
    """Not closed nor reset by the hub, now (no waiting)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the hub closes `sock` (reset or FIN), or None if still open after `seconds`."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
    except TimeoutError:
        return None
    except ConnectionResetError:
        return time.monotonic() - started


async def test_the_33rd_connection_of_one_address_is_refused_at_once(short_hub: HubProcess) -> None:
    await asyncio.sleep(1)  # the start-up health check's connection gone
    held = [_connect(short_hub.port) for _ in range(PER_ADDRESS)]
    try:
        await asyncio.sleep(0.3)
        refused = [i for i, s in enumerate(held) if not _is_open(s)]
        assert not refused, f"refused among the first {PER_ADDRESS}: {refused}"
        extra = _connect(short_hub.port)
        closed = _closed_within(extra, 1.0)
        assert closed is not None and closed < 0.5, closed
        extra.close()
        # Another address still gets in while 127.0.0.1 is full.
        connector = aiohttp.TCPConnector(local_addr=(DASHBOARD, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(short_hub.base + "/api/v1/health") as resp:
                assert resp.status == 200
    finally:
        for sock in held:
            sock.close()
    # Once they are gone, 127.0.0.1 is welcome again.
    await asyncio.sleep(0.3)
    async with aiohttp.ClientSession() as session:
        async with session.get(short_hub.base + "/api/v1/health") as resp:
            assert resp.status == 200


async def test_a_slow_request_head_is_cut_when_its_time_is_up(short_hub: HubProcess) -> None:
    silent = _connect(short_hub.port)
    slow = _connect(short_hub.port)
    started = time.monotonic()
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n" + b"X-Slow: " + b"a" * 100
    cut_at: float | None = None
    try:
        slow.settimeout(0.1)
        for byte in head:
            try:
                slow.sendall(bytes([byte]))
                if slow.recv(1) == b"":
                    cut_at = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                cut_at = time.monotonic() - started
                break
            await asyncio.sleep(0.1)
        silent_closed = _closed_within(silent, 3)
    finally:
        slow.close()
        silent.close()
    assert cut_at is not None and 1.8 <= cut_at <= 3.0, cut_at
    assert silent_closed is not None and time.monotonic() - started <= 3.0


async def test_an_idle_kept_alive_connection_outlives_the_head_timeout(short_hub: HubProcess) -> None:
    request = b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n\r\n"
    sock = _connect(short_hub.port)
    try:
        sock.sendall(request)
        first = sock.recv(65536)
        await asyncio.sleep(3.5)  # longer than header_timeout, shorter than idle_timeout
        assert _is_open(sock), "an idle kept-alive connection was cut after the request-head timeout"
        sock.sendall(request)
        second = sock.recv(65536)
    finally:
        sock.close()
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200"), (first, second)


async def test_a_slow_body_is_cut(short_hub: HubProcess) -> None:
    sock = _connect(short_hub.port)
    started = time.monotonic()
    try:
        sock.sendall(
            b"POST /api/v1/session HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n{"
        )
        answer = b""
        sock.settimeout(4)
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(4096):
                answer += chunk
        elapsed = time.monotonic() - started
    finally:
        sock.close()
    assert 1.8 <= elapsed <= 3.5, (elapsed, answer)
    assert b" 200 " not in answer, answer


async def test_the_11th_websocket_of_one_user_is_refused_with_429(short_hub: HubProcess) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(short_hub.base, session)
        await api.login()
        url = short_hub.base + "/api/v1/ws"
        sockets = [await session.ws_connect(url) for _ in range(10)]
        try:
            for ws in sockets:
                assert (await ws.receive_json(timeout=5))["type"] == "system"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url)
            assert refused.value.status == 429
            async with session.get(url, headers={"Upgrade": "websocket", "Connection": "Upgrade"}) as resp:
                assert resp.status == 429
                assert (await resp.json())["error"] == "too_many_websockets"
            # One closed, one more welcome.
            await sockets.pop().close()
            await asyncio.sleep(0.2)
            again = await session.ws_connect(url)
            sockets.append(again)
            assert (await again.receive_json(timeout=5))["type"] == "system"
        finally:
            for ws in sockets:
                await ws.close()


# --------------------------------------------------------------------------- the gate and the keys


def test_the_gate_counts_per_address_and_in_all_and_keeps_the_fd_reserve() -> None:
    limits = WebLimits(max_connections=40, max_connections_per_address=3, fd_reserve=64)
    in_use = [20]
    # 128 open files, 20 in use at start: 44 left beyond the reserve; max_connections (40) is lower.
    gate = ConnectionGate(limits, fd_limit=128, fds_in_use=20, count_fds=lambda: in_use[0])
    assert gate.max_total == 40
    tickets = [gate.admit("10.0.0.1") for _ in range(3)]
    assert all(isinstance(t, Ticket) for t in tickets)
    assert gate.admit("10.0.0.1") == "address"
    assert isinstance(gate.admit("10.0.0.2"), Ticket)
    first = tickets[0]
    assert isinstance(first, Ticket)
    first.release()
    first.release()  # once only
    assert gate.total == 3 and gate.per_address["10.0.0.1"] == 2
    assert isinstance(gate.admit("10.0.0.1"), Ticket)
    # The hub opened files since (drivers, deliveries): fewer than the reserve left -> refused.
    in_use[0] = 128 - 63
    assert gate.admit("10.0.0.3") == "descriptors"
    # A small machine: the cap is what the limit leaves after the reserve.
    small = ConnectionGate(WebLimits(), fd_limit=128, fds_in_use=30, count_fds=lambda: None)
    assert small.max_total == 128 - 64 - 30


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("header_timeout = 0.5", "web.header_timeout: must be between 1 and 300 seconds"),
        ("body_timeout = -1", "web.body_timeout: a duration cannot be negative"),
        ("max_connections = 4", "web.max_connections: must be at least 8"),
        ("max_connections_per_address = 0", "web.max_connections_per_address: must be at least 1"),
        ("max_connections = 16\nmax_connections_per_address = 32", "cannot be more than max_connections"),
        ("max_websockets_per_user = 1000", "web.max_websockets_per_user: must be at most 100"),
        ("fd_reserve = 8", "web.fd_reserve: must be at least 16"),
        ("idle_timeout = true", "web.idle_timeout: expected a number of seconds"),
    ],
)
def test_web_limit_keys_are_checked(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text(f"[web]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value), str(error.value)


def test_web_limit_keys_reach_the_limits(tmp_path: Path) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text("[web]\nheader_timeout = 3\nmax_connections = 100\nfd_reserve = 200\n", encoding="utf-8")
    limits = WebLimits.of(load_config(path).config.web)
    assert (limits.header_timeout, limits.max_connections, limits.fd_reserve) == (3.0, 100, 200)
    assert limits.body_timeout == 30 and limits.max_connections_per_address == 32
