"""The centre link against real peers on loopback.

- DC-09: the real pysiaalarm receiver (`pysiaalarm.aio.SIAClient`, TCP) with one plain and
  two encrypted accounts; every report kind, restores, NAK + clock resync, receiver down
  and back (link supervision), failover to the backup receiver, sequence persistence.
- Webhook: a local aiohttp server that verifies the HMAC signature like a centre would.

The receiver harness is `tests.peers.sia.Receiver`.

pysiaalarm missing: a failure under CI=true, a one-line skip otherwise.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from alarms.dc09 import (
    CONTACT_ID,
    EVENT_ONLY,
    REPORT_KINDS,
    SIA_CODES,
    USER_CODES,
    ReportKind,
    decode_reply,
    encode_frame,
)
from hub.config import CentreConfig, Secret
from hub.transports import dc09 as dc09_channel
from hub.transports.base import Delivered, OutgoingMessage, Permanent, Transient
from hub.transports.dc09 import DC09Channel, DC09LinkError
from hub.transports.webhook import WebhookCentre
from tests.peers import free_port
from tests.peers.sia import (
    AES128_ACCOUNT,
    AES128_KEY,
    AES256_ACCOUNT,
    AES256_KEY,
    PLAIN_ACCOUNT,
    Receiver,
    kind_of,
    require_pysiaalarm,
)


@pytest.fixture
def need_pysiaalarm() -> None:
    require_pysiaalarm()


@pytest.fixture
async def receiver(need_pysiaalarm: None) -> AsyncIterator[Receiver]:
    r = Receiver(free_port())
    await r.start()
    yield r
    await r.stop()


def centre(port: int, account: str = PLAIN_ACCOUNT, **kw: Any) -> CentreConfig:
    key = {AES128_ACCOUNT: AES128_KEY, AES256_ACCOUNT: AES256_KEY}.get(account)
    if key is not None:
        if account == AES256_ACCOUNT:  # the hex of the ASCII bytes: the same key for pysiaalarm
            kw.setdefault("key", Secret(key.encode("ascii").hex()))
            kw.setdefault("key_format", "hex")
        else:
            kw.setdefault("key", Secret(key))
            kw.setdefault("key_format", "ascii")
    return CentreConfig(protocol="dc09", host="127.0.0.1", port=port, account=account, **kw)


class LinkLog:
    def __init__(self) -> None:
        self.calls: list[bool] = []
        self._changed = asyncio.Condition()

    async def __call__(self, up: bool) -> None:
        async with self._changed:
            self.calls.append(up)
            self._changed.notify_all()

    async def wait(self, calls: list[bool], timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.calls == calls), timeout)


def report(
    kind: ReportKind | str,
    *,
    restore: bool = False,
    zone: int | None = None,
    user: int | None = None,
    message_id: int = 1,
) -> OutgoingMessage:
    payload: dict[str, object] = {
        "code": kind,
        "restore": restore,
        "zone": f"z{zone}" if zone is not None else None,
        "zone_number": zone,
        "incident": "inc-1",
        "user": "anna" if user is not None else None,
        "user_number": user,
    }
    if kind == "periodic_test":
        payload.update(code="trouble", test=True)
    return OutgoingMessage(
        id=message_id,
        channel="centre",
        recipient="centre",
        address=None,
        language="en",
        subject="alarm",
        body="Alarm at home",
        short="Alarm",
        payload=payload,
        incident="inc-1",
    )


Channel = Callable[..., Awaitable[DC09Channel]]


@pytest.fixture
async def channels(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[DC09Channel]]]:
    """Builds entered DC09Channels (each its own sequence file unless given) and exits them."""
    opened: list[DC09Channel] = []

    async def make(config: CentreConfig, *, on_link: LinkLog | None = None, **kw: Any) -> DC09Channel:
        kw.setdefault("sequence_path", tmp_path / f"seq-{len(opened)}")
        channel = DC09Channel(config, on_link=on_link or LinkLog(), **kw)
        await channel.__aenter__()
        opened.append(channel)
        return channel

    yield make
    for channel in reversed(opened):
        await channel.__aexit__(None, None, None)


# --------------------------------------------------------------------------- every report reaches the receiver

CASES = [(kind, restore) for kind in REPORT_KINDS for restore in (False, True) if not (restore and kind in EVENT_ONLY)]


@pytest.mark.parametrize("fmt", ["cid", "sia"])
@pytest.mark.parametrize("account", [PLAIN_ACCOUNT, AES128_ACCOUNT, AES256_ACCOUNT])
async def test_every_report_kind_arrives_with_its_code(
    receiver: Receiver, channels: Channel, fmt: str, account: str
) -> None:
    channel = await channels(centre(receiver.port, account, format=fmt))
    for i, (kind, restore) in enumerate(CASES, start=1):
        zone, user = 10 + i, 20 + i
        outcome = await channel.send(report(kind, restore=restore, zone=zone, user=user))
        assert isinstance(outcome, Delivered), (kind, restore, outcome)
        event = (await receiver.wait_reports(i))[-1]
        assert event.account == account
        assert event.encrypted == (account != PLAIN_ACCOUNT)
        assert event.sequence == f"{i:04d}"
        number = f"{user if kind in USER_CODES else zone:03d}"
        if fmt == "cid":
            qualifier = "3" if kind in ("close", "close_stay") or restore else "1"
            assert kind_of(event) == "ADM-CID"
            # Assert on the event type: pysiaalarm names 154 and 384 "YN" (not in its table).
            assert (event.event_qualifier, event.event_type, event.partition, event.ri) == (
                qualifier,
                f"{CONTACT_ID[kind]:03d}",
                "01",
                number,
            ), kind
        else:
            new, restored = SIA_CODES[kind]
            assert kind_of(event) == "SIA-DCS"
            assert (event.code, event.ri, event.message) == (restored if restore else new, "1", number), kind
            assert event.sia_code is not None, f"pysiaalarm does not know SIA code {event.code}"
    assert len(receiver.reports()) == len(CASES)


async def test_test_link_sends_a_null(receiver: Receiver, channels: Channel) -> None:
    channel = await channels(centre(receiver.port, AES128_ACCOUNT))
    line = await channel.test_link()
    assert "ACKed a NULL poll" in line and "AES-128" in line and "\n" not in line
    nulls = [e for e in receiver.events if kind_of(e) == "NULL"]
    assert len(nulls) == 1 and nulls[0].code == "RP"


# --------------------------------------------------------------------------- NAK: clock resync and resend


@pytest.mark.parametrize("account", [PLAIN_ACCOUNT, AES128_ACCOUNT])
async def test_nak_resyncs_the_clock_and_resends(receiver: Receiver, channels: Channel, account: str) -> None:
    channel = await channels(centre(receiver.port, account), clock=lambda: time.time() - 7200)
    outcome = await channel.send(report("fire", zone=3))
    assert isinstance(outcome, Delivered), outcome
    events = await receiver.wait_reports(1)
    # The first frame (0001) was NAKed for its timestamp; the resend used a new sequence number.
    assert [e.sequence for e in events] == ["0002"]
    assert "seq 0002" in outcome.detail
    line = await channel.test_link()  # the offset stays learnt: no NAK this time
    skew = re.search(r"receiver clock \+(\d+) s from ours", line)
    assert skew is not None and 7190 <= int(skew[1]) <= 7210, line
    assert isinstance(await channel.send(report("fire", restore=True, zone=3)), Delivered)
    assert [e.sequence for e in await receiver.wait_reports(2)] == ["0002", "0004"]


# --------------------------------------------------------------------------- link supervision


async def test_receiver_down_then_back(receiver: Receiver, channels: Channel) -> None:
    link = LinkLog()
    channel = await channels(centre(receiver.port, AES128_ACCOUNT, supervision_interval=0.3), on_link=link)
    assert channel.max_backoff == 0.3
    assert isinstance(await channel.send(report("water", zone=1)), Delivered)

    await receiver.stop()
    outcome = await channel.send(report("water", restore=True, zone=1))
    assert isinstance(outcome, Transient), outcome
    assert "connection refused" in outcome.reason or "closed" in outcome.reason
    await link.wait([False])  # nothing ACKed for 2 supervision intervals
    with pytest.raises(DC09LinkError, match="unreachable"):
        await channel.test_link()

    await receiver.start()  # same port
    await link.wait([False, True])  # a NULL poll is ACKed again
    assert isinstance(await channel.send(report("water", restore=True, zone=1)), Delivered)
    events = await receiver.wait_reports(1)  # the restarted receiver's own log
    assert events[-1].event_type == "154" and events[-1].event_qualifier == "3"


async def test_never_reachable_goes_down_after_two_intervals(channels: Channel) -> None:
    link = LinkLog()
    channel = await channels(centre(free_port(), supervision_interval=0.2), on_link=link)
    assert isinstance(await channel.send(report("panic")), Transient)
    await link.wait([False])


async def test_failover_to_the_backup_receiver(receiver: Receiver, channels: Channel) -> None:
    config = centre(free_port(), PLAIN_ACCOUNT, backup_host="127.0.0.1", backup_port=receiver.port)
    channel = await channels(config)
    outcome = await channel.send(report("burglary", zone=4))
    assert isinstance(outcome, Delivered), outcome
    assert "backup" in outcome.detail
    assert (await receiver.wait_reports(1))[0].event_type == "130"
    # neither receiver: transient, naming both attempts
    await receiver.stop()
    outcome = await channel.send(report("burglary", restore=True, zone=4))
    assert isinstance(outcome, Transient) and "backup 127.0.0.1" in outcome.reason


# --------------------------------------------------------------------------- sequence numbers


async def test_sequence_numbers_persist_across_instances(receiver: Receiver, channels: Channel, tmp_path: Path) -> None:
    path = tmp_path / "centre.seq"
    first = await channels(centre(receiver.port), sequence_path=path)
    for _ in range(3):
        assert isinstance(await first.send(report("tamper", zone=2)), Delivered)
    await first.__aexit__(None, None, None)
    second = await channels(centre(receiver.port), sequence_path=path)
    assert isinstance(await second.send(report("tamper", restore=True, zone=2)), Delivered)
    events = await receiver.wait_reports(4)
    # Numbers are reserved a block at a time: a restart continues after the reserved block,
    # so it may skip numbers but never reuses one.
    block = dc09_channel.SEQUENCE_BLOCK
    assert [e.sequence for e in events] == ["0001", "0002", "0003", f"{block + 1:04d}"]
    assert path.read_text() == f"{2 * block:04d}\n"

    path.write_text("9990\n")  # reserves only up to 9999, then wraps to 0001, never 0000
    third = await channels(centre(receiver.port), sequence_path=path)
    for _ in range(10):
        assert isinstance(await third.send(report("tamper", zone=2)), Delivered)
    sequences = [e.sequence for e in (await receiver.wait_reports(14))[-10:]]
    assert sequences == [f"{n:04d}" for n in range(9991, 10000)] + ["0001"]
    assert path.read_text() == f"{block:04d}\n"


async def test_the_next_block_is_reserved_while_reports_go_on(
    receiver: Receiver, channels: Channel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's fsync must not sit in front of an alarm's report: past half a block, the next
    # block is written in the background while the reports still use the current one.
    path, block = tmp_path / "centre.seq", dc09_channel.SEQUENCE_BLOCK
    release, writes = threading.Event(), []
    real_write = dc09_channel._write_sequence

    def slow_write(target: Path, sequence: int) -> None:
        writes.append(sequence)
        if len(writes) > 1:
            assert release.wait(30), "the test never released the write"
        real_write(target, sequence)

    monkeypatch.setattr(dc09_channel, "_write_sequence", slow_write)
    channel = await channels(centre(receiver.port), sequence_path=path)
    for _ in range(block):  # the whole first block, the second one's write held up all along
        assert isinstance(await channel.send(report("tamper", zone=2)), Delivered)
    assert writes == [block, 2 * block] and path.read_text() == f"{block:04d}\n"
    release.set()
    assert isinstance(await channel.send(report("tamper", restore=True, zone=2)), Delivered)
    assert path.read_text() == f"{2 * block:04d}\n"
    events = await receiver.wait_reports(block + 1)
    assert [int(e.sequence) for e in events] == list(range(1, block + 2))


async def test_no_number_is_sent_unless_it_is_reserved_on_disk(
    receiver: Receiver, channels: Channel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, block = tmp_path / "centre.seq", dc09_channel.SEQUENCE_BLOCK
    real_write, failing = dc09_channel._write_sequence, [False]

    def write(target: Path, sequence: int) -> None:
        if failing[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(target, sequence)

    monkeypatch.setattr(dc09_channel, "_write_sequence", write)
    channel = await channels(centre(receiver.port), sequence_path=path)
    assert isinstance(await channel.send(report("tamper", zone=2)), Delivered)
    failing[0] = True  # the write ahead fails, then the one the send itself needs
    for _ in range(block - 1):
        assert isinstance(await channel.send(report("tamper", zone=2)), Delivered)
    outcome = await channel.send(report("fire"))
    assert isinstance(outcome, Transient) and "sequence file" in outcome.reason, outcome
    assert len(await receiver.wait_reports(block)) == block
    failing[0] = False  # the disk has room again: the same report goes, after the reserved block
    assert isinstance(await channel.send(report("fire")), Delivered)
    assert path.read_text() == f"{2 * block:04d}\n"
    assert (await receiver.wait_reports(block + 1))[-1].sequence == f"{block + 1:04d}"


# --------------------------------------------------------------------------- answers that are not ACK


async def test_unknown_account_is_transient_with_the_reason(receiver: Receiver, channels: Channel) -> None:
    # pysiaalarm answers an unframed '"NAK"' (no LF, CRC or CR) to an account it does not know
    channel = await channels(centre(receiver.port, "9999"), reply_timeout=3)
    outcome = await channel.send(report("fire"))
    assert isinstance(outcome, Transient) and "b'\"NAK\"'" in outcome.reason, outcome
    assert receiver.reports() == []


async def test_real_receiver_duh_decodes(receiver: Receiver) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    writer.write(encode_frame("SIA-DCS", f"#{PLAIN_ACCOUNT}|Nri1/QC001", sequence=5, account=PLAIN_ACCOUNT))
    raw = await asyncio.wait_for(reader.readuntil(b"\r"), 5)
    writer.close()
    await writer.wait_closed()
    reply = decode_reply(raw)
    assert (reply.id, reply.sequence) == ("DUH", 5)


async def test_duh_is_permanent(channels: Channel) -> None:
    async def answer_duh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r"):
            body = b'"DUH"0001R0L0#1234[]'
            writer.write(b"\n%04X%04X" % (_crc(body), len(body)) + body + b"\r")
            await writer.drain()

    server = await asyncio.start_server(answer_duh, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        channel = await channels(centre(port))
        outcome = await channel.send(report("fire"))
        assert isinstance(outcome, Permanent) and "DUH" in outcome.reason
    finally:
        server.close()


def _crc(body: bytes) -> int:
    from alarms.dc09 import crc16

    return crc16(body)


async def test_payload_that_is_not_a_report_is_permanent(channels: Channel) -> None:
    channel = await channels(centre(free_port()))
    outcome = await channel.send(report("smoke"))
    assert isinstance(outcome, Permanent) and "unknown code 'smoke'" in outcome.reason


# --------------------------------------------------------------------------- webhook


class WebhookPeer:
    """A centre's webhook endpoint: verifies the signature, answers what the test scripted."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.answers: list[web.Response] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Casahub-Signature", "")):
            return web.json_response({"error": "bad signature"}, status=401)
        if not request.headers.get("X-Casahub-Timestamp", "").isdigit():
            return web.json_response({"error": "no timestamp"}, status=400)
        self.received.append({"json": json.loads(body), "headers": dict(request.headers)})
        return self.answers.pop(0) if self.answers else web.json_response({"ok": True})


