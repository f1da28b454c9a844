"""Alarm codes (issue 13, section 4) through running daemons and real peers.

- 10 wrong codes over MQTT within an hour (a real Mosquitto, the export the daemon starts from
  `[mqtt_export]`): the MQTT caller is locked 90 s, then 180 s, then 360 s (the hub's clock is
  moved past each lock; a command while locked is refused unchecked and does not count), and the
  10th wrong code tells the household by SMS (Twilio double), email (aiosmtpd) and app push (push
  service), and the centre (the real pysiaalarm receiver ACKs Contact ID 1461, wrong code entry).
- Wrong codes from the dashboard, a script with a token, the CLI and another member count
  together: the 10th, from a caller never locked, raises the alert (demo hub, `log` transports).
- A lock survives `kill -9`: a `casahub serve` child process (tests/reliability/hub_process.py)
  locks the dashboard user and MQTT, is killed, restarts, and both are still locked, the right
  code included (the API answers 429 with Retry-After, MQTT `locked`).

mosquitto missing: a failure under CI=true, a one-line skip ("apt-get install mosquitto") otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.store.accounts import Accounts
from hub.store.db import open_sync
from hub.system.discovery import hub_id
from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until
from tests.peers.household import Household, household, logged_in, subscribe_app
from tests.peers.mosquitto import Mosquitto
from tests.peers.sia import kind_of, require_pysiaalarm
from tests.peers.tls import trusted
from tests.reliability.hub_process import HubProcess

CODE = "12345"  # the demo owner's alarm code
ROOT = Path(__file__).resolve().parents[2]
PREFIX = "homeassistant"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path / "mosquitto")
    await mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.kill()


class HomeAssistant:
    """The MQTT side: sends commands as HA's command_template renders them, reads the results."""

    def __init__(self, client: aiomqtt.Client, base: str) -> None:
        self.client = client
        self.base = base
        self.results: list[dict[str, Any]] = []
        self.online = False

    async def pump(self) -> None:
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if message.topic.value == f"{self.base}/alarm/result":
                self.results.append(json.loads(payload))
            elif message.topic.value == f"{self.base}/status":
                self.online = payload == b"online"

    async def command(self, action: str, code: str) -> str:
        before = len(self.results)
        await self.client.publish(f"{self.base}/alarm/set", json.dumps({"action": action, "code": code}), qos=1)
        await wait_until(lambda: len(self.results) > before, what=f"the result of {action}")
        return str(self.results[-1]["result"])


@contextlib.asynccontextmanager
async def home_assistant(broker: Mosquitto, data_dir: Path) -> AsyncIterator[HomeAssistant]:
    base = f"{PREFIX}/casahub/{hub_id(data_dir)}"
    async with aiomqtt.Client(broker.host, broker.port) as client:
        ha = HomeAssistant(client, base)
        await client.subscribe(f"{base}/#", qos=1)
        task = asyncio.create_task(ha.pump())
        try:
            await wait_until(lambda: ha.online, timeout=15, what="the hub's export online")
            yield ha
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _mqtt_export(broker: Mosquitto) -> str:
    return f'\n[mqtt_export]\nhost = "{broker.host}"\nport = {broker.port}\n'


# --------------------------------------------------------------------------- 10 wrong codes over MQTT


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


async def test_ten_wrong_codes_over_mqtt_tell_the_household_and_the_centre(
    tmp_path: Path, peers: Household, broker: Mosquitto
) -> None:
    config = peers.write_config(tmp_path / "casahub.toml", language="it", supervision_interval=3600)
    # Moving the clock past the locks must not make sensors look silent.
    config.write_text(config.read_text() + "\n[alarm]\noffline_grace = 7200\n" + _mqtt_export(broker))
    offset = [0.0]
    data = tmp_path / "data"
    with trusted(peers.cert):
        running = await start_hub(data, config, clock=lambda: time.time() + offset[0])
        try:
            async with logged_in(running.base) as api, home_assistant(broker, data) as ha:
                await subscribe_app(api, peers.push)
                results: list[str] = []
                for lock in (90, 180, 360):
                    results += [await ha.command("DISARM", f"0000{i}") for i in range(3)]
                    # Locked: refused without a check (the right code too), and not counted.
                    assert await ha.command("DISARM", CODE) == "locked"
                    offset[0] += lock - 5
                    assert await ha.command("ARM_AWAY", CODE) == "locked", f"the {lock} s lock ended early"
                    offset[0] += 6
                assert results == ["bad_code", "bad_code", "locked"] * 3
                assert await _wrong_codes_events(api) == []  # 9 so far
                assert await ha.command("DISARM", "99999") == "bad_code"  # the 10th within the hour

                events = await _wrong_codes_events(api)
                assert len(events) == 1 and events[0]["actor"] == "MQTT (Home Assistant)", events
                sent = await _wait_sent(api, "event.wrong_codes", {"sms", "email", "push"})
                centre = await _wait_sent(api, "centre.wrong_code", {"centre"})
                assert len(centre) == 1
                # Every bad code was audited, the locked attempts were not even checked.
                bad = await api.get("/api/v1/events?kind=bad_code&limit=100")
                assert len(bad["items"]) == 10
                # The lock is the MQTT caller's: the dashboard user may still disarm.
                status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
                assert status == 200, body
        finally:
            await running.stop()

    sms = [m for m in peers.twilio.accepted if "Messages.json" in m.path]
    assert any("10 codici d'allarme errati" in m.form["Body"] for m in sms), [m.form["Body"] for m in sms]
    assert any("MQTT (Home Assistant)" in m.form["Body"] for m in sms)
    subjects = [str(r.message["Subject"]) for r in peers.emails()]
    assert any("Troppi codici d'allarme errati" in s for s in subjects), subjects
    assert len([m for m in sent if m["channel"] == "push"]) == 1 and peers.push.deliveries
    reports = [e for e in peers.centre.reports() if kind_of(e) == "ADM-CID" and e.event_type == "461"]
    assert len(reports) == 1, [(kind_of(e), e.event_qualifier, e.event_type) for e in peers.centre.reports()]
    assert (reports[0].event_qualifier, reports[0].ri) == ("1", "000")  # new event; MQTT is not a user


