"""The web server's front door: who may hold a connection, for how long, and never the alarm's room.

Theory of operation. A LAN client, logged in or not, must never be able to delay an alarm. The
alarm path (SMTP, Twilio, DC-09, Web Push, ntfy, webhook) needs file descriptors to dial out;
so does the database. The web server is the only part of the hub that strangers can make grow,
so it is the part that is bounded:

- **File descriptors.** `raise_fd_limit()` lifts the soft RLIMIT_NOFILE to the hard one when the
  daemon starts (systemd's unit sets `LimitNOFILE=8192`). A reserve of `[web] fd_reserve`
  descriptors (default 64) belongs to everything that is not the web server: the web server's
  connection cap is `min(max_connections, soft limit - reserve - descriptors open at start)`,
  and each accept also checks the descriptors open right now, so whatever the hub opened since
  (drivers, outbound deliveries) is never squeezed by web clients.
- **Connections.** We accept ourselves (`Listener`, on sockets bound by `bind()`): the address of
  a connection is known before TLS or HTTP start, so a connection over the total cap
  (`max_connections`, 256) or over the per-address cap (`max_connections_per_address`, 32) is
  reset at once (SO_LINGER 0: no TIME_WAIT, no waiting in a queue). A TLS handshake that is
  still handshaking counts; it holds a descriptor too.
- **Time.** A connection has `header_timeout` (10 s) from accept, TLS handshake included, to
  deliver a complete request head; after a response it may idle `idle_timeout` (60 s, aiohttp's
  keep-alive), and the first byte of its next request starts another `header_timeout`. A request
  body must have arrived `body_timeout` (30 s) after its head. Late connections are aborted, not
  answered: a slowloris gets nothing to wait for. Requests that are being served (a WebSocket, a
  camera stream) are not timed here: their handlers and heartbeats own them.
- **WebSockets.** At most `max_websockets_per_user` (10) live streams per principal (a user's
  sessions together, or one token); the next upgrade answers 429 `too_many_websockets` before
  it is upgraded, so the client sees an HTTP status, not a closed socket.

This module never reads requests' content and never touches the alarm state; a refusal is
logged at most once a minute, summed up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import resource
import socket
import ssl
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from hub.config import WebConfig
from hub.web.auth import PRINCIPAL, Handler
from hub.web.errors import ApiError

log = logging.getLogger(__name__)

ACCEPTS_PER_WAKEUP = 64
ACCEPT_RETRY_DELAY = 1.0  # out of descriptors: asyncio waits as long before accepting again
REFUSAL_LOG_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class WebLimits:
    """`[web]` limits (config/casahub.toml documents each)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_connections: int = 256
    max_connections_per_address: int = 32
    max_websockets_per_user: int = 10
    fd_reserve: int = 64

    @classmethod
    def of(cls, web_config: WebConfig) -> WebLimits:
        return cls(**{f.name: getattr(web_config, f.name) for f in dataclasses.fields(cls)})


class ListenError(Exception):
    """The listen address cannot be used; the message is one line naming it and what to do."""


# --------------------------------------------------------------------------- descriptors


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 65536) if soft != resource.RLIM_INFINITY else 65536
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft if soft != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
        return soft
    return hard


def fd_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 65536


def open_fds() -> int | None:
    """Descriptors this process has open (Linux /proc), or None where that cannot be known."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor
    except OSError:
        return None


# --------------------------------------------------------------------------- admission


class Ticket:
    """One admitted connection's place in the counts; released exactly once."""

    __slots__ = ("_gate", "address", "released")

    def __init__(self, gate: ConnectionGate, address: str) -> None:
        self._gate = gate
        self.address = address
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._gate._release(self.address)


