"""Mains power from a UPS through NUT (Network UPS Tools): a small asyncio client of upsd's protocol.

Theory of operation. upsd (TCP 3493) answers one line per command, or a
`BEGIN LIST ...` / `END LIST ...` block; words are separated by spaces, a word with spaces
is double-quoted with `\\"` and `\\\\` escaped, and a failure is `ERR <CODE>`. The driver
keeps one connection to `host:port` and, every `poll` seconds (default 5), asks
`LIST VAR <ups>` for each configured UPS and reads `ups.status`, `battery.charge` and
`battery.runtime`. On connecting it sends `USERNAME`/`PASSWORD` when set (upsd needs
them only for commands a monitor does not send; we never `LOGIN`, which would make a
primary upsmon wait for us at shutdown) and `LIST UPS`, to name the UPSes the server
does not know in the log.

Each UPS is one device: address `<ups>@<host>:<port>`, kinds ("power",). The meaning of
what it reports, decided by drivers.power_supply.MainsMonitor (shared with the
power_supply driver):

    ups.status has OB (on battery)   for `debounce` s (default 60)   -> power zone active
    ups.status has OL (on line)                                    -> restored at once
    OB and OL together (a transition)                              -> OB
    neither (WAIT while the driver starts, OFF, ...)               -> unknown: no change,
                                                                      the OB count restarts
    LB (low battery) or FSD (forced shutdown)                      -> battery_low=True
    battery.charge                                                 -> battery (percent)
    ERR DRIVER-NOT-CONNECTED / DATA-STALE / UNKNOWN-UPS / other ERR-> online=False (a fault)
    connection refused, lost, timed out, garbled                   -> online=False for every
                                                                      UPS; reconnect with backoff
    answers again                                                  -> online=True and the
                                                                      zone's current state

`readings()` never raises for a protocol problem: everything the server or the network
can do ends in a log line and `online=False`. The reply parser (`parse_reply`) is pure
and total: any text gives a `Reply`, never an exception (tests/reliability fuzz it).

Options: `host` (default "127.0.0.1"), `port` (3493), `ups` (a name or a list of names,
required), `username`, `password`, `debounce` (seconds, default 60), `poll` (seconds,
default 5), `timeout` (seconds per request, default 10). A `type` key equal to "nut" is
tolerated, so the hub may pass a whole `[[drivers]]` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from drivers.base import (
    DriverContext,
    DriverError,
    FixedDevice,
    FixedTargetDriver,
    Reading,
    ReadingStream,
)
from drivers.power_supply import HEARTBEAT, MainsMonitor

__all__ = [
    "NutClient",
    "NutConnectionError",
    "NutDriver",
    "NutError",
    "NutProtocolError",
    "NutReplyError",
    "Reply",
    "UpsStatus",
    "parse_reply",
    "parse_status",
    "quote",
    "split_words",
]

log = logging.getLogger("drivers.nut")  # one logger per driver, as [log] levels name it

DEFAULT_PORT = 3493
_OPTIONS = ("host", "port", "ups", "username", "password", "debounce", "poll", "timeout")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # a UPS name as ups.conf allows it: no spaces or quotes
_LINE_LIMIT = 64 * 1024  # a reply line longer than this is garbage, not a UPS variable
_LIST_LIMIT = 4096  # lines in one LIST block
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0


# --------------------------------------------------------------------------- errors


class NutError(Exception):
    """Something went wrong talking to upsd; the driver turns every one into `online=False`."""


class NutConnectionError(NutError):
    """upsd cannot be reached, closed the connection, or did not answer in time."""


class NutProtocolError(NutError):
    """upsd's answer is not what the protocol says; the connection is out of step and is dropped."""


class NutReplyError(NutError):
    """upsd answered `ERR <code>`: the connection is fine, the command failed (e.g. DRIVER-NOT-CONNECTED)."""

    def __init__(self, code: str, command: str) -> None:
        super().__init__(f"{command!r} -> ERR {code}")
        self.code = code
        self.command = command