async def _wrong_codes_events(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/api/v1/events?kind=wrong_codes"))["items"]
    return items


async def _wait_sent(api: Api, template: str, channels: set[str], timeout: float = 20) -> list[dict[str, Any]]:
    """The notifications of `template`, once one is `sent` on each of `channels`."""
    deadline = time.monotonic() + timeout
    while True:
        items = [n for n in (await api.get("/api/v1/notifications"))["items"] if n["template"] == template]
        if {n["channel"] for n in items if n["state"] == "sent"} >= channels:
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"{template} not sent on {channels}: {items}")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- dashboard, API and CLI together


def casahub(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI; the alarm code goes on standard input (never an argument)."""
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


async def test_wrong_codes_from_the_dashboard_the_api_and_the_cli_count_together(tmp_path: Path) -> None:
    running = await start_hub(tmp_path / "data")
    try:
        await asyncio.to_thread(_add_member, running)
        accounts = Accounts(open_sync(running.data_dir / "casahub.db"))
        try:
            made = [await asyncio.to_thread(accounts.create_token, "member", username=user) for user in (None, "bruno")]
            token_ids, tokens = [i for i, _ in made], [t for _, t in made]
        finally:
            accounts.conn.close()
        async with logged_in(running.base) as dashboard, aiohttp.ClientSession() as session:
            # The dashboard user: 403 bad_code twice, then 429 locked with Retry-After (the HTTP contract).
            for expected in (403, 403, 429):
                status, body = await dashboard.post("/api/v1/system/disarm", {"code": "00000"})
                assert status == expected, body
            assert body["error"] == "locked" and 0 < int(dashboard.last_headers["Retry-After"]) <= 91
            # The CLI (a member token): the same three, in its words.
            for _ in range(3):
                r = await asyncio.to_thread(
                    casahub, "disarm", "--hub", running.base, "--token", tokens[0], stdin="11111\n"
                )
                assert r.returncode != 0
            assert "too many wrong codes" in r.stderr, r.stderr
            # The household's other member logs in and mistypes once (7).
            async with logged_in(running.base, "bruno", "bruno-pass") as bruno:
                status, body = await bruno.post("/api/v1/system/disarm", {"code": "33333"})
                assert status == 403 and body["error"] == "bad_code", body
            # A script with bruno's token: its third wrong code is the 10th within the hour; its
            # fourth is refused unchecked.
            api = Api(running.base, session)
            for i, expected in enumerate((403, 403, 429, 429)):
                assert await _wrong_codes_events(dashboard) == [] or i == 3
                status, body = await api.request(
                    "POST", "/api/v1/system/disarm", {"code": "22222"}, headers={"Authorization": f"Bearer {tokens[1]}"}
                )
                assert status == expected, body
            events = await _wrong_codes_events(dashboard)
            assert [(e["actor"], e["data"]["detail"]) for e in events] == [
                (f"bruno (token:{token_ids[1]})", "10 wrong codes within an hour")
            ]
            items = (await dashboard.get("/api/v1/notifications"))["items"]
            household = {n["channel"] for n in items if n["template"] == "event.wrong_codes"}
            assert {"sms", "email", "push"} <= household, items
            assert [n["channel"] for n in items if n["template"] == "centre.wrong_code"] == ["centre"]
            # The alert lifts no lock.
            status, _ = await dashboard.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 429
    finally:
        await running.stop()


def _add_member(running: RunningHub) -> None:
    accounts = Accounts(open_sync(running.data_dir / "casahub.db"))
    try:
        accounts.add_user("bruno", "bruno-pass", "member", code="97531")
    finally:
        accounts.conn.close()


# --------------------------------------------------------------------------- kill -9


async def test_a_lock_survives_kill_9(tmp_path: Path, broker: Mosquitto) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text(_mqtt_export(broker))
    data = tmp_path / "data"
    process = HubProcess(data, config, env=dict(os.environ), log=tmp_path / "hub.log")
    await process.start()
    try:
        async with logged_in(process.base) as api, home_assistant(broker, data) as ha:
            statuses = [
                (await api.post("/api/v1/system/arm", {"mode": "away", "code": f"1111{i}"}))[0] for i in range(3)
            ]
            assert statuses == [403, 403, 429]
            assert [await ha.command("ARM_AWAY", f"2222{i}") for i in range(3)] == ["bad_code", "bad_code", "locked"]
        process.kill_9()
        await process.start()
        async with logged_in(process.base) as api, home_assistant(broker, data) as ha:
            status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
            assert status == 429 and body["error"] == "locked", (status, body)
            retry = int(api.last_headers["Retry-After"])
            assert 0 < retry <= 91
            assert await ha.command("ARM_AWAY", CODE) == "locked"
            assert (await api.get("/api/v1/system"))["mode"] == "disarmed"
    finally:
        process.terminate()
