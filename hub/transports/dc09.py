"""The `dc09` transport: reports to the assistance centre over SIA DC-09 (TCP), with link supervision.

The frames come from the pure codec `alarms.dc09`; this module owns the socket, the
sequence counter file, the receiver-clock offset and the supervision task.

- One frame in flight at a time (an asyncio.Lock): write one frame, wait for the reply.
  ACK -> Delivered; NAK -> resync our clock to the receiver's (the NAK carries it) and
  resend once at once, with a new sequence number; DUH -> Permanent; no connection, no
  reply or a garbled one -> the backup receiver if configured, else Transient.
- The connection is kept open and reused; one that turns out stale (the receiver closed
  it) is reopened once. A connection to the backup is dropped at every supervision poll
  so that the primary is tried again.
- Sequence numbers (0001-9999, then 0001 again) are reserved in blocks of `SEQUENCE_BLOCK`:
  the end of the block is written to `sequence_path` (atomic replace + fsync) before the
  block's first frame leaves, and a restart continues after it. So no number is ever reused
  across restarts, at the cost of skipping the rest of a block after a restart, and the SD
  card sees one write per block instead of one per frame (a NULL poll every 90 s would
  otherwise rewrite it 960 times a day). Receivers only require numbers not to repeat.
  The next block is reserved in the background once half of the current one is used, so
  an alarm's report does not wait for the file's fsync (an SD card takes tens of ms; it was
  the DC-09 ACK's p99 in the latency bench). A block never crosses 9999: the one after it
  starts again at 0001.
- Link supervision: a NULL poll every `supervision_interval` seconds. `on_link(False)`
  once nothing (message or NULL) has been ACKed for two intervals — the daemon raises
  `centre_unreachable` — and `on_link(True)` when something is ACKed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, cast, get_args

from alarms.dc09 import (
    REPORT_KINDS,
    DC09DecodeError,
    DC09EncodeError,
    Frame,
    PadSource,
    ReportKind,
    decode_reply,
    encode_null,
    encode_report,
    random_pad,
)
from alarms.model import ReportCode
from hub.transports.base import Delivered, Outcome, OutgoingMessage, Permanent, Transient, TransportError

if TYPE_CHECKING:
    from hub.config import CentreConfig

log = logging.getLogger("casahub.centre")

REPLY_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
MAX_REPLY_BYTES = 4096
SEQUENCE_MAX = 9999
SEQUENCE_BLOCK = 32

_ReportFields = tuple[ReportKind, bool, int | None, int | None, int]  # kind, restore, zone, user, partition


class DC09LinkError(TransportError, ConnectionError):
    """The centre did not ACK (unreachable, NAK twice, DUH, garbled reply); the message says which."""


class _Failed(TransportError):
    """One target failed at the transport level (no connection, no reply, garbage): try the next."""


class _StorageError(TransportError):
    """The sequence file cannot be written: sending would risk reusing a number."""


class _Stale(_Failed):
    """A reused connection turned out closed by the receiver."""


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    backup: bool

    def __str__(self) -> str:
        return f"{'backup ' if self.backup else ''}{self.host}:{self.port}"


@dataclass(slots=True)
class _Connection:
    target: _Target
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    used: bool = False


@dataclass(frozen=True, slots=True)
class _Answer:
    reply: Frame
    target: _Target
    sequence: int


class DC09Channel:
    """The centre link over SIA DC-09 (`[centre] protocol = "dc09"`)."""

    transport = "dc09"

    def __init__(
        self,
        config: CentreConfig,
        *,
        sequence_path: Path,
        on_link: Callable[[bool], Awaitable[None]],
        clock: Callable[[], float] = time.time,
        reply_timeout: float = REPLY_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        pad: PadSource = random_pad,
    ) -> None:
        if not config.host or not config.port or not config.account:
            raise ValueError("[centre] protocol = 'dc09' needs host, port and account")
        key = config.aes_key()
        if key is not None and len(key) not in (16, 24, 32):
            raise ValueError(f"[centre] key must be an AES-128/192/256 key (16, 24 or 32 bytes), got {len(key)} bytes")
        self.config = config
        self.max_backoff = float(config.supervision_interval)
        self._key = key
        self._account = config.account
        self._sequence_path = sequence_path
        self._on_link = on_link
        self._clock = clock
        self._reply_timeout = reply_timeout
        self._connect_timeout = connect_timeout
        self._pad = pad
        self._targets = [_Target(config.host, config.port, backup=False)]
        if config.backup_host and config.backup_port:
            self._targets.append(_Target(config.backup_host, config.backup_port, backup=True))
        self._lock = asyncio.Lock()  # one frame in flight
        self._changes: asyncio.Queue[bool] = asyncio.Queue()  # link changes for on_link, in order
        self._notifier: asyncio.Task[None] | None = None
        self._conn: _Connection | None = None
        self._offset = 0.0  # receiver clock minus our clock, learnt from a NAK
        # Counted without wrapping (the number sent is _wrap(count)), so a block reserved ahead
        # across 9999 compares simply. None until the sequence file has been read.
        self._count: int | None = None  # the last number used
        self._reserved = 0  # numbers up to this count are reserved in the sequence file
        self._reserving: asyncio.Task[None] | None = None  # the next block, written in the background
        self._link_up = True
        self._last_ack: float | None = None  # loop time of the last ACK (or of the start)
        self._supervision: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> DC09Channel:
        self._last_ack = asyncio.get_running_loop().time()
        self._notifier = asyncio.create_task(self._notify(), name="dc09-link-notifier")
        self._supervision = asyncio.create_task(self._supervise(), name="dc09-supervision")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in (self._supervision, self._notifier):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)  # a cancel of our own still propagates
        self._supervision = self._notifier = None
        if self._reserving is not None:  # a block being written: let it finish (it is one small fsync)
            with contextlib.suppress(Exception):
                await self._reserving
        while not self._changes.empty():  # changes noted but not yet told
            await self._call_on_link(self._changes.get_nowait())
        async with self._lock:
            await self._close()

    # ------------------------------------------------------------------ public API

    async def send(self, message: OutgoingMessage) -> Outcome:
        fields = _report_fields(message.payload)
        if isinstance(fields, str):
            return Permanent(fields)
        kind, restore, zone_number, user_number, partition = fields
        fmt = self.config.format

        def build(sequence: int, now: datetime) -> bytes:
            return encode_report(
                fmt,
                kind,
                restore=restore,
                zone_number=zone_number,
                user_number=user_number,
                partition=partition,
                sequence=sequence,
                account=self._account,
                receiver=self.config.receiver,
                line=self.config.line,
                timestamp=now,
                key=self._key,
                pad=self._pad,
            )

        try:
            build(0, self._now())  # refuse what can never be encoded before using a sequence number
        except DC09EncodeError as exc:
            return Permanent(f"cannot encode the report: {exc}")
        try:
            answer = await self._deliver(build)
        except (_Failed, _StorageError) as exc:
            return Transient(str(exc))
        reply = answer.reply
        if reply.id == "ACK":
            via = " (backup receiver)" if answer.target.backup else ""
            return Delivered(f"ACK from {answer.target.host}:{answer.target.port}{via}, seq {answer.sequence:04d}")
        if reply.id == "DUH":
            return Permanent(
                f"receiver cannot process the message (DUH) from {answer.target}: "
                "check [centre] account, format and key with the centre"
            )
        return Transient(f"receiver {answer.target} refused the message twice (NAK) even after a clock resync")

    async def test_link(self) -> str:
        """Send one NULL poll; return a one-line result, or raise DC09LinkError saying why not."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            answer = await self._poll()
        except _Failed as exc:
            raise DC09LinkError(f"centre unreachable: {exc}") from None
        except _StorageError as exc:
            raise DC09LinkError(str(exc)) from None
        took = (loop.time() - started) * 1000
        if answer.reply.id != "ACK":
            raise DC09LinkError(f"receiver {answer.target} answered the NULL poll with {answer.reply.id}")
        crypto = f"AES-{len(self._key) * 8}" if self._key else "unencrypted"
        skew = f", receiver clock {self._offset:+.0f} s from ours" if abs(self._offset) >= 1 else ""
        return (
            f"{answer.target} ACKed a NULL poll in {took:.0f} ms "
            f"(account {self._account.upper()}, {self.config.format}, {crypto}, seq {answer.sequence:04d}{skew})"
        )

    # ------------------------------------------------------------------ delivery

    async def _poll(self) -> _Answer:
        def build(sequence: int, now: datetime) -> bytes:
            return encode_null(
                sequence=sequence,
                account=self._account,
                receiver=self.config.receiver,
                line=self.config.line,
                timestamp=now,
                key=self._key,
                pad=self._pad,
            )

        return await self._deliver(build, poll=True)

    async def _deliver(self, build: Callable[[int, datetime], bytes], *, poll: bool = False) -> _Answer:
        """Send one frame (and once more after a NAK); note ACKs for the link state."""
        try:
            async with self._lock:
                if poll and self._conn is not None and self._conn.target.backup:
                    await self._close()  # try the primary again
                answer = await self._exchange(build)
                if answer.reply.id == "NAK":
                    self._resync(answer.reply)
                    answer = await self._exchange(build)
        except _Failed:
            await self._announce(self._link_state(acked=False))
            raise
        await self._announce(self._link_state(acked=answer.reply.id == "ACK"))
        return answer

    async def _exchange(self, build: Callable[[int, datetime], bytes]) -> _Answer:
        """One frame, one reply: the primary, then the backup. Raises _Failed with every reason."""
        reasons: list[str] = []
        for target in self._targets:
            for _ in range(2):  # the second round only after a stale reused connection
                try:
                    conn = await self._connection(target)
                    sequence = await self._next_sequence()
                    frame = build(sequence, self._now())
                    reply = await self._roundtrip(conn, frame)
                    self._check_reply(reply, sequence)
                    return _Answer(reply, target, sequence)
                except _Stale:
                    continue
                except _Failed as exc:
                    await self._close()  # whatever it was, do not read its leftovers as the next reply
                    reasons.append(f"{target}: {exc}")
                    break
            else:
                reasons.append(f"{target}: the receiver keeps closing the connection")
        raise _Failed("; ".join(reasons))

    async def _connection(self, target: _Target) -> _Connection:
        if self._conn is not None and self._conn.target == target and not self._conn.writer.is_closing():
            return self._conn
        await self._close()
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(target.host, target.port)
        except TimeoutError:
            raise _Failed(f"no TCP connection within {self._connect_timeout:g} s") from None
        except OSError as exc:
            raise _Failed(_describe(exc)) from None
        self._conn = _Connection(target, reader, writer)
        return self._conn

    async def _roundtrip(self, conn: _Connection, frame: bytes) -> Frame:
        reused, conn.used = conn.used, True
        try:
            conn.writer.write(frame)
            async with asyncio.timeout(self._reply_timeout):
                await conn.writer.drain()
            raw = await self._read_reply(conn.reader)
        except _Failed as exc:
            await self._close()
            raise (_Stale(str(exc)) if reused and isinstance(exc, _Stale) else _Failed(str(exc))) from None
        except TimeoutError:
            await self._close()
            raise _Failed(f"no reply within {self._reply_timeout:g} s") from None
        except OSError as exc:
            await self._close()
            if reused:
                raise _Stale(_describe(exc)) from None
            raise _Failed(_describe(exc)) from None
        except BaseException:  # cancelled mid-exchange: the reply would confuse the next one
            await self._close()
            raise
        try:
            return decode_reply(raw, key=self._key)
        except DC09DecodeError as exc:
            await self._close()
            raise _Failed(f"garbled reply {raw[:80]!r}: {exc}") from None

    async def _read_reply(self, reader: asyncio.StreamReader) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reply_timeout
        buffer = b""
        while b"\r" not in buffer:
            if buffer.startswith(b'"') and buffer.endswith(b'"') and len(buffer) > 2:
                return buffer  # an unframed '"NAK"' (pysiaalarm's answer for an unknown account)
            if len(buffer) > MAX_REPLY_BYTES:
                raise _Failed(f"reply longer than {MAX_REPLY_BYTES} bytes without a CR")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                chunk = await reader.read(1024)
            if not chunk:
                raise _Stale("the receiver closed the connection" + (f" after {buffer[:40]!r}" if buffer else ""))
            buffer += chunk
        return buffer[: buffer.index(b"\r") + 1]

    def _check_reply(self, reply: Frame, sequence: int) -> None:
        if reply.id != "ACK":
            return  # NAK carries sequence 0000; DUH is final whatever it echoes
        if reply.sequence != sequence or (reply.account or "").upper() != self._account.upper():
            raise _Failed(f"ACK for seq {reply.sequence:04d} account {reply.account}, expected seq {sequence:04d}")
        if reply.encrypted != (self._key is not None):
            raise _Failed("plain ACK to an encrypted message" if self._key else "encrypted ACK to a plain message")

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await conn.writer.wait_closed()

    # ------------------------------------------------------------------ clock and sequence

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock() + self._offset, UTC)

    def _resync(self, nak: Frame) -> None:
        if nak.timestamp is None:
            log.warning("centre answered NAK without a timestamp; resending once")
            return
        offset = nak.timestamp.timestamp() - self._clock()
        log.warning("centre answered NAK: its clock is %+.0f s from ours; resynced and resending", offset)
        self._offset = offset

    async def _next_sequence(self) -> int:
        if self._count is None:
            self._count = self._reserved = await asyncio.to_thread(_read_sequence, self._sequence_path)
        count = self._count + 1
        if count > self._reserved and self._reserving is not None:
            await asyncio.shield(self._reserving)  # nearly written: cheaper than a second write
        if count > self._reserved:  # not reserved ahead (or that failed): reserve now, before sending
            try:
                await self._reserve(count)
            except OSError as exc:
                raise _StorageError(f"cannot write the DC-09 sequence file {self._sequence_path}: {exc}") from exc
        self._count = count
        if self._reserved - count < SEQUENCE_BLOCK // 2 and self._reserving is None:
            self._reserving = asyncio.create_task(self._reserve_ahead(), name="dc09-sequence-block")
        return _wrap(count)

    async def _reserve(self, start: int) -> None:
        """Write the block from `start` (a count) to the file; raises OSError when it cannot."""
        cycle_end = ((start - 1) // SEQUENCE_MAX + 1) * SEQUENCE_MAX  # blocks stop at 9999
        end = min(start + SEQUENCE_BLOCK - 1, cycle_end)
        await asyncio.to_thread(_write_sequence, self._sequence_path, _wrap(end))
        self._reserved = max(self._reserved, end)

    async def _reserve_ahead(self) -> None:
        try:
            await self._reserve(self._reserved + 1)
        except OSError as exc:  # the next send reserves in the foreground and says why if it fails
            log.warning("cannot reserve DC-09 sequence numbers ahead in %s: %s", self._sequence_path, exc)
        finally:
            self._reserving = None

    # ------------------------------------------------------------------ link supervision

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        interval = float(self.config.supervision_interval)
        next_poll = loop.time() + interval
        while True:
            if loop.time() >= next_poll:
                acked_recently = self._last_ack is not None and loop.time() - self._last_ack < interval / 2
                if not acked_recently:
                    try:
                        await self._poll()
                    except _Failed:
                        pass
                    except Exception:  # e.g. the sequence file: keep supervising, say why
                        log.exception("centre link supervision poll failed")
                next_poll = loop.time() + interval
            await self._announce(self._link_state(acked=False))
            wake = next_poll
            if self._link_up and self._last_ack is not None:
                wake = min(wake, self._last_ack + 2 * interval)
            await asyncio.sleep(max(0.01, wake - loop.time()))

    def _link_state(self, *, acked: bool) -> bool | None:
        """Note an ACK (or its absence); return the new link state if it changed."""
        now = asyncio.get_running_loop().time()
        if acked:
            self._last_ack = now
            if self._link_up:
                return None
            self._link_up = True
            log.info("centre link is back")
            return True
        if self._last_ack is None:
            self._last_ack = now  # send() before the context was entered: start counting now
        if not self._link_up or now - self._last_ack < 2 * self.config.supervision_interval:
            return None
        self._link_up = False
        log.warning("centre link down: nothing ACKed for %.0f s", now - self._last_ack)
        return False

    async def _announce(self, up: bool | None) -> None:
        """Hand a link change to on_link, in order, never under a lock (on_link may call send)."""
        if up is None:
            return
        if self._notifier is not None:
            self._changes.put_nowait(up)
        else:
            await self._call_on_link(up)

    async def _notify(self) -> None:
        while True:
            await self._call_on_link(await self._changes.get())

    async def _call_on_link(self, up: bool) -> None:
        try:
            await self._on_link(up)
        except Exception:
            log.exception("on_link(%s) failed", up)


# ---------------------------------------------------------------------- helpers


def _report_fields(payload: dict[str, object] | None) -> _ReportFields | str:
    """The report in an outbox payload, or the reason it is not one (-> Permanent)."""
    if not isinstance(payload, dict):
        return "not a centre report: the message has no payload"
    code = payload.get("code")
    if payload.get("test") is True:
        kind: ReportKind = "periodic_test"
    elif isinstance(code, str) and code in get_args(ReportCode):
        kind = cast(ReportCode, code)
    else:
        return f"not a centre report: unknown code {code!r} (expected one of {', '.join(REPORT_KINDS)})"
    restore = payload.get("restore") is True

    def number(name: str) -> int | None:
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999:
            return value
        if value is not None:
            log.warning("centre report %s=%r does not fit the 3-digit field; sent as 000", name, value)
        return None

    partition = payload.get("partition", 1)
    if isinstance(partition, bool) or not isinstance(partition, int) or not 1 <= partition <= 99:
        partition = 1  # a payload from before areas, or a damaged one: the first area
    return kind, restore, number("zone_number"), number("user_number"), partition


def _wrap(count: int) -> int:
    """The sequence number (0001-9999) of an unwrapped count (0 stays 0: none used yet)."""
    return (count - 1) % SEQUENCE_MAX + 1 if count > 0 else 0


def _read_sequence(path: Path) -> int:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read the DC-09 sequence file %s (%s); starting again from 0001", path, exc)
        return 0
    if not text.isdigit() or not 0 <= int(text) <= SEQUENCE_MAX:
        log.warning("DC-09 sequence file %s holds %r; starting again from 0001", path, text[:20])
        return 0
    return int(text)


def _write_sequence(path: Path, sequence: int) -> None:
    """Atomic replace + fsync (file and directory): a crash never loses or tears the number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{sequence:04d}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the receiver"
    if isinstance(exc, BrokenPipeError):
        return "connection closed by the receiver"
    return exc.strerror or str(exc) or type(exc).__name__