class ConnectionGate:
    """Counts connections per client address and in total, against the caps and the fd reserve."""

    def __init__(
        self,
        limits: WebLimits,
        *,
        fd_limit: int,
        fds_in_use: int | None,
        count_fds: Callable[[], int | None] = open_fds,
    ) -> None:
        self.limits = limits
        self.fd_limit = fd_limit
        self.count_fds = count_fds
        room = fd_limit - limits.fd_reserve - (fds_in_use or 0)
        self.max_total = max(1, min(limits.max_connections, room))
        self.total = 0
        self.per_address: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._refusals_logged_at = 0.0

    def admit(self, address: str) -> Ticket | str:
        """A ticket, or why not: "total", "address" or "descriptors"."""
        if self.total >= self.max_total:
            return self._refuse("total")
        if self.per_address[address] >= self.limits.max_connections_per_address:
            return self._refuse("address", address)
        in_use = self.count_fds()
        if in_use is not None and self.fd_limit - in_use < self.limits.fd_reserve:
            return self._refuse("descriptors")
        self.total += 1
        self.per_address[address] += 1
        return Ticket(self, address)

    def _release(self, address: str) -> None:
        self.total -= 1
        self.per_address[address] -= 1
        if self.per_address[address] <= 0:
            del self.per_address[address]

    def _refuse(self, why: str, address: str = "") -> str:
        self.refused[why] += 1
        now = time.monotonic()
        if now - self._refusals_logged_at >= REFUSAL_LOG_INTERVAL:
            self._refusals_logged_at = now
            detail = {
                "total": f"all {self.max_total} connections are in use",
                "address": f"{address} holds {self.limits.max_connections_per_address} connections",
                "descriptors": f"only {self.limits.fd_reserve} open files left, kept for alarm deliveries",
            }[why]
            log.warning("web: refusing connections (%s); refused so far: %s", detail, dict(self.refused))
        return why


# --------------------------------------------------------------------------- one connection


class GuardedConnection(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: the header and body clocks, and its ticket.

    aiohttp sees the real transport; `transport.get_protocol()` is this object, which is how the
    `request_clock` middleware finds it.
    """

    def __init__(self, inner: asyncio.Protocol, ticket: Ticket, limits: WebLimits, accepted_at: float) -> None:
        self.inner = inner
        self.ticket = ticket
        self.limits = limits
        self.accepted_at = accepted_at
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a request is being served
        self._timer: asyncio.TimerHandle | None = None
        self.timed_out: str | None = None

    # -- clocks

    def _arm(self, when: float, what: str, still_late: Callable[[], bool] = lambda: True) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(when, self._expire, what, still_late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self, what: str, still_late: Callable[[], bool]) -> None:
        self._timer = None
        if self.transport is None or not still_late():
            return
        self.timed_out = what
        log.debug("web: %s timed out for %s: connection aborted", what, self.ticket.address)
        self.transport.abort()

    def request_started(self, request: web.BaseRequest) -> None:
        self.busy = True
        self._disarm()
        content = request.content
        if not content.is_eof():
            loop = asyncio.get_running_loop()
            self._arm(loop.time() + self.limits.body_timeout, "request body", lambda: not content.is_eof())

    def request_done(self) -> None:
        self.busy = False
        self._disarm()  # idle from here: aiohttp's keep-alive timeout (idle_timeout) owns it

    # -- asyncio.Protocol, forwarded

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # From accept: a slow TLS handshake leaves less time for the request head.
        self._arm(self.accepted_at + self.limits.header_timeout, "request head")
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy and self._timer is None and self.timed_out is None:
            # The first byte of the next request on a kept-alive connection.
            self._arm(asyncio.get_running_loop().time() + self.limits.header_timeout, "request head")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.transport = None
        self.ticket.release()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _connection_of(request: web.BaseRequest) -> GuardedConnection | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedConnection) else None


@web.middleware
async def request_clock(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: the request head is in (stop its clock), the body has its own."""
    connection = _connection_of(request)
    if connection is None:  # a test server, not our listener
        return await handler(request)
    connection.request_started(request)
    try:
        return await handler(request)
    finally:
        connection.request_done()


def websocket_cap(limit: int) -> Middleware:
    """A middleware (inside auth) that refuses the (limit+1)th live WebSocket of one principal with 429."""
    held: Counter[str] = Counter()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if principal is None or request.headers.get("Upgrade", "").lower() != "websocket":
            return await handler(request)
        key = principal.name
        if held[key] >= limit:
            raise ApiError(
                429,
                "too_many_websockets",
                f"at most {limit} live connections per user: close another dashboard tab or app",
            )
        held[key] += 1
        try:
            return await handler(request)
        finally:
            held[key] -= 1
            if held[key] <= 0:
                del held[key]

    return middleware


# --------------------------------------------------------------------------- listening


def _describe(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int, *, backlog: int = 128) -> list[socket.socket]:
    """Listening sockets for HOST:PORT (every address the name has), or ListenError in one line."""
    where = _describe(host, port)
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: unknown address ({exc.strerror})") from None
    sockets: list[socket.socket] = []
    seen: set[Any] = set()
    try:
        for family, kind, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does
            try:
                sock.bind(address)
            except OSError as exc:
                raise ListenError(f"cannot listen on {where}: {_bind_reason(exc)}") from None
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            "the address is already in use (another casahub or another program listens there;"
            " stop it or change --listen / [web] listen)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address (check --listen / [web] listen)"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)"
    return exc.strerror or str(exc)


