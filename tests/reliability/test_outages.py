"""Peers going down under a running hub, with every real peer configured: nothing is lost.

A demo hub (`tests.conftest.start_hub`, the real `Daemon` in this process) is configured with
`tests.peers.household` (Twilio double, aiosmtpd, push service, pysiaalarm) and, where the test
needs it, a zigbee2mqtt driver on the real Mosquitto broker or a NUT driver on the real upsd:

- the SMTP server down while an alarm happens: the email rows stay pending with attempts and
  last_error, `channel_failure` for "email" after 3 failed attempts; back up: delivered, cleared;
- Twilio answering 500, then 429 (Retry-After): retried with backoff, each person's SMS in order;
- the MQTT broker restarted under a paired zigbee2mqtt water sensor: its next leak still alarms;
- the NUT server killed: the UPS goes offline (no power alarm), and comes back online.
In each, every alarm's messages end `sent`.

The centre down for several supervision intervals (centre_unreachable, then every queued report
in order) is tests/e2e/test_notifications_e2e.py::
test_centre_down_raises_centre_unreachable_then_delivers_the_queue_in_order; not repeated here.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.peers.household import CONTACT, Household, household, logged_in, subscribe_app
from tests.peers.mosquitto import Mosquitto
from tests.peers.nut import NutServer, require_nut
from tests.peers.sia import require_pysiaalarm
from tests.peers.smtp_restartable import RestartableSmtp
from tests.peers.tls import trusted

STEP0 = ("centre", "email", "push", "sms")


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


@pytest.fixture
def trust(peers: Household) -> Iterator[dict[str, str]]:
    with trusted(peers.cert) as env:
        yield env


async def eventually(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll `check` (sync or async) until it gives something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def rows_for(api: Api, incident: str) -> list[dict[str, Any]]:
    return list((await api.get(f"/api/v1/notifications?incident={incident}"))["items"])


async def incident_of(api: Api, kind: str, zone: str | None = None) -> dict[str, Any] | None:
    for item in (await api.get("/api/v1/incidents"))["items"]:
        if item["kind"] == kind and (zone is None or any(a["zone"] == zone for a in item["activations"])):
            return dict(item)
    return None


async def anomalies_of(api: Api, kind: str, subject: str | None = None, state: str = "active") -> list[dict[str, Any]]:
    items = (await api.get(f"/api/v1/anomalies?state={state}"))["items"]
    return [a for a in items if a["kind"] == kind and (subject is None or a["subject"] == subject)]


async def all_sent(api: Api, incident: str) -> list[dict[str, Any]]:
    """The incident's rows once every row due now is sent (the reminder stays scheduled)."""

    async def check() -> list[dict[str, Any]]:
        rows = await rows_for(api, incident)
        now_rows = [r for r in rows if r["step"] == 0]
        done = sorted(r["channel"] for r in now_rows) == list(STEP0) and all(r["state"] == "sent" for r in now_rows)
        return rows if done else []

    rows = await eventually(check, f"every message of {incident} sent", timeout=30)
    assert all(r["state"] == "scheduled" for r in rows if r["step"] != 0), rows
    return list(rows)


async def history(api: Api, row: dict[str, Any]) -> list[dict[str, Any]]:
    return list((await api.get(f"/api/v1/notifications/{row['id']}"))["history"])


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def hub_for(tmp_path: Path, peers: Household, extra: str = "") -> RunningHub:
    config = peers.write_config(tmp_path / "casahub.toml")
    if extra:
        with config.open("a", encoding="utf-8") as fh:
            fh.write("\n" + extra)
    return await start_hub(tmp_path / "data", config)


# --------------------------------------------------------------------------- SMTP down