# --------------------------------------------------------------------------- the pure protocol part


def split_words(line: str) -> list[str]:
    """Split a reply line into words as upsd quotes them (never raises; an open quote runs to the end)."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        word: list[str] = []
        if line[i] == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                word.append(line[i])
                i += 1
            i += 1  # the closing quote (or past the end)
        else:
            while i < n and line[i] not in " \t":
                word.append(line[i])
                i += 1
        words.append("".join(word))
    return words


def quote(value: str) -> str:
    """A command argument as upsd reads it: double-quoted with `"` and `\\` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Reply:
    """One reply line: `kind` is OK, ERR, BEGIN, END, VAR, UPS or OTHER; `words` follow the keyword.

    For ERR, `words[0]` is the code; for VAR, `words` is (ups, name, value); for UPS, (name, description).
    """

    kind: str
    words: tuple[str, ...]

    @property
    def code(self) -> str:
        return self.words[0] if self.kind == "ERR" and self.words else ""


_KINDS = {"OK": 0, "ERR": 1, "BEGIN": 1, "END": 1, "VAR": 3, "UPS": 2}  # keyword -> words it needs at least


def parse_reply(line: str) -> Reply:
    """Classify one reply line (total: any text gives a Reply, `OTHER` when it is none of the known ones)."""
    words = split_words(line.rstrip("\r\n"))
    if words and words[0] in _KINDS and len(words) - 1 >= _KINDS[words[0]]:
        return Reply(words[0], tuple(words[1:]))
    return Reply("OTHER", tuple(words))


@dataclass(frozen=True)
class UpsStatus:
    """What `ups.status` says about mains and the battery (None: it does not say)."""

    mains: bool | None
    battery_low: bool | None
    flags: frozenset[str]


def parse_status(value: str | None) -> UpsStatus:
    """Read the `ups.status` tokens (OL on line, OB on battery, LB low battery, FSD forced shutdown)."""
    flags = frozenset(value.split()) if value else frozenset()
    mains: bool | None = False if "OB" in flags else True if "OL" in flags else None
    if "LB" in flags or "FSD" in flags:
        low: bool | None = True
    else:
        low = None if mains is None else False
    return UpsStatus(mains=mains, battery_low=low, flags=flags)