def _client_address(peer: Any) -> str:
    host = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
    return host.removeprefix("::ffff:")  # IPv4-mapped: one client, one address


class Listener:
    """Accepts on bound sockets, admits through the gate, hands each connection to aiohttp."""

    def __init__(
        self,
        sockets: list[socket.socket],
        protocol_factory: Callable[[], asyncio.Protocol],
        gate: ConnectionGate,
        *,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.sockets = sockets
        self.factory = protocol_factory
        self.gate = gate
        self.tls = tls
        self.limits = gate.limits
        self._handshakes: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        loop = self._loop
        assert loop is not None
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("web: cannot accept (%s): pausing accepts for %.0f s", exc.strerror, ACCEPT_RETRY_DELAY)
                    loop.remove_reader(sock.fileno())
                    loop.call_later(ACCEPT_RETRY_DELAY, self._resume, sock)
                else:
                    log.warning("web: accept failed: %s", exc)
                return
            accepted_at = loop.time()
            admitted = self.gate.admit(_client_address(peer))
            if isinstance(admitted, str):
                _reset(conn)
                continue
            conn.setblocking(False)
            task = loop.create_task(self._open(conn, admitted, accepted_at))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    def _resume(self, sock: socket.socket) -> None:
        if not self._closed and self._loop is not None and sock.fileno() >= 0:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def _open(self, conn: socket.socket, ticket: Ticket, accepted_at: float) -> None:
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            return GuardedConnection(self.factory(), ticket, self.limits, accepted_at)

        try:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is None:
                await loop.connect_accepted_socket(protocol, conn)
            else:
                # A TLS close waits for the client's close_notify no longer than a request head.
                await loop.connect_accepted_socket(
                    protocol,
                    conn,
                    ssl=self.tls,
                    ssl_handshake_timeout=self.limits.header_timeout,
                    ssl_shutdown_timeout=self.limits.header_timeout,
                )
        except asyncio.CancelledError:
            ticket.release()
            conn.close()
            raise
        except Exception as exc:  # a handshake that failed or timed out: the client's problem
            log.debug("web: connection from %s dropped before HTTP: %s", ticket.address, exc)
            ticket.release()
            conn.close()

    async def close(self) -> None:
        self._closed = True
        for sock in self.sockets:
            if self._loop is not None and sock.fileno() >= 0:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        for task in list(self._handshakes):
            task.cancel()
        for task in list(self._handshakes):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _reset(conn: socket.socket) -> None:
    """Close at once with a RST: the client learns now, and nothing lingers in TIME_WAIT."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