@pytest.fixture
async def webhook_peer() -> AsyncIterator[tuple[WebhookPeer, str]]:
    peer = WebhookPeer("s3cret")
    app = web.Application()
    app.router.add_post("/alarm", peer.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield peer, f"http://127.0.0.1:{port}/alarm"
    await runner.cleanup()


def webhook_config(url: str, secret: str = "s3cret") -> CentreConfig:
    return CentreConfig(protocol="webhook", url=url, secret=Secret(secret))


async def test_webhook_delivers_a_signed_report(webhook_peer: tuple[WebhookPeer, str]) -> None:
    peer, url = webhook_peer
    async with WebhookCentre(webhook_config(url), clock=lambda: 1_721_000_000.0) as hook:
        outcome = await hook.send(report("water", zone=5, message_id=77))
    assert isinstance(outcome, Delivered), outcome
    (got,) = peer.received
    body = got["json"]
    assert body["id"] == 77 and body["incident"] == "inc-1" and body["text"] == "Alarm at home"
    assert body["report"]["code"] == "water" and body["report"]["zone_number"] == 5
    assert body["timestamp"] == "2024-07-14T23:33:20+00:00"
    assert got["headers"]["X-Casahub-Timestamp"] == "1721000000"
    assert got["headers"]["X-Casahub-Message-Id"] == "77"


async def test_webhook_wrong_secret_is_permanent(webhook_peer: tuple[WebhookPeer, str]) -> None:
    peer, url = webhook_peer
    async with WebhookCentre(webhook_config(url, "not-the-secret")) as hook:
        outcome = await hook.send(report("fire"))
    assert isinstance(outcome, Permanent) and "401" in outcome.reason and "secret" in outcome.reason
    assert peer.received == []


@pytest.mark.parametrize(
    ("status", "headers", "expected", "retry_after"),
    [
        (503, {"Retry-After": "7"}, Transient, 7.0),
        (500, {}, Transient, None),
        (429, {"Retry-After": "Sun, 14 Jul 2024 23:34:20 GMT"}, Transient, 60.0),
        (408, {}, Transient, None),
        (400, {}, Permanent, None),
        (404, {}, Permanent, None),
        (302, {"Location": "https://elsewhere.example/"}, Permanent, None),
        (204, {}, Delivered, None),
    ],
)
async def test_webhook_status_classes(
    webhook_peer: tuple[WebhookPeer, str],
    status: int,
    headers: dict[str, str],
    expected: type,
    retry_after: float | None,
) -> None:
    peer, url = webhook_peer
    peer.answers.append(web.Response(status=status, headers=headers))
    async with WebhookCentre(webhook_config(url), clock=lambda: 1_721_000_000.0) as hook:
        outcome = await hook.send(report("panic"))
    assert isinstance(outcome, expected), outcome
    if isinstance(outcome, Transient):
        assert outcome.retry_after == retry_after


async def test_webhook_unreachable_is_transient() -> None:
    hook = WebhookCentre(webhook_config(f"http://127.0.0.1:{free_port()}/alarm"))
    outcome = await hook.send(report("panic"))  # also works without entering the context
    assert isinstance(outcome, Transient) and "unreachable" in outcome.reason