def _percent(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return number if 0 <= number <= 100 else None  # NaN fails both comparisons


# --------------------------------------------------------------------------- the client


class NutClient:
    """One connection to upsd; every method raises only NutError subclasses (and CancelledError)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float = 10.0) -> None:
        self._reader = reader
        self._writer = writer
        self.timeout = timeout

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float = 10.0) -> NutClient:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=_LINE_LIMIT)
        except (OSError, TimeoutError) as exc:
            raise NutConnectionError(f"cannot connect to upsd at {host}:{port}: {exc or 'timed out'}") from exc
        return cls(reader, writer, timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if not self._writer.is_closing():
                self._writer.write(b"LOGOUT\n")
            self._writer.close()
            async with asyncio.timeout(1):
                await self._writer.wait_closed()

    async def request(self, command: str) -> Reply:
        """Send a one-line command and return its one-line answer (ERR raises NutReplyError)."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._send(command)
                reply = await self._line()
        except TimeoutError as exc:
            raise NutConnectionError(f"upsd did not answer {command!r} in {self.timeout:g} s") from exc
        if reply.kind == "ERR":
            raise NutReplyError(reply.code, command)
        return reply

    async def list(self, command: str) -> list[Reply]:
        """Send `LIST ...` and return the lines between its BEGIN and END (ERR raises NutReplyError)."""
        expected = tuple(split_words(command))
        try:
            async with asyncio.timeout(self.timeout):
                await self._send(command)
                first = await self._line()
                if first.kind == "ERR":
                    raise NutReplyError(first.code, command)
                if first.kind != "BEGIN" or first.words != expected:
                    raise NutProtocolError(f"{command!r} answered {first.kind} {' '.join(first.words)!r}")
                lines: list[Reply] = []
                while True:
                    reply = await self._line()
                    if reply.kind == "END" and reply.words == expected:
                        return lines
                    if len(lines) >= _LIST_LIMIT:
                        raise NutProtocolError(f"{command!r}: more than {_LIST_LIMIT} lines")
                    lines.append(reply)
        except TimeoutError as exc:
            raise NutConnectionError(f"upsd did not finish {command!r} in {self.timeout:g} s") from exc

    async def list_ups(self) -> dict[str, str]:
        """`LIST UPS`: the UPS names upsd serves, with their descriptions."""
        return {r.words[0]: r.words[1] for r in await self.list("LIST UPS") if r.kind == "UPS"}

    async def list_var(self, ups: str) -> dict[str, str]:
        """`LIST VAR <ups>`: every variable of one UPS."""
        return {r.words[1]: r.words[2] for r in await self.list(f"LIST VAR {ups}") if r.kind == "VAR"}

    async def _send(self, command: str) -> None:
        try:
            self._writer.write(command.encode() + b"\n")
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:  # RuntimeError: the transport is already closed
            raise NutConnectionError(f"upsd connection lost: {exc}") from exc

    async def _line(self) -> Reply:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise NutConnectionError("upsd closed the connection") from exc
        except asyncio.LimitOverrunError as exc:
            raise NutProtocolError(f"upsd sent a line longer than {_LINE_LIMIT} bytes") from exc
        except OSError as exc:
            raise NutConnectionError(f"upsd connection lost: {exc}") from exc
        return parse_reply(raw.decode("utf-8", errors="replace"))


# --------------------------------------------------------------------------- the driver


class NutDriver(FixedTargetDriver):
    """UPS mains power and battery through upsd; one device per configured UPS."""

    type: ClassVar[str] = "nut"

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        for key in options:
            if key == "type":
                if options[key] != self.type:
                    raise DriverError(f"nut driver given option type = {options[key]!r}")
            elif key not in _OPTIONS:
                raise DriverError(f"nut driver: unknown option {key!r}; known options: {', '.join(_OPTIONS)}")
        self.host = _text(options, "host") or "127.0.0.1"
        port = options.get("port", DEFAULT_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise DriverError(f"nut driver: option 'port' must be a TCP port (1-65535), got {port!r}")
        self.port = port
        self.ups = _ups_names(options.get("ups"))
        self.username = _text(options, "username")
        self.password = _text(options, "password")
        self.debounce = _seconds(options, "debounce", 60.0, zero_ok=True)
        self.poll = _seconds(options, "poll", 5.0, zero_ok=False)
        self.timeout = _seconds(options, "timeout", 10.0, zero_ok=False)
        self._context = context
        self._heartbeat = max(HEARTBEAT, self.poll)
        self._monitors = {ups: MainsMonitor(self.address(ups), self.debounce, self._heartbeat) for ups in self.ups}
        self._vars: dict[str, dict[str, str]] = {}
        self._stream = ReadingStream(self.type)
        self._task: asyncio.Task[None] | None = None
        self._polled = False
        self._state = "new"

    def address(self, ups: str) -> str:
        """The casahub address of a UPS: `<ups>@<host>:<port>`."""
        return f"{ups}@{self.host}:{self.port}"

    def variables(self, address: str) -> Mapping[str, str]:
        """The UPS's variables at the last poll (model, battery.runtime, ...), for display; empty if unknown."""
        for ups in self.ups:
            if self.address(ups) == address:
                return dict(self._vars.get(ups, {}))
        return {}

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a NutDriver runs once; create a new one to start again")
        self._state = "running"
        self._task = asyncio.create_task(self._run(), name="nut-poll")
        return self

    # ------------------------------------------------------------------ the Driver protocol

    def fixed_devices(self) -> list[FixedDevice]:
        return [
            FixedDevice(address=self.address(ups), name=f"UPS {ups}", model="UPS (NUT)", kinds=("power",))
            for ups in self.ups
        ]

    def expected_interval(self, address: str) -> float | None:
        return self._heartbeat if any(self.address(ups) == address for ups in self.ups) else None

    # ------------------------------------------------------------------ polling

    async def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            self._polled = False
            try:
                await self._session()
            except NutError as exc:
                log.warning("nut: %s:%s: %s", self.host, self.port, exc)
            except Exception:  # a bug here must not end mains supervision: log it loudly and go on
                log.exception("nut: unexpected failure polling %s:%s", self.host, self.port)
            at = self._context.clock()
            for monitor in self._monitors.values():
                self._emit(monitor.unreachable(at))
            if self._polled:
                backoff = _BACKOFF_FIRST
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _session(self) -> None:
        """Connect, log in, then poll every `poll` s until something fails (raises NutError)."""
        client = await NutClient.connect(self.host, self.port, self.timeout)
        try:
            if self.username is not None:
                await client.request(f"USERNAME {quote(self.username)}")
            if self.password is not None:
                await client.request(f"PASSWORD {quote(self.password)}")
            try:
                known: dict[str, str] | None = await client.list_ups()
            except NutReplyError as exc:
                known = None
                log.warning("nut: %s:%s: %s", self.host, self.port, exc)
            for ups in self.ups:
                if known is not None and ups not in known:
                    log.error(
                        "nut: upsd at %s:%s has no UPS %r (it has: %s); check `ups` in the config",
                        self.host,
                        self.port,
                        ups,
                        ", ".join(known) or "none",
                    )
            while True:
                for ups in self.ups:
                    await self._poll(client, ups)
                self._polled = True
                await asyncio.sleep(self.poll)
        finally:
            await client.close()

    async def _poll(self, client: NutClient, ups: str) -> None:
        monitor = self._monitors[ups]
        try:
            variables = await client.list_var(ups)
        except NutReplyError as exc:
            self._vars.pop(ups, None)
            lost = monitor.unreachable(self._context.clock())
            if lost:
                log.warning("nut: UPS %s is unavailable: %s", ups, exc)
            self._emit(lost)
            return
        self._vars[ups] = variables
        status = parse_status(variables.get("ups.status"))
        self._emit(
            monitor.observe(
                status.mains,
                _percent(variables.get("battery.charge")),
                status.battery_low,
                now=time.monotonic(),
                at=self._context.clock(),
            )
        )

    def _emit(self, readings: list[Reading]) -> None:
        for reading in readings:
            self._stream.put(reading)


# --------------------------------------------------------------------------- options


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)  # a hub.config.Secret
    if callable(reveal):
        value = reveal()
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
        raise DriverError(f"nut driver: option {key!r} must be a non-empty string on one line")
    return value


def _ups_names(value: Any) -> tuple[str, ...]:
    if value is None:
        raise DriverError("nut driver: option 'ups' is required: the UPS name as in upsd's ups.conf (`upsc -l`)")
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        raise DriverError(f"nut driver: option 'ups' must be a UPS name or a list of names, got {value!r}")
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DriverError(f"nut driver: {name!r} is not a UPS name (letters, digits, '_', '.', '-')")
    if len(set(names)) != len(names):
        raise DriverError(f"nut driver: option 'ups' names a UPS twice: {value!r}")
    return tuple(names)


def _seconds(options: Mapping[str, Any], key: str, default: float, *, zero_ok: bool) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise DriverError(f"nut driver: option {key!r} must be a number of seconds, got {value!r}")
    if value == 0 and not zero_ok:
        raise DriverError(f"nut driver: option {key!r} must be more than 0 seconds")
    return float(value)
