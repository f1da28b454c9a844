"""Fuzz the dashboard WebSocket (/api/v1/ws): whatever a client sends, the hub keeps running and
keeps streaming.

- `test_fuzz_ws_messages`: one long-lived connection receives arbitrary text and binary
  messages (and pings and pongs with arbitrary payloads); after each case it must still answer
  "ping" with "pong", and a zone change made through the API must still reach it.
- `test_fuzz_ws_raw_frames`: arbitrary bytes after the upgrade handshake on a fresh TCP
  connection (frames with any opcode, flags, mask and length, invalid UTF-8 in text frames,
  garbage). The server may close *that* connection; the long-lived one must keep streaming,
  and the hub logs no unhandled error.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from tests.reliability.fuzz_helpers import HubThread, fuzz_settings, report

MESSAGE_CASES = 300
RAW_CASES = 150
STREAM_CHECK_EVERY = 25  # cases between two checks that API changes still reach the socket
WAIT = 10.0  # seconds to wait for an answer that must come


class Stream:
    """The long-lived WebSocket and what it received, on the hub's loop."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[aiohttp.WSMessage] = asyncio.Queue()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            await self.inbox.put(msg)
        await self.inbox.put(aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None))

    async def drain(self) -> None:
        while not self.inbox.empty():
            self.inbox.get_nowait()

    async def expect(self, wanted: Callable[[aiohttp.WSMessage], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + WAIT
        while True:
            left = end - loop.time()
            if left <= 0:
                raise AssertionError(f"no {what} on the WebSocket within {WAIT} s")
            try:
                msg = await asyncio.wait_for(self.inbox.get(), left)
            except TimeoutError:
                raise AssertionError(f"no {what} on the WebSocket within {WAIT} s") from None
            if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                raise AssertionError(f"the server closed the WebSocket ({msg.type.name} {msg.data!r} {msg.extra!r})")
            if wanted(msg):
                return


def _is_pong(msg: aiohttp.WSMessage) -> bool:
    return msg.type == aiohttp.WSMsgType.TEXT and msg.data == "pong"


def _shows_zone(zone: str, active: bool) -> Callable[[aiohttp.WSMessage], bool]:
    """A system update in which `zone` is open (listed as not ready) or closed again."""

    def wanted(msg: aiohttp.WSMessage) -> bool:
        if msg.type != aiohttp.WSMsgType.TEXT or msg.data == "pong":
            return False
        data = json.loads(msg.data)
        if data.get("type") != "system":
            return False
        return any(item.get("zone") == zone for item in data["system"].get("not_ready", [])) == active

    return wanted


class WsHub:
    def __init__(self, hub: HubThread) -> None:
        self.hub = hub
        self.stream: Stream = hub.call(self._open())
        self.zone: str = hub.call(hub.api.zone_id("motion"))
        self.active = False

    async def _open(self) -> Stream:
        ws = await self.hub.api.session.ws_connect(self.hub.base + "/api/v1/ws", max_msg_size=0)
        stream = Stream(ws)
        await stream.expect(lambda m: m.type == aiohttp.WSMsgType.TEXT and '"system"' in m.data, "first system message")
        return stream

    def still_streaming(self) -> None:
        """The socket answers "ping" with "pong", and a zone change made through the API reaches it."""

        async def check() -> None:
            await self.stream.ws.send_str("ping")
            await self.stream.expect(_is_pong, '"pong"')
            self.active = not self.active
            await self.hub.api.trigger(self.zone, self.active)
            await self.stream.expect(_shows_zone(self.zone, self.active), f"update of zone {self.zone}")
            await self.stream.drain()

        self.hub.call(check())

    def close(self) -> None:
        async def close() -> None:
            await self.stream.ws.close()
            self.stream.reader.cancel()

        self.hub.call(close())


@pytest.fixture(scope="module")
def wshub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WsHub]:
    hub = HubThread(tmp_path_factory.mktemp("fuzz-ws") / "data")
    try:
        ws = WsHub(hub)
        yield ws
        ws.close()
    finally:
        hub.close()


def _no_hub_errors(hub: HubThread, label: str) -> None:
    failures = hub.take_failures()
    assert not failures, f"{label}: the hub logged\n" + "\n".join(f.text for f in failures)
    assert hub.alive(), "the daemon stopped"


# --------------------------------------------------------------------------- messages through a client

TEXTS = st.text(max_size=200) | st.sampled_from(
    ["ping", "PING", "ping ", "", "pong", "{}", '{"type": "ping"}', "null", "\x00", "\ud7ff", "x" * 70_000]
)
MESSAGES = st.one_of(
    st.tuples(st.just("text"), TEXTS),
    st.tuples(st.just("binary"), st.binary(max_size=200) | st.just(b"\x00" * 70_000)),
    st.tuples(st.sampled_from(["ping", "pong"]), st.binary(max_size=125)),
    st.tuples(
        st.just("json"), st.recursive(st.none() | st.booleans() | st.floats() | st.text(), st.lists, max_leaves=5)
    ),
)


async def _send(ws: aiohttp.ClientWebSocketResponse, kind: str, payload: Any) -> None:
    if kind == "text":
        await ws.send_str(payload)
    elif kind == "binary":
        await ws.send_bytes(payload)
    elif kind == "ping":
        await ws.ping(payload)
    elif kind == "pong":
        await ws.pong(payload)
    else:
        await ws.send_str(json.dumps(payload))


def test_fuzz_ws_messages(
    wshub: WsHub, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    hub = wshub.hub
    cases = 0
    frames = 0

    @fuzz_settings(MESSAGE_CASES)
    @given(messages=st.lists(MESSAGES, min_size=1, max_size=5))
    def run(messages: list[tuple[str, Any]]) -> None:
        nonlocal cases, frames
        cases += 1
        frames += len(messages)

        async def exchange() -> None:
            for kind, payload in messages:
                await _send(wshub.stream.ws, kind, payload)
            await wshub.stream.ws.send_str("ping")
            # one "pong" per exact "ping" among the fuzzed messages, then ours
            for _ in range(1 + sum(1 for kind, payload in messages if kind == "text" and payload == "ping")):
                await wshub.stream.expect(_is_pong, '"pong" after the fuzzed messages')

        hub.call(exchange())
        _no_hub_errors(hub, repr(messages)[:300])
        if cases % STREAM_CHECK_EVERY == 0:
            wshub.still_streaming()

    run()
    wshub.still_streaming()
    _no_hub_errors(hub, "after the fuzzed messages")
    report("websocket messages", cases, record_property, capsys, f"{frames} messages on one connection")


# --------------------------------------------------------------------------- raw frames on the wire


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One WebSocket frame with any header bits, opcode, mask and (honest or lying) length."""
    fin = draw(st.booleans())
    rsv = draw(st.integers(0, 7))
    opcode = draw(st.sampled_from([0x0, 0x1, 0x1, 0x2, 0x2, 0x8, 0x9, 0xA]) | st.integers(0, 15))
    payload = draw(
        st.binary(max_size=300)
        | st.text(max_size=100).map(lambda t: t.encode())
        | st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"\xc3", b"ping", b"\x03\xe8", b"\x03\xe8\xff", b"\x00"])
    )
    masked = draw(st.sampled_from([True, True, True, False]))
    length = draw(st.sampled_from(["honest", "honest", "honest", "short", "long", "huge"]))
    size = {"honest": len(payload), "short": max(0, len(payload) - 1), "long": len(payload) + 5, "huge": 2**40}[length]
    header = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header += bytes([mask_bit | size])
    elif size < 2**16:
        header += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        header += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if masked:
        key = draw(st.binary(min_size=4, max_size=4))
        header += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + payload


RAW = st.lists(frames(), min_size=1, max_size=4).map(b"".join) | st.binary(min_size=1, max_size=300)


def _opcodes(stream: bytes) -> list[int]:
    """Opcodes of the (unmasked) frames the server sent."""
    found = []
    while len(stream) >= 2:
        size, at = stream[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(stream[2:4], "big"), 4
        elif size == 127:
            size, at = int.from_bytes(stream[2:10], "big"), 10
        found.append(stream[0] & 0x0F)
        stream = stream[at + size :]
    return found


async def _raw_session(hub: HubThread, data: bytes) -> bytes:
    url = URL(hub.base)
    cookies = hub.api.session.cookie_jar.filter_cookies(url)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        writer.write(
            (
                f"GET /api/v1/ws HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Cookie: {cookie}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 101"), head
        writer.write(data)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        received = b""
        with_timeout = asyncio.get_running_loop().time() + 1.0
        while (left := with_timeout - asyncio.get_running_loop().time()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except (TimeoutError, ConnectionError):
                break
            if not chunk:
                break
            received += chunk
        return received
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def test_fuzz_ws_raw_frames(
    wshub: WsHub, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    hub = wshub.hub
    cases = 0
    closes: dict[str, int] = {}

    @fuzz_settings(RAW_CASES)
    @given(data=RAW)
    def run(data: bytes) -> None:
        nonlocal cases
        cases += 1
        answer = _opcodes(hub.call(_raw_session(hub, data)))
        how = "close frame" if 0x8 in answer else "connection dropped"
        closes[how] = closes.get(how, 0) + 1
        _no_hub_errors(hub, repr(data[:300]))

        async def pong() -> None:
            await wshub.stream.ws.send_str("ping")
            await wshub.stream.expect(_is_pong, '"pong" on the long-lived socket')

        hub.call(pong())
        if cases % STREAM_CHECK_EVERY == 0:
            wshub.still_streaming()

    run()
    wshub.still_streaming()
    status = hub.call(hub.api.request("GET", "/api/v1/health"))[0]
    assert status == 200
    _no_hub_errors(hub, "after the raw frames")
    report(
        "websocket raw frames",
        cases,
        record_property,
        capsys,
        f"each on a fresh connection; server ended them: {closes}",
    )
