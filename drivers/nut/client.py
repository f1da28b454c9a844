"""`NutClient`: one connection to upsd, its errors, and the limits on what it reads."""

from __future__ import annotations

import asyncio
import contextlib

from drivers.base import DriverError
from drivers.nut.protocol import Reply, parse_reply, split_words

__all__ = ["NutClient", "NutConnectionError", "NutError", "NutProtocolError", "NutReplyError"]

_LINE_LIMIT = 64 * 1024  # a reply line longer than this is garbage, not a UPS variable
_LIST_LIMIT = 4096  # lines in one LIST block


class NutError(DriverError):
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
