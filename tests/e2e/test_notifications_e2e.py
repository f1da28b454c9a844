"""An alarm from the sensor to every person and to the centre, through the real transports and peers.

A demo hub (in-process, or a `casahub serve` subprocess where it must die by SIGKILL) is
configured with `tests.peers.household`: SMS through the Twilio double, email through aiosmtpd
(STARTTLS + AUTH, self-signed certificate the hub trusts as a system CA), Web Push to a push
service over HTTPS (the demo user subscribes through the API, as the dashboard does) and the
centre over DC-09 (AES-128) to the real pysiaalarm receiver.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.peers import free_port, wait_until
from tests.peers.household import CONTACT, SENDER, Household, household, logged_in, subscribe_app
from tests.peers.push import SUBJECT
from tests.peers.sia import AES128_ACCOUNT, require_pysiaalarm
from tests.peers.tls import trusted
from tests.peers.twilio import FROM

TRANSPORTS = {"sms": "twilio", "email": "smtp", "push": "webpush", "centre": "dc09"}
# What the water alarm says, per language: SMS (short), email body, email subject.
WATER_WORDS = {
    "en": ("WATER LEAK Sensore acqua (Cucina)", "Water leak alarm", "WATER LEAK - Sensore acqua (Cucina)"),
    "it": ("ALLARME ACQUA Sensore acqua (Cucina)", "Allarme allagamento", "ALLARME ACQUA - Sensore acqua (Cucina)"),
}
CID = {"water": "154", "fire": "110", "panic": "120", "trouble": "300"}


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


@pytest.fixture
def trust(peers: Household) -> Iterator[dict[str, str]]:
    with trusted(peers.cert) as env:
        yield env


async def running_hub(tmp_path: Path, config: Path) -> RunningHub:
    return await start_hub(tmp_path / "data", config)


async def rows_for(api: Api, incident: str) -> list[dict[str, Any]]:
    return list((await api.get(f"/api/v1/notifications?incident={incident}"))["items"])


async def settled_rows(api: Api, incident: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The incident's outbox rows once none due now is pending (a peer answers before the row is updated)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await rows_for(api, incident)
        if not any(r["state"] == "pending" for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.02)


async def open_incident(api: Api, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = (await api.get("/api/v1/incidents"))["items"]
        found = [i for i in items if i["kind"] == kind and i["state"] == "active"]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, items
            return dict(found[0])
        await asyncio.sleep(0.02)


def centre_codes(peers: Household, start: int = 0) -> list[tuple[str | None, str | None]]:
    """(qualifier, CID event code) of the reports pysiaalarm ACKed, from report number `start` on."""
    return [(e.event_qualifier, e.event_type) for e in peers.centre.reports()[start:]]


# --------------------------------------------------------------------------- one alarm, every channel


@pytest.mark.parametrize("language", ["en", "it"])
async def test_water_leak_reaches_every_channel_in_the_contacts_language(
    tmp_path: Path, peers: Household, trust: dict[str, str], language: str
) -> None:
    config = peers.write_config(tmp_path / "casahub.toml", language=language)
    hub = await running_hub(tmp_path, config)
    try:
        async with logged_in(hub.base) as api:
            browser = await subscribe_app(api, peers.push)
            water = await api.zone_id("water")

            await api.trigger(water)

            incident = await open_incident(api, "water")
            await wait_until(
                lambda: (
                    peers.twilio.sms() and peers.emails() and peers.pushes(incident["id"]) and peers.centre.reports()
                ),
                what="the SMS, the email, the push and the centre report",
            )
            rows = await settled_rows(api, incident["id"])
    finally:
        await hub.stop()

    now_rows = [r for r in rows if r["step"] == 0]
    assert sorted(r["channel"] for r in now_rows) == ["centre", "email", "push", "sms"]
    for row in now_rows:
        assert (row["state"], row["transport"]) == ("sent", TRANSPORTS[row["channel"]]), row
        assert row["attempts"] == 1 and row["last_error"] is None, row
    by_channel = {r["channel"]: r for r in now_rows}
    [reminder] = [r for r in rows if r["step"] != 0]
    assert (reminder["channel"], reminder["state"], reminder["transport"]) == ("sms", "scheduled", "twilio")

    sms_words, body_words, subject = WATER_WORDS[language]
    # The leak's own messages (the demo's valve closing sends "water shut off" too: see below).
    [sms] = [s for s in peers.twilio.sms() if s["Body"] == by_channel["sms"]["text"]]
    assert sms["To"] == CONTACT["phone"] and sms["From"] == FROM
    assert sms["Body"] == by_channel["sms"]["text"]
    assert sms_words in sms["Body"]

    [mail] = [m for m in peers.emails() if m.message["Subject"] == by_channel["email"]["subject"]]
    assert mail.tls and mail.authenticated
    assert mail.rcpt_tos == [CONTACT["email"]] and mail.mail_from == "hub@casa.example"
    message = mail.message
    assert message["Subject"] == by_channel["email"]["subject"] == subject
    assert message["To"].addresses[0].addr_spec == CONTACT["email"]
    assert str(message["From"]) == SENDER
    assert message["Content-Language"] == language
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert body_words in plain.get_content() and "Sensore acqua (Cucina)" in plain.get_content()
    page = rich.get_content()
    assert f'<html lang="{language}">' in page and body_words in page and "Sensore acqua (Cucina)" in page

    [push] = peers.pushes(incident["id"])
    assert peers.push.refusals == []
    assert push.token == browser.endpoint.rsplit("/", 1)[1]
    assert push.payload == {
        "title": subject,
        "body": by_channel["push"]["text"],
        "incident": incident["id"],
        "anomaly": None,
        "url": f"/#/incidents/{incident['id']}",
    }
    assert sms_words in push.payload["body"]
    assert push.headers["Urgency"] == "high" and push.headers["TTL"] == "3600"
    assert push.claims["sub"] == SUBJECT and push.claims["aud"] == peers.push.origin.rstrip("/")

    [report] = peers.centre.reports()
    assert report.account == AES128_ACCOUNT and report.encrypted
    assert (report.event_qualifier, report.event_type, report.partition) == ("1", CID["water"], "01")
    assert report.ri is not None and report.ri.isdigit() and len(report.ri) == 3  # the hub's water zone number


# --------------------------------------------------------------------------- kill -9 mid-delivery


def serve(data_dir: Path, config: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`casahub serve --demo` as its own process (output to `log`: a full pipe would stall it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "hub.cli", "serve", "--demo", "--config", str(config)),
                *("--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )


async def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                async with session.get(base + "/api/v1/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"hub did not become healthy:\n{output(log)}")


def output(log: Path) -> str:
    return log.read_text(errors="replace")


def kill_9(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


async def test_kill_9_mid_delivery_every_message_arrives_at_least_once(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    config = peers.write_config(tmp_path / "casahub.toml", language="it")
    data_dir, log = tmp_path / "data", tmp_path / "hub.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(data_dir, config, port, trust, log)
    try:
        await wait_healthy(base, proc, log)
        async with logged_in(base) as api:
            await subscribe_app(api, peers.push)
            water, panic = await api.zone_id("water"), await api.zone_id("panic")
            await peers.twilio.stop()  # Twilio unreachable: the SMS stay pending, retried with backoff

            await api.trigger(water)
            leak = await open_incident(api, "water")
            await wait_until(
                lambda: peers.emails() and peers.pushes(leak["id"]) and peers.centre.reports(), what="water delivered"
            )

            async def sms_failed() -> bool:
                rows = await rows_for(api, leak["id"])
                return any(r["channel"] == "sms" and r["step"] == 0 and r["attempts"] >= 1 for r in rows)

            for _ in range(500):
                if await sms_failed():
                    break
                await asyncio.sleep(0.02)
            [sms_row] = [r for r in await rows_for(api, leak["id"]) if r["channel"] == "sms" and r["step"] == 0]
            assert sms_row["state"] == "pending" and "twilio unreachable" in sms_row["last_error"], sms_row

            await api.trigger(panic)  # answers once the incident and its outbox rows are committed
            emergency = await open_incident(api, "panic")
        kill_9(proc)  # while the panic messages are going out
    finally:
        kill_9(proc)
    assert proc.returncode == -signal.SIGKILL
    assert not peers.twilio.sms(), "Twilio was down: no SMS can have arrived yet"
    db = sqlite3.connect(data_dir / "casahub.db")
    pending = db.execute(
        "SELECT incident FROM outbox WHERE state = 'pending' AND channel = 'sms' AND step = 0"
        " AND incident IS NOT NULL"  # the demo valve's "water shut off" SMS is pending too; not an incident's
    ).fetchall()
    db.close()
    assert sorted(row[0] for row in pending) == sorted([leak["id"], emergency["id"]])

    await peers.twilio.start()  # same port: the config's base_url
    proc = serve(data_dir, config, port, trust, log)
    try:
        await wait_healthy(base, proc, log)
        async with logged_in(base) as api:
            incidents = {leak["id"]: "water", emergency["id"]: "panic"}

            async def all_sent() -> bool:
                for incident in incidents:
                    if any(r["state"] != "sent" for r in await rows_for(api, incident) if r["step"] == 0):
                        return False
                return True

            # the water SMS waits out the backoff of its failed attempt before the kill (seconds)
            deadline = time.monotonic() + 30
            while not await all_sent():
                assert time.monotonic() < deadline, "not every message was sent after the restart"
                await asyncio.sleep(0.05)
            rows = {i: await settled_rows(api, i) for i in incidents}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            kill_9(proc)
    assert proc.returncode == 0, output(log)

    for incident, kind in incidents.items():
        now_rows = [r for r in rows[incident] if r["step"] == 0]
        assert sorted(r["channel"] for r in now_rows) == ["centre", "email", "push", "sms"], kind
        for row in now_rows:
            assert (row["state"], row["transport"]) == ("sent", TRANSPORTS[row["channel"]]), row
    texts = {r["text"] for i in incidents for r in rows[i] if r["channel"] == "sms" and r["step"] == 0}
    assert len(texts) == 2 and texts <= {s["Body"] for s in peers.twilio.sms()}  # each SMS, word for word
    assert any(WATER_WORDS["it"][0] in text for text in texts)
    subjects = {r["subject"] for i in incidents for r in rows[i] if r["channel"] == "email"}
    assert subjects <= {str(m.message["Subject"]) for m in peers.emails()}
    for incident in incidents:
        assert peers.pushes(incident), incident
    codes = centre_codes(peers)
    assert ("1", CID["water"]) in codes and ("1", CID["panic"]) in codes


# --------------------------------------------------------------------------- the centre down and back


async def active_anomalies(api: Api, kind: str) -> list[dict[str, Any]]:
    return [a for a in (await api.get("/api/v1/anomalies"))["items"] if a["kind"] == kind]


async def test_centre_down_raises_centre_unreachable_then_delivers_the_queue_in_order(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    interval = 1.0
    config = peers.write_config(tmp_path / "casahub.toml", supervision_interval=interval)
    hub = await running_hub(tmp_path, config)
    try:
        async with logged_in(hub.base) as api:
            water, smoke = await api.zone_id("water"), await api.zone_id("smoke")
            await wait_until(lambda: peers.centre.events, 3 * interval, "a first NULL poll ACKed")

            await peers.centre.stop()
            down_at = time.monotonic()
            before = len(peers.centre.reports())
            await api.trigger(water)  # alarm
            await api.trigger(water, active=False)  # restore
            await api.trigger(smoke)  # another alarm
            leak, fire = await open_incident(api, "water"), await open_incident(api, "fire")

            for _ in range(int(10 / 0.05)):
                if await active_anomalies(api, "centre_unreachable"):
                    break
                await asyncio.sleep(0.05)
            [anomaly] = await active_anomalies(api, "centre_unreachable")
            # raised once nothing was ACKed for 2 supervision intervals, not before
            assert time.monotonic() - down_at >= interval
            assert anomaly["state"] == "active" and anomaly["manual"]["steps"]
            await asyncio.sleep(3 * interval)  # down for a few supervision intervals
            centre_rows = [r for r in (await api.get("/api/v1/notifications"))["items"] if r["channel"] == "centre"]
            queued = [r for r in centre_rows if r["state"] == "pending"]
            assert {leak["id"], fire["id"]} <= {r["incident"] for r in queued}
            first = min(queued, key=lambda r: int(r["id"]))
            assert first["incident"] == leak["id"] and first["attempts"] >= 3, first  # retried every interval
            assert len(peers.centre.reports()) == before

            await peers.centre.start()  # same port
            for _ in range(int(10 / 0.05)):
                if not await active_anomalies(api, "centre_unreachable"):
                    break
                await asyncio.sleep(0.05)
            assert not await active_anomalies(api, "centre_unreachable")
            cleared = [a for a in (await api.get("/api/v1/anomalies?state=all"))["items"] if a["id"] == anomaly["id"]]
            assert cleared[0]["state"] == "resolved" and cleared[0]["closed_at"]

            async def centre_settled() -> list[dict[str, Any]]:
                rows = [r for r in (await api.get("/api/v1/notifications"))["items"] if r["channel"] == "centre"]
                return rows if all(r["state"] == "sent" for r in rows) else []

            for _ in range(int(10 / 0.05)):
                if await centre_settled():
                    break
                await asyncio.sleep(0.05)
            sent = await centre_settled()
            assert sent, "the queued centre reports were not all sent"
    finally:
        await hub.stop()

    after = peers.centre.reports()[before:]
    codes = centre_codes(peers, before)
    # In the order they were written: the water alarm, its restore, the fire alarm, then the
    # trouble report of centre_unreachable itself (queued behind them) and its restore.
    assert codes[:3] == [("1", CID["water"]), ("3", CID["water"]), ("1", CID["fire"])], codes
    assert codes[3:] == [("1", CID["trouble"]), ("3", CID["trouble"])], codes
    assert len(after) == len([r for r in sent if int(r["id"]) >= int(first["id"])])  # each once
    sequences = [int(str(e.sequence)) for e in after]
    assert sequences == sorted(sequences)
