"""Fuzz the NUT client (drivers/nut/): whatever upsd (or something pretending to be it) sends,
nothing but a NutError comes out, and the driver's pure parts never raise.

Targets:
- `parse_reply` / `split_words` / `parse_status` over arbitrary text, and reply-shaped lines
  (known keywords, quotes and backslashes in odd places, control characters);
- `NutClient.list_var` / `list_ups` / `request` reading an arbitrary byte stream (valid blocks,
  truncated blocks, garbage, over-long lines, invalid UTF-8, EOF anywhere): the only
  exceptions allowed out are NutError subclasses — the driver turns those into `online=False`;
- `MainsMonitor` fed what arbitrary `ups.status` / `battery.charge` values parse to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import HealthReading, SensorReading
from drivers.nut import NutClient, NutError, Reply, _percent, parse_reply, parse_status, quote, split_words
from drivers.power_supply import MainsMonitor
from tests.reliability.fuzz_helpers import fuzz_settings, report

LINE_CASES = 1500
STREAM_CASES = 600
MONITOR_CASES = 300

KEYWORDS = ["OK", "ERR", "BEGIN", "END", "VAR", "UPS", "LIST", "DESC", "RW", "TYPE", "", "ok", "Err"]
PIECES = st.sampled_from(
    ['"', "\\", " ", "\t", "\r", "\x00", "ups1", "ups.status", '"OL"', '"OB DISCHRG LB"', "LIST", "VAR", "UPS", "é"]
)


@st.composite
def reply_lines(draw: st.DrawFn) -> str:
    keyword = draw(st.sampled_from(KEYWORDS))
    rest = draw(st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=8))
    return " ".join([keyword, *rest])


@st.composite
def upsd_streams(draw: st.DrawFn) -> bytes:
    """Something between a correct LIST VAR answer and garbage."""
    parts: list[bytes] = []
    if draw(st.booleans()):
        parts.append(b"BEGIN LIST VAR ups1\n")
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.integers(0, 4))
        if choice == 0:
            value = draw(st.text(max_size=20))
            parts.append(f"VAR ups1 ups.status {quote(value)}\n".encode())
        elif choice == 1:
            parts.append(draw(reply_lines()).encode("utf-8", errors="replace") + b"\n")
        elif choice == 2:
            parts.append(draw(st.binary(max_size=40)))
        elif choice == 3:
            parts.append(
                b"ERR " + draw(st.sampled_from([b"DRIVER-NOT-CONNECTED", b"UNKNOWN-UPS", b"", b"\xff"])) + b"\n"
            )
        else:
            parts.append(b"END LIST VAR ups1\n")
    if draw(st.integers(0, 20)) == 0:
        parts.append(b"A" * (70 * 1024))  # longer than the client's line limit
    return b"".join(parts)


class _Writer:
    """Enough of asyncio.StreamWriter for NutClient; can fail like a reset connection."""

    def __init__(self, broken: bool) -> None:
        self.broken = broken
        self.sent = b""

    def write(self, data: bytes) -> None:
        if self.broken:
            raise ConnectionResetError("reset by peer")
        self.sent += data

    async def drain(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass


async def _talk(stream: bytes, command: str, broken: bool) -> Any:
    reader = asyncio.StreamReader(limit=64 * 1024)
    reader.feed_data(stream)
    reader.feed_eof()
    client = NutClient(reader, _Writer(broken), timeout=2)  # type: ignore[arg-type]
    try:
        if command == "list_var":
            return await client.list_var("ups1")
        if command == "list_ups":
            return await client.list_ups()
        return await client.request("GET VAR ups1 ups.status")
    finally:
        await client.close()


def _counting() -> tuple[list[int], Callable[[], None]]:
    count = [0]

    def tick() -> None:
        count[0] += 1

    return count, tick


def test_reply_parser_is_total(record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    count, tick = _counting()

    @fuzz_settings(LINE_CASES)
    @given(st.one_of(st.text(), reply_lines()))
    def check(line: str) -> None:
        tick()
        reply = parse_reply(line)
        assert isinstance(reply, Reply)
        assert reply.kind in {"OK", "ERR", "BEGIN", "END", "VAR", "UPS", "OTHER"}
        if reply.kind == "VAR":
            assert len(reply.words) >= 3
        assert isinstance(reply.code, str)
        words = split_words(line)
        assert all(isinstance(w, str) for w in words)
        status = parse_status(line)
        assert status.mains in (True, False, None)
        assert status.battery_low in (True, False, None)
        percent = _percent(line)
        assert percent is None or 0 <= percent <= 100

    check()
    report("nut reply parser", count[0], record_property, capsys)


@fuzz_settings(300)
@given(st.text(max_size=40))
def test_quote_round_trips_through_split_words(value: str) -> None:
    assert split_words(f"VAR ups1 x {quote(value)}") == ["VAR", "ups1", "x", value]


def test_client_raises_only_nut_errors(record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    count, tick = _counting()
    outcomes: dict[str, int] = {}

    @fuzz_settings(STREAM_CASES)
    @given(upsd_streams(), st.sampled_from(["list_var", "list_ups", "request"]), st.booleans())
    def check(stream: bytes, command: str, broken: bool) -> None:
        tick()
        try:
            result = asyncio.run(_talk(stream, command, broken))
        except NutError as exc:
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
            return
        outcomes["answer"] = outcomes.get("answer", 0) + 1
        if command == "request":
            assert isinstance(result, Reply) and result.kind != "ERR"
        else:
            assert isinstance(result, dict)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())

    check()
    report(
        "nut client streams",
        count[0],
        record_property,
        capsys,
        extra=", ".join(f"{k} {v}" for k, v in outcomes.items()),
    )


def test_monitor_never_raises(record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    count, tick = _counting()
    tokens = st.sampled_from(["OL", "OB", "LB", "FSD", "CHRG", "DISCHRG", "WAIT", "OFF", "BYPASS", "x"])
    statuses = st.one_of(st.none(), st.text(max_size=20), st.lists(tokens, max_size=4).map(" ".join))
    step = st.tuples(st.booleans(), statuses, st.one_of(st.none(), st.text(max_size=8)), st.floats(0, 100))

    @fuzz_settings(MONITOR_CASES)
    @given(st.floats(0, 120), st.lists(step, max_size=30))
    def check(debounce: float, steps: list[tuple[bool, str | None, str | None, float]]) -> None:
        tick()
        monitor = MainsMonitor("ups1@127.0.0.1:3493", debounce)
        now = 0.0
        reported: list[bool] = []
        for reachable, status_text, charge, dt in steps:
            now += dt
            if not reachable:
                out = monitor.unreachable(at=now)
                assert all(isinstance(r, HealthReading) and r.online is False for r in out)
                continue
            status = parse_status(status_text)
            out = monitor.observe(status.mains, _percent(charge), status.battery_low, now=now, at=now)
            for reading in out:
                if isinstance(reading, SensorReading):
                    assert reading.kind == "power"
                    reported.append(reading.active)
                    if reading.active:
                        assert status.mains is False, "mains lost is only reported while on battery"

    check()
    report("nut monitor", count[0], record_property, capsys)
