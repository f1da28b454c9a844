"""The walk test on a running hub: the API, the live stream, restarts, the CLI, zigbee2mqtt and the centre.

The demo hub runs in-process; its clock is the wall clock plus an offset the tests move, so the
walk test's time can run out without waiting a minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from alarms.model import DeviceHealth
from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_pair_cli import ANSI, ROOT, Cli, _token
from tests.integration.test_zigbee2mqtt import BASE, DOOR, DOOR_STATE, device_list
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto
from tests.peers.sia import PLAIN_ACCOUNT, Receiver, require_pysiaalarm

WALKTEST = "/api/v1/pairing/walktest"
DEMO_ZONES = 7  # one zone of each kind in the demo kit


class Clock:
    """The wall clock plus `offset` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@asynccontextmanager
async def hub_at(data_dir: Path, clock: Clock | None = None, config: Path | None = None) -> AsyncIterator[RunningHub]:
    running = await start_hub(data_dir, config=config, clock=clock)
    try:
        yield running
    finally:
        await running.stop()


@asynccontextmanager
async def client(running: RunningHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(running.base, session)
        await api.login()
        yield api


class Stream:
    """The dashboard's WebSocket, collecting every message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(msg.data))

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "event" and m.get("kind") == kind]

    async def wait_event(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        await wait_until(lambda: len(self.events(kind)) >= count, what=f"{count} {kind} event(s) on the WebSocket")
        return self.events(kind)


@asynccontextmanager
async def stream(api: Api) -> AsyncIterator[Stream]:
    async with api.session.ws_connect(api.base + "/api/v1/ws") as ws:
        watching = Stream(ws)
        await wait_until(lambda: watching.messages, what="the first system message")
        try:
            yield watching
        finally:
            watching.task.cancel()


async def zone_ids(api: Api) -> dict[str, str]:
    return {z["kind"]: z["id"] for z in (await api.get("/api/v1/zones"))["items"]}


# --------------------------------------------------------------------------- the API


async def test_walk_test_records_activations_alarms_nobody_and_ends_by_itself(tmp_path: Path) -> None:
    clock = Clock()
    async with hub_at(tmp_path / "data", clock) as running, client(running) as api, stream(api) as live:
        zones = await zone_ids(api)
        status, started = await api.post(WALKTEST, {"minutes": 1})
        assert status == 200, started
        assert started["active"] is True and started["by"] == "demo" and started["tested"] == []
        assert len(started["untested"]) == DEMO_ZONES and started["tampers"] == []
        assert started["started_at"].endswith(("+01:00", "+02:00"))  # Europe/Rome, like the rest of the API
        system = await api.get("/api/v1/system")
        assert system["walk_test"]["active"] is True and 0 < system["walk_test"]["remaining"] <= 60

        status, body = await api.post(WALKTEST, {})
        assert (status, body["error"]) == (409, "walk_test_active")
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
        assert (status, body["error"]) == (409, "walk_test") and "walk test" in body["message"]

        for kind in ("water", "contact", "smoke", "panic"):
            await api.trigger(zones[kind])
        await api.trigger(zones["contact"], False)
        seen = await live.wait_event("walk_test_activation", 4)
        assert [m["zone"] for m in seen] == [zones[k] for k in ("water", "contact", "smoke", "panic")]
        water = seen[0]
        assert water["what"] == "zone" and water["zone_kind"] == "water" and water["signal_unit"] == "dBm"
        assert isinstance(water["signal"], int) and -100 < water["signal"] < 0
        assert water["name"] and water["room"] is not None

        # Nothing alarmed: no incident, no household message, no alarm report to the centre.
        assert (await api.get("/api/v1/incidents?state=all"))["items"] == []
        assert (await api.get("/api/v1/system"))["incidents"] == []
        templates = [n["template"] for n in (await api.get("/api/v1/notifications"))["items"]]
        assert templates.count("centre.walk_test") == 1
        assert not [t for t in templates if t.startswith("incident")]

        now = await api.get(WALKTEST)
        assert [t["zone"] for t in now["tested"]] == [zones[k] for k in ("water", "contact", "smoke", "panic")]
        assert all(t["signal"] is not None and t["at"] for t in now["tested"])
        assert {u["zone"] for u in now["untested"]} == {zones[k] for k in ("motion", "power", "camera")}
        rows = (await api.get("/api/v1/events?kind=walk_test_activation"))["items"]
        assert len(rows) == 4 and rows[-1]["zone"] == zones["water"] and rows[-1]["data"]["signal"] is not None

        # The time is over (the clock moves on); the next engine step wakes the timer, which ends it.
        clock.offset += 59.5
        await api.trigger(zones["smoke"], False)
        ended = await live.wait_event("walk_test_ended")
        assert ended[0]["by"] is None
        assert (await api.get("/api/v1/system"))["walk_test"] is None
        log = (await api.get("/api/v1/events?kind=walk_test_ended"))["items"]
        assert log[0]["data"]["detail"] == "4 tested, 3 untested, time over"

        after = await api.get(WALKTEST)
        assert after["active"] is False and after["by"] == "demo" and after["ends_at"]
        assert {t["zone"] for t in after["tested"]} == {zones[k] for k in ("water", "contact", "smoke", "panic")}
        templates = [n["template"] for n in (await api.get("/api/v1/notifications"))["items"]]
        assert templates.count("centre.walk_test") == 2

        # Water and panic are still "open" from the test: they do not alarm now...
        assert (await api.get("/api/v1/incidents?state=all"))["items"] == []
        # ... but their next opening does, and arming works again.
        await api.trigger(zones["water"], False)
        await api.trigger(zones["water"])
        kinds = [i["kind"] for i in (await api.get("/api/v1/incidents"))["items"]]
        assert kinds == ["water"]
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
        assert status == 200, body


async def test_stop_errors_and_strict_bodies(api: Api, running_hub: RunningHub) -> None:
    status, body = await api.request("DELETE", WALKTEST)
    assert (status, body["error"]) == (409, "no_walk_test")
    for bad, field in (({"minutes": 0}, "minutes"), ({"minutes": 61}, "minutes"), ({"minutes": "5"}, "minutes")):
        status, body = await api.post(WALKTEST, bad)
        assert (status, body["error"], body["field"]) == (400, f"invalid_field:{field}", field), bad
    status, body = await api.post(WALKTEST, {"minutes": 5, "seconds": 1})
    assert status == 400 and body["field"] == "seconds"
    assert running_hub.hub.state.walk_test is None

    status, _ = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 200
    status, body = await api.post(WALKTEST, {"minutes": 5})
    assert (status, body["error"]) == (409, "system_armed") and "disarm" in body["message"]
    await api.post("/api/v1/system/disarm", {"code": "12345"})

    status, started = await api.post(WALKTEST, {"minutes": 5})
    assert status == 200
    door = await api.zone_id("contact")
    await api.trigger(door)
    # the installer opens the motion sensor's cover: a tamper test, not a tamper alarm
    motion = await api.zone_id("motion")
    device = running_hub.hub.state.zones[motion].device
    await running_hub.hub.submit(DeviceHealth(device=device, tamper=True), actor=f"device:{device}")
    await running_hub.hub.submit(DeviceHealth(device=device, tamper=False), actor=f"device:{device}")
    assert [t["zone"] for t in (await api.get(WALKTEST))["tampers"]] == [motion]
    rows = (await api.get("/api/v1/events?kind=walk_test_activation"))["items"]
    assert [(r["zone"], r["data"]["what"]) for r in rows] == [(motion, "tamper"), (door, "zone")]
    status, final = await api.request("DELETE", WALKTEST)
    assert status == 200 and final["active"] is False and final["started_at"] == started["started_at"]
    assert [t["zone"] for t in final["tested"]] == [door] and len(final["untested"]) == DEMO_ZONES - 1
    assert [t["zone"] for t in final["tampers"]] == [motion] and final["tampers"][0]["at"]
    assert final["ends_at"] < started["ends_at"]  # stopped early: when it really ended
    log = (await api.get("/api/v1/events?kind=walk_test_ended"))["items"]
    assert log[0]["actor"] == "demo" and log[0]["data"]["detail"] == "1 tested, 6 untested"
    # the door is still open: not ready, yet no alarm
    assert (await api.get("/api/v1/system"))["ready"] is False
    assert (await api.get("/api/v1/incidents?state=all"))["items"] == []


async def test_a_restart_keeps_the_running_walk_test(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with hub_at(data) as running, client(running) as api:
        status, started = await api.post(WALKTEST, {"minutes": 10})
        assert status == 200
        smoke = await api.zone_id("smoke")
        await api.trigger(smoke)
        await api.trigger(smoke, False)
    async with hub_at(data) as running, client(running) as api:
        now = await api.get(WALKTEST)
        assert now["active"] is True and now["ends_at"] == started["ends_at"]
        assert [t["zone"] for t in now["tested"]] == [smoke]
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
        assert (status, body["error"]) == (409, "walk_test")
        # still a test after the restart: the smoke sensor alarms nobody
        await api.trigger(smoke)
        assert (await api.get("/api/v1/incidents?state=all"))["items"] == []
        status, _ = await api.request("DELETE", WALKTEST)
        assert status == 200


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(running_hub: RunningHub, tmp_path: Path) -> Cli:
    return Cli(running_hub, _token(running_hub), tmp_path / "xdg")


async def _walk_test_running(api: Api) -> None:
    for _ in range(500):
        if (await api.get("/api/v1/system"))["walk_test"] is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the CLI did not start the walk test")


async def test_cli_json_until_the_hub_ends_it_and_until_seconds(cli: Cli, api: Api) -> None:
    zones = await zone_ids(api)
    run = asyncio.create_task(asyncio.to_thread(cli.run, "pair", "walktest", "--minutes", "5", "--json"))
    await _walk_test_running(api)
    await api.trigger(zones["motion"])
    await api.trigger(zones["water"])
    status, _ = await api.request("DELETE", WALKTEST)  # ended elsewhere (the dashboard): the CLI sees it
    assert status == 200
    r = await run
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout)
    assert final["active"] is False and final["by"].startswith("token:")
    assert [t["zone"] for t in final["tested"]] == [zones["motion"], zones["water"]]
    assert len(final["untested"]) == DEMO_ZONES - 2

    r = await asyncio.to_thread(cli.run, "pair", "walktest", "--seconds", "1", "--json")
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout)
    assert final["active"] is False and final["tested"] == []
    assert (await api.get("/api/v1/system"))["walk_test"] is None  # the CLI stopped it on its way out


async def test_cli_without_a_terminal_prints_a_line_per_activation(cli: Cli, api: Api, running_hub: RunningHub) -> None:
    zones = await zone_ids(api)
    run = asyncio.create_task(asyncio.to_thread(cli.run, "pair", "walktest"))
    await _walk_test_running(api)
    await wait_until(lambda: running_hub.hub.fanout.count >= 1, what="the CLI's live stream")
    await api.trigger(zones["water"])
    await api.request("DELETE", WALKTEST)
    r = await run
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    opened = next(line for line in lines if "opened: Sensore acqua (Cucina), water, signal -" in line)
    assert opened.endswith(" dBm")
    assert "walk test over: 1 zones tested, 6 not tested" in lines


async def test_cli_errors_are_one_line(cli: Cli, api: Api, running_hub: RunningHub, tmp_path: Path) -> None:
    status, _ = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 200
    line = await cli.error("pair", "walktest", "--json")
    assert "not disarmed" in line and "(HTTP 409)" in line
    await api.post("/api/v1/system/disarm", {"code": "12345"})

    await api.post(WALKTEST, {"minutes": 5})
    line = await cli.error("pair", "walktest", "--json")
    assert "already running" in line
    assert (await api.get("/api/v1/system"))["walk_test"] is not None  # someone else's: left alone
    await api.request("DELETE", WALKTEST)

    assert "--minutes" in await cli.error("pair", "walktest", "--minutes", "0")
    wrong = Cli(running_hub, "chb_00000000_wrong", tmp_path / "xdg")
    assert "refused the token" in await wrong.error("pair", "walktest", "--json")


class Terminal:
    """The CLI on a pseudo-terminal: read what it shows, type Enter or Ctrl-C."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args, *cli.common],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=cli.env,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        self.raw = b""

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def read_until(self, wanted: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.text:
            assert time.monotonic() < deadline, f"{wanted!r} not shown:\n{self.text}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.raw += os.read(self.master, 65536)
                except OSError:
                    break

    def finish(self) -> int:
        try:
            while True:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if ready:
                    try:
                        chunk = os.read(self.master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    self.raw += chunk
                elif self.proc.poll() is not None:
                    break
        finally:
            os.close(self.master)
        return self.proc.wait(30)


async def test_cli_terminal_live_table_ends_on_enter_and_on_ctrl_c(cli: Cli, api: Api) -> None:
    zones = await zone_ids(api)
    term = Terminal(cli, "pair", "walktest", "--minutes", "5")
    await asyncio.to_thread(term.read_until, "Walk test: 7 zones not tested yet")
    await api.trigger(zones["water"])
    await asyncio.to_thread(term.read_until, "6 zones not tested yet")
    rows = [line.split() for line in term.text.splitlines() if zones["water"] in line]
    # ... KIND SIGNAL WHAT ID: "water -72 dBm zone simulated-sim-water-1"
    assert any(r[-5] == "water" and r[-4].startswith("-") and r[-3:] == ["dBm", "zone", zones["water"]] for r in rows)
    os.write(term.master, b"\n")
    code = await asyncio.to_thread(term.finish)
    assert code == 0, term.text
    assert "walk test over: 1 zones tested, 6 not tested" in term.text
    assert "not tested: Sensore movimento (Soggiorno), motion" in term.text
    assert (await api.get("/api/v1/system"))["walk_test"] is None

    term = Terminal(cli, "pair", "walktest")
    await asyncio.to_thread(term.read_until, "zones not tested yet")
    os.killpg(term.proc.pid, signal.SIGINT)
    code = await asyncio.to_thread(term.finish)
    assert code == 0, term.text
    assert "walk test over: 0 zones tested, 7 not tested" in term.text
    assert (await api.get("/api/v1/system"))["walk_test"] is None


# --------------------------------------------------------------------------- zigbee2mqtt, the centre


async def test_cli_with_a_zigbee_door_on_a_real_broker(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto")
    await broker.start()
    config = tmp_path / "casahub.toml"
    config.write_text(f'[[drivers]]\ntype = "zigbee2mqtt"\nhost = "127.0.0.1"\nport = {broker.port}\n')
    try:
        async with (
            hub_at(tmp_path / "data", config=config) as running,
            client(running) as api,
            aiomqtt.Client(broker.host, broker.port) as mqtt,
        ):
            await mqtt.publish(f"{BASE}/bridge/devices", json.dumps(device_list()), qos=1, retain=True)
            candidate = f"zigbee2mqtt:{DOOR}"
            for _ in range(300):
                found = (await api.get("/api/v1/pairing/candidates"))["items"]
                if any(c["id"] == candidate for c in found):
                    break
                await asyncio.sleep(0.05)
            status, device = await api.post(
                "/api/v1/devices", {"candidate": candidate, "name": "Porta", "room": "Ingresso"}
            )
            assert status == 201, device
            [door] = device["zones"]

            async def door_signal(lqi: int) -> None:
                for _ in range(300):
                    devices = (await api.get("/api/v1/devices"))["items"]
                    if next(d for d in devices if d["id"] == device["id"])["signal"] == lqi:
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError(f"the door's signal never became {lqi}")

            topic = f"{BASE}/Porta ingresso"
            await mqtt.publish(topic, json.dumps({**DOOR_STATE, "contact": True}), qos=1)  # closed, LQI 115
            await door_signal(DOOR_STATE["linkquality"])

            cli = Cli(running, await asyncio.to_thread(_token, running), tmp_path / "xdg")
            run = asyncio.create_task(asyncio.to_thread(cli.run, "pair", "walktest", "--json", "--seconds", "60"))
            await _walk_test_running(api)
            await mqtt.publish(topic, json.dumps({**DOOR_STATE, "contact": False, "linkquality": 96}), qos=1)
            await door_signal(96)
            await api.request("DELETE", WALKTEST)
            r = await run
            assert r.returncode == 0, r.stderr
            final = json.loads(r.stdout)
            assert [(t["zone"], t["name"], t["room"], t["kind"], t["signal"]) for t in final["tested"]] == [
                (door, "Porta", "Ingresso", "contact", 96)
            ]
            assert final["tested"][0]["signal_unit"] == "lqi"
            # The live row carries the LQI the opening was sent with: a device's telemetry goes along
            # ahead of its news (drivers/base.py, ReadingStream), never behind it.
            rows = (await api.get("/api/v1/events?kind=walk_test_activation"))["items"]
            assert [(r["zone"], r["data"]) for r in rows] == [
                (door, {"what": "zone", "signal": 96, "signal_unit": "lqi"})
            ]
            assert (await api.get("/api/v1/incidents?state=all"))["items"] == []
    finally:
        broker.kill()


async def test_the_centre_hears_the_walk_test_start_and_end(tmp_path: Path) -> None:
    require_pysiaalarm()
    receiver = Receiver()
    await receiver.start()
    config = tmp_path / "casahub.toml"
    config.write_text(
        f'[centre]\nprotocol = "dc09"\nhost = "127.0.0.1"\nport = {receiver.port}\naccount = "{PLAIN_ACCOUNT}"\n'
    )
    try:
        async with hub_at(tmp_path / "data", config=config) as running, client(running) as api:
            status, _ = await api.post(WALKTEST, {"minutes": 5})
            assert status == 200
            await api.trigger(await api.zone_id("smoke"))  # a test: no fire report
            status, _ = await api.request("DELETE", WALKTEST)
            assert status == 200

            def walk_test_reports() -> list[Any]:
                return [e for e in receiver.reports() if e.event_type == "607"]

            await wait_until(lambda: len(walk_test_reports()) == 2, what="two walk-test reports at the centre")
            start, end = walk_test_reports()
            assert (start.event_qualifier, end.event_qualifier) == ("1", "3")
            assert start.account == PLAIN_ACCOUNT
            assert not [e for e in receiver.reports() if e.event_type == "110"]  # no fire
            templates = {n["template"]: n["state"] for n in (await api.get("/api/v1/notifications"))["items"]}
            assert templates["centre.walk_test"] == "sent"
    finally:
        await receiver.stop()
