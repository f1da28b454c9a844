"""The real pysiaalarm DC-09 receiver (`pysiaalarm.aio.SIAClient`, TCP) on loopback.

It knows one plain and two encrypted accounts (pysiaalarm uses the key string's ASCII bytes as
the AES key: `key_format = "ascii"`, or the hex of those bytes). pysiaalarm writes its ACK, then
hands the event over: `Receiver.events` holds what it ACKed, `Receiver.times` when.

pysiaalarm missing: `require_pysiaalarm()` fails under CI=true and skips otherwise (docs/architecture.md section 6).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from typing import Any

from tests.peers import free_port

try:
    from pysiaalarm.account import SIAAccount
    from pysiaalarm.aio.client import SIAClient
    from pysiaalarm.event import SIAEvent

    HAVE_PYSIAALARM = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_PYSIAALARM = False

__all__ = [
    "AES128_ACCOUNT",
    "AES128_KEY",
    "AES256_ACCOUNT",
    "AES256_KEY",
    "HAVE_PYSIAALARM",
    "PLAIN_ACCOUNT",
    "Receiver",
    "kind_of",
    "require_pysiaalarm",
]

PLAIN_ACCOUNT = "1234"
AES128_ACCOUNT = "AB12"
AES128_KEY = "K3y0fSixteenChr!"  # pysiaalarm uses the key string's ASCII bytes
AES256_ACCOUNT = "CD34"
AES256_KEY = "thirty-two-ascii-characters-key!"
ACCOUNTS: tuple[tuple[str, str | None], ...] = (
    (PLAIN_ACCOUNT, None),
    (AES128_ACCOUNT, AES128_KEY),
    (AES256_ACCOUNT, AES256_KEY),
)


def require_pysiaalarm() -> None:
    """Skip the calling test without pysiaalarm, with one line saying how to get it; fail in CI."""
    if HAVE_PYSIAALARM:
        return
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("pysiaalarm is required in CI (docs/architecture.md section 6): pip install pysiaalarm")
    pytest.skip("pip install pysiaalarm")


def kind_of(event: Any) -> str:
    """The message type ("SIA-DCS", "ADM-CID", "NULL") of a pysiaalarm event."""
    kind = event.message_type
    return str(getattr(kind, "value", kind))


class Receiver:
    """A pysiaalarm SIAClient on 127.0.0.1 that records the events it ACKed.

    `stop()` also drops the open connections: an asyncio server that is closed keeps
    serving the connections it already has, and a centre that goes down does not.
    `start()` after `stop()` listens on the same port again.
    """

    def __init__(self, port: int | None = None, accounts: Sequence[tuple[str, str | None]] = ACCOUNTS) -> None:
        self.port = port or free_port()
        self.accounts = tuple(accounts)
        self.events: list[SIAEvent] = []
        self.times: list[float] = []  # time.perf_counter() of each event, after its ACK was written
        self._arrived = asyncio.Condition()
        self._client: SIAClient | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _on_event(self, event: SIAEvent) -> None:
        async with self._arrived:
            self.events.append(event)
            self.times.append(time.perf_counter())
            self._arrived.notify_all()

    async def start(self) -> None:
        accounts = [SIAAccount(account, key) if key else SIAAccount(account) for account, key in self.accounts]
        # SIAClient.__new__ picks its TCP subclass (the default protocol)
        client = SIAClient("127.0.0.1", self.port, accounts, self._on_event)  # type: ignore[abstract]
        serve = client.sia_server.handle_line  # type: ignore[union-attr]

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await serve(reader, writer)
            finally:
                self._writers.discard(writer)

        client.sia_server.handle_line = tracked  # type: ignore[union-attr]
        await client.async_start()
        self._client = client

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        if self._client is not None:
            await self._client.async_stop()
            self._client = None
        await asyncio.sleep(0.05)

    @property
    def running(self) -> bool:
        return self._client is not None

    def reports(self) -> list[SIAEvent]:
        """The events that are not link-supervision NULL polls, oldest first."""
        return [e for e in self.events if kind_of(e) != "NULL"]

    def report_times(self) -> list[float]:
        """When each of `reports()` was ACKed (`time.perf_counter()`)."""
        return [t for e, t in zip(self.events, self.times, strict=True) if kind_of(e) != "NULL"]

    async def wait_reports(self, count: int, timeout: float = 5.0) -> list[SIAEvent]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.reports()) >= count), timeout)
        return self.reports()