async def test_smtp_down_keeps_email_pending_raises_channel_failure_then_delivers(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    smtp = RestartableSmtp(peers.cert)
    peers.smtp = smtp.server  # the config and peers.emails() use this server
    hub = await hub_for(tmp_path, peers)  # SMTP not started: down from the beginning
    try:
        async with logged_in(hub.base) as api:
            await subscribe_app(api, peers.push)
            water = await api.zone_id("water")
            await api.trigger(water)
            leak = await eventually(lambda: incident_of(api, "water"), "the water incident")

            async def email_failing(times: int) -> dict[str, Any] | None:
                rows = [r for r in await rows_for(api, leak["id"]) if r["channel"] == "email"]
                return rows[0] if rows and rows[0]["attempts"] >= times else None

            # backoff 2 s, 4 s (+-20 %): the third attempt some 6 s after the first
            row = await eventually(lambda: email_failing(3), "three failed email attempts", timeout=15)
            assert row["state"] == "pending" and row["transport"] == "smtp", row
            assert row["last_error"] and str(smtp.server.port) in row["last_error"], row
            outcomes = [h["outcome"] for h in await history(api, row)]
            assert outcomes[:3] == ["transient"] * 3, outcomes
            # the other channels did not wait for email
            others = {r["channel"]: r["state"] for r in await rows_for(api, leak["id"]) if r["step"] == 0}
            assert others == {"sms": "sent", "push": "sent", "centre": "sent", "email": "pending"}, others

            [failure] = await eventually(
                lambda: anomalies_of(api, "channel_failure", "email"), "channel_failure for email", timeout=5
            )
            assert failure["state"] == "active" and failure["manual"]["steps"], failure
            third = (await history(api, row))[2]
            assert _epoch(failure["opened_at"]) >= _epoch(third["at"]), (failure, third)  # not before the 3rd
            assert not peers.emails()

            smtp.start()
            rows = await all_sent(api, leak["id"])
            [email] = [r for r in rows if r["channel"] == "email"]
            assert email["attempts"] >= 4 and email["last_error"] is None, email
            mails = await eventually(peers.emails, "the water email at the server")
            assert str(mails[0].message["Subject"]) == email["subject"]
            assert mails[0].rcpt_tos == [CONTACT["email"]]

            async def cleared() -> bool:
                return not await anomalies_of(api, "channel_failure", "email")

            await eventually(cleared, "channel_failure cleared", timeout=10)
            [closed] = [
                a for a in await anomalies_of(api, "channel_failure", "email", "all") if a["id"] == failure["id"]
            ]
            assert closed["state"] == "resolved" and closed["closed_at"], closed

            # The anomaly's own messages (email included, queued behind the water email) go out too.
            async def anomaly_rows_sent() -> list[dict[str, Any]]:
                items = (await api.get("/api/v1/notifications"))["items"]
                mine = [r for r in items if r["anomaly"] == failure["id"]]
                return mine if mine and all(r["state"] == "sent" for r in mine) else []

            sent = await eventually(anomaly_rows_sent, "the channel_failure messages sent", timeout=15)
            assert {r["channel"] for r in sent} == {"sms", "push", "email"}, sent

            async def settled() -> bool:
                items = (await api.get("/api/v1/notifications"))["items"]
                # (a push sent before the app subscribed had nobody to go to: dead, and rightly so)
                no_app = [r for r in items if (r["last_error"] or "").startswith("no app subscribed")]
                return not [r for r in items if r["state"] in ("pending", "dead") and r not in no_app]

            await eventually(settled, "every message sent", timeout=10)
            # The centre heard of the trouble and of its end (CID 300, new and restore).
            codes = [(e.event_qualifier, e.event_type) for e in peers.centre.reports()]
            assert ("1", "300") in codes and ("3", "300") in codes, codes
    finally:
        await hub.stop()
        smtp.stop()


# --------------------------------------------------------------------------- Twilio 500, then 429


async def test_twilio_errors_are_retried_with_backoff_and_sms_stay_in_order(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    peers.twilio.forced = [
        (500, 20500, "Internal Server Error", {}),
        (429, 20429, "Too Many Requests", {"Retry-After": "1"}),
    ]
    hub = await hub_for(tmp_path, peers)
    try:
        async with logged_in(hub.base) as api:
            await subscribe_app(api, peers.push)  # the household's app: push is delivered, not dead
            water, smoke = await api.zone_id("water"), await api.zone_id("smoke")
            await api.trigger(water)
            leak = await eventually(lambda: incident_of(api, "water"), "the water incident")
            await api.trigger(smoke)
            fire = await eventually(lambda: incident_of(api, "fire"), "the fire incident")

            leak_rows = await all_sent(api, leak["id"])
            fire_rows = await all_sent(api, fire["id"])
            assert not peers.twilio.forced, "both forced errors were answered"
            [leak_sms] = [r for r in leak_rows if r["channel"] == "sms" and r["step"] == 0]
            [fire_sms] = [r for r in fire_rows if r["channel"] == "sms" and r["step"] == 0]
            attempts = await history(api, leak_sms)
            assert [a["outcome"] for a in attempts] == ["transient", "transient", "delivered"], attempts
            assert "500" in attempts[0]["detail"] and "429" in attempts[1]["detail"], attempts
            assert leak_sms["attempts"] == 3 and leak_sms["last_error"] is None, leak_sms
            fire_attempts = await history(api, fire_sms)
            assert [a["outcome"] for a in fire_attempts] == ["delivered"], fire_attempts
            assert not await anomalies_of(api, "channel_failure", "sms")  # two failures are not yet trouble
    finally:
        await hub.stop()

    # Backoff: ~2 s after the 500, ~4 s after the 429 (its Retry-After of 1 s is shorter).
    # The two alarms' SMS (the demo's valve also sends "water shut off" after the leak: not timed here).
    alarms = (leak_sms["text"], fire_sms["text"])
    tried = [s for s in peers.twilio.requests if s.path.endswith("/Messages.json") and s.form["Body"] in alarms]
    bodies = [s.form["Body"] for s in tried]
    assert bodies == [leak_sms["text"]] * 3 + [fire_sms["text"]], bodies
    assert 1.5 <= tried[1].at - tried[0].at and 3.0 <= tried[2].at - tried[1].at, [s.at for s in tried]
    # In order for the person: the fire SMS waited behind the water SMS being retried.
    assert [f["Body"] for f in peers.twilio.sms() if f["Body"] in alarms] == [leak_sms["text"], fire_sms["text"]]
    assert tried[3].at >= tried[2].at
    assert _epoch(fire_sms["sent_at"]) >= _epoch(leak_sms["sent_at"])


# --------------------------------------------------------------------------- MQTT broker restart

IEEE = "0x00158d0001a2b3c4"
FRIENDLY = "Bagno acqua"


def _device_list() -> list[dict[str, Any]]:
    battery = [
        {"access": 1, "name": "battery", "property": "battery", "type": "numeric", "unit": "%"},
        {"access": 1, "name": "linkquality", "property": "linkquality", "type": "numeric", "unit": "lqi"},
    ]
    leak = {"access": 1, "name": "water_leak", "property": "water_leak", "type": "binary"}
    return [
        {"ieee_address": "0x00124b0018e2a1b0", "friendly_name": "Coordinator", "type": "Coordinator"},
        {
            "ieee_address": IEEE,
            "friendly_name": FRIENDLY,
            "type": "EndDevice",
            "power_source": "Battery",
            "interview_completed": True,
            "supported": True,
            "disabled": False,
            "model_id": "lumi.sensor_wleak.aq1",
            "definition": {"model": "SJCGQ11LM", "vendor": "Aqara", "description": "", "exposes": [leak, *battery]},
        },
    ]


async def _publish(broker: Mosquitto, topic: str, payload: Any, *, retain: bool = False) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as z2m:
        await z2m.publish(f"zigbee2mqtt/{topic}", json.dumps(payload), qos=1, retain=retain)


async def test_mqtt_broker_restart_then_a_leak_still_raises_a_water_incident(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    broker = Mosquitto(tmp_path / "mosquitto")
    await broker.start()
    hub = await hub_for(
        tmp_path, peers, f'[[drivers]]\ntype = "zigbee2mqtt"\nhost = "127.0.0.1"\nport = {broker.port}\n'
    )
    try:
        async with logged_in(hub.base) as api:
            await subscribe_app(api, peers.push)  # the household's app: push is delivered, not dead
            status, device = await api.post(
                "/api/v1/devices",
                {
                    "driver": "zigbee2mqtt",
                    "address": IEEE,
                    "name": "Sensore lavatrice",
                    "room": "Bagno",
                    "new_room": True,  # a hub with no room yet (issue 17: rooms are created on purpose)
                    "zones": [{"kind": "water"}],
                },
            )
            assert status == 201, device
            [zone] = device["zones"]

            async def heard_since(mark: str | None) -> str | None:
                [found] = [d for d in (await api.get("/api/v1/devices"))["items"] if d["id"] == device["id"]]
                seen = found["last_seen"]
                return seen if seen is not None and seen != mark else None

            async def report(mark: str | None) -> str:
                """Publish a dry state until the hub has heard it (the driver may be reconnecting)."""

                async def once() -> str | None:
                    await _publish(broker, FRIENDLY, {"water_leak": False, "battery": 97, "linkquality": 120})
                    await asyncio.sleep(0.2)
                    return await heard_since(mark)

                return str(await eventually(once, "the sensor's report through the driver", timeout=15))

            await _publish(broker, "bridge/devices", _device_list(), retain=True)
            seen = await report(None)

            broker.kill()
            await asyncio.sleep(0.5)  # the driver notices and starts reconnecting
            await broker.start()
            # The restarted broker kept nothing (no persistence): zigbee2mqtt republishes its list.
            await _publish(broker, "bridge/devices", _device_list(), retain=True)
            await asyncio.sleep(1.1)  # last_seen has a resolution of one second
            await report(seen)
            assert not await incident_of(api, "water")

            await _publish(broker, FRIENDLY, {"water_leak": True, "battery": 97, "linkquality": 118})
            leak = await eventually(lambda: incident_of(api, "water", zone), "the water incident after the restart")
            assert [a["zone"] for a in leak["activations"]] == [zone]
            await all_sent(api, leak["id"])
    finally:
        await hub.stop()
        broker.kill()


# --------------------------------------------------------------------------- NUT server killed


async def test_nut_server_killed_ups_goes_offline_without_alarm_and_comes_back(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    require_nut()
    nut = NutServer(tmp_path / "nut")
    await nut.start()
    extra = (
        f'[[drivers]]\ntype = "nut"\nhost = "127.0.0.1"\nport = {nut.port}\nups = "{nut.ups}"\n'
        f'username = "{nut.username}"\npassword = "{nut.password}"\ndebounce = 1\npoll = 0.3\ntimeout = 2\n'
    )
    hub = await hub_for(tmp_path, peers, extra)
    try:
        async with logged_in(hub.base) as api:
            await subscribe_app(api, peers.push)  # the household's app: push is delivered, not dead
            [ups] = [d for d in (await api.get("/api/v1/devices"))["items"] if d["driver"] == "nut"]
            [zone_id] = ups["zones"]

            async def zone_online(wanted: bool) -> bool:
                zone = await api.get(f"/api/v1/zones/{zone_id}")
                assert zone["kind"] == "power" and not zone["active"], zone
                return bool(zone["online"] is wanted)

            async def device_online(wanted: bool) -> bool:
                [found] = [d for d in (await api.get("/api/v1/devices"))["items"] if d["id"] == ups["id"]]
                return bool(found["online"] is wanted)

            await eventually(lambda: device_online(True), "the UPS polled", timeout=10)
            await eventually(lambda: zone_online(True), "the UPS zone online", timeout=10)

            await nut.stop_upsd()
            await eventually(lambda: zone_online(False), "the UPS zone offline", timeout=10)
            assert await device_online(False)
            assert not await incident_of(api, "power"), "a NUT server that is gone is not a power cut"

            await nut.start_upsd()
            await eventually(lambda: zone_online(True), "the UPS zone back online", timeout=15)
            assert await device_online(True)
            everything = (await api.get("/api/v1/incidents?state=all"))["items"]
            assert not [i for i in everything if i["kind"] == "power"], everything
    finally:
        await hub.stop()
        await nut.stop()


# --------------------------------------------------------------------------- found while writing the above


async def test_channel_failure_raised_before_a_restart_is_cleared_after_it(
    tmp_path: Path, peers: Household, trust: dict[str, str]
) -> None:
    smtp = RestartableSmtp(peers.cert)
    peers.smtp = smtp.server
    hub = await hub_for(tmp_path, peers)  # SMTP down
    try:
        async with logged_in(hub.base) as api:
            await subscribe_app(api, peers.push)  # the household's app: push is delivered, not dead
            await api.trigger(await api.zone_id("water"))
            await eventually(
                lambda: anomalies_of(api, "channel_failure", "email"), "channel_failure for email", timeout=15
            )
    finally:
        await hub.stop()
    # The installer adds a second person meanwhile: a new alarm's email to them is not queued behind
    # the first person's email (still waiting out its backoff), so it goes out at once.
    with (tmp_path / "casahub.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[contacts]]\nname = "Bruno Rossi"\nemail = "bruno@casa.example"\nlanguage = "en"\npush = false\n')
    hub = await start_hub(tmp_path / "data", tmp_path / "casahub.toml")  # same data dir: a restart
    smtp.start()
    try:
        async with logged_in(hub.base) as api:
            await subscribe_app(api, peers.push)  # the household's app: push is delivered, not dead
            await api.trigger(await api.zone_id("smoke"))
            fire = await eventually(lambda: incident_of(api, "fire"), "the fire incident")

            async def bruno_mailed() -> bool:
                rows = await rows_for(api, fire["id"])
                return any(
                    r["channel"] == "email" and r["recipient"] == "Bruno Rossi" and r["state"] == "sent" for r in rows
                )

            await eventually(bruno_mailed, "the fire email to the second person", timeout=10)
            assert any("bruno@casa.example" in m.rcpt_tos for m in peers.emails())

            async def cleared() -> bool:
                return not await anomalies_of(api, "channel_failure", "email")

            await eventually(cleared, "channel_failure cleared by the delivery after the restart", timeout=2)
    finally:
        await hub.stop()
        smtp.stop()
