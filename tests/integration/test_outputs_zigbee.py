"""Sirens and a water valve through the whole hub, on a real Mosquitto with zigbee2mqtt-shaped devices.

A demo hub (tests.conftest.start_hub) runs with a zigbee2mqtt driver on a real broker. The test
plays zigbee2mqtt: the retained device list holds a door, a smoke and a leak sensor (payloads
of tests/integration/test_zigbee2mqtt.py) and two sirens and a valve (the exposes of
tests/integration/test_zigbee2mqtt_outputs.py: a Woox R7051 that publishes `alarm`, a Develco
SIRZB-110 with `squawk`, a SONOFF SWV valve). They are paired through `POST /api/v1/devices`
with `outputs`. `Bridge` records every `<name>/set` the hub publishes and answers as the
devices do (the Woox publishes `alarm`, the valve its `state`), unless told to keep quiet.

Checked: armed away, the door opens, the entry delay ends -> the sirens' /set get `burglar` with
the configured siren time; disarm -> `stop`; smoke while disarmed -> `fire`; panic -> nothing on
the sirens; a duress disarm -> nothing; water -> the valve `{"state": "OFF"}`, kept closed until
`OutputOpen`; a chime zone opening while disarmed -> the chime siren's squawk; a siren that never
confirms -> re-sent, then the `output_failure` anomaly, cleared by its next confirmation.

mosquitto missing: a failure under CI=true, a one-line skip ("apt-get install mosquitto") otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from alarms.model import Ack, ArmRequest, DisarmRequest, OutputOpen, Resolve, SensorChanged, ZoneUpsert
from tests.conftest import Api, RunningHub, start_hub
from tests.integration import test_zigbee2mqtt as sensors
from tests.integration import test_zigbee2mqtt_outputs as sirens
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto

BASE = "zigbee2mqtt"
DOOR, SMOKE, WATER = sensors.DOOR, sensors.SMOKE, sensors.WATER
WOOX, DEVELCO, SWV = sirens.WOOX, sirens.DEVELCO, sirens.SWV
NAMES = {
    DOOR: "Porta ingresso",
    SMOKE: "Corridoio fumo",
    WATER: "Cucina acqua",
    WOOX: sirens.NAMES[WOOX],
    DEVELCO: sirens.NAMES[DEVELCO],
    SWV: sirens.NAMES[SWV],
}
SIREN_TIME = 120
DEADLINE = 4  # [outputs] deadline: sent at 0 and 2 s, given up at 4 s
CONFIG = """
[alarm]
exit_delay = 0
entry_delay = 1
siren_time = {siren_time}

[outputs]
deadline = {deadline}

[[drivers]]
type = "zigbee2mqtt"
host = "127.0.0.1"
port = {port}
"""


def device_list() -> list[dict[str, Any]]:
    wanted = {DOOR, SMOKE, WATER}
    network = [d for d in sensors.device_list() if d["ieee_address"] in wanted or d["type"] == "Coordinator"]
    return network + [d for d in sirens.device_list() if d["ieee_address"] in (WOOX, DEVELCO, SWV)]


class Bridge:
    """zigbee2mqtt on the broker: every /set the hub publishes, and the devices' answers."""

    def __init__(self, mqtt: aiomqtt.Client) -> None:
        self.mqtt = mqtt
        self.sets: list[tuple[str, Any]] = []
        self.quiet: set[str] = set()  # devices (IEEE) that say nothing back

    async def publish(self, ieee: str, payload: Any) -> None:
        await self.mqtt.publish(f"{BASE}/{NAMES[ieee]}", json.dumps(payload), qos=1)

    async def serve(self) -> None:
        by_name = {name: ieee for ieee, name in NAMES.items()}
        async for message in self.mqtt.messages:
            name = message.topic.value[len(BASE) + 1 : -len("/set")]
            payload = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            self.sets.append((name, payload))
            ieee = by_name.get(name)
            if ieee is None or ieee in self.quiet:
                continue
            if ieee == WOOX and "warning" in payload:
                await self.publish(WOOX, {"alarm": payload["warning"]["mode"] != "stop", "battery": 90})
            elif ieee == SWV and "state" in payload:
                await self.publish(SWV, {"state": payload["state"], "battery": 90})

    def to(self, ieee: str, since: int = 0) -> list[Any]:
        return [payload for name, payload in self.sets[since:] if name == NAMES[ieee]]

    async def wait(self, ieee: str, what: Callable[[Any], bool], since: int = 0, count: int = 1) -> list[Any]:
        def found() -> list[Any]:
            return [p for p in self.to(ieee, since) if what(p)]

        await wait_until(lambda: len(found()) >= count, 10, f"{NAMES[ieee]}: a matching /set")
        return found()


def warning(mode: str) -> Callable[[Any], bool]:
    return lambda payload: isinstance(payload.get("warning"), dict) and payload["warning"].get("mode") == mode


@dataclass
class Site:
    broker: Mosquitto
    running: RunningHub
    api: Api
    bridge: Bridge
    zones: dict[str, str]  # IEEE -> zone id
    outputs: dict[str, str]  # IEEE -> output id

    @property
    def hub(self) -> Any:
        return self.running.hub

    async def sensor(self, ieee: str, payload: dict[str, Any]) -> None:
        await self.bridge.publish(ieee, payload)

    async def open_door(self) -> None:
        await self.sensor(DOOR, {**sensors.DOOR_STATE, "contact": False})
        await wait_until(lambda: self.hub.state.zones[self.zones[DOOR]].active, 10, "the door open")

    async def close_door(self) -> None:
        await self.sensor(DOOR, {**sensors.DOOR_STATE, "contact": True})
        await wait_until(lambda: not self.hub.state.zones[self.zones[DOOR]].active, 10, "the door closed")

    async def quiet_period(self) -> None:
        """Long enough for any command to have gone out (the path is commit -> wake -> send)."""
        await asyncio.sleep(0.5)

    async def rows(self, output: str) -> list[dict[str, Any]]:
        found = await self.hub.db.fetchall("SELECT * FROM output_commands WHERE output = ? ORDER BY id", (output,))
        return [dict(r) for r in found]

    async def wait_rows(self, output: str, fields: tuple[str, ...], expected: list[tuple[Any, ...]]) -> None:
        """The output's command rows reach `expected` (results are written just after they happen)."""
        seen: list[tuple[Any, ...]] = []
        for _ in range(200):
            seen = [tuple(r[f] for f in fields) for r in await self.rows(output)]
            if seen == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{output}: {seen} != {expected}")


async def wait_candidates(api: Api, ieees: Iterable[str]) -> None:
    """Until the hub offers every device of the retained bridge list for pairing (bench/sirens.py too)."""
    wanted = {f"zigbee2mqtt:{ieee}" for ieee in ieees}

    async def listed() -> bool:
        items = (await api.get("/api/v1/pairing/candidates"))["items"]
        return wanted <= {c["id"] for c in items}

    for _ in range(200):
        if await listed():
            return
        await asyncio.sleep(0.05)
    assert await listed(), "the zigbee2mqtt candidates"


async def pair(api: Api, ieee: str, name: str, **body: Any) -> dict[str, Any]:
    status, device = await api.post("/api/v1/devices", {"candidate": f"zigbee2mqtt:{ieee}", "name": name, **body})
    assert status == 201, device
    return dict(device)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    broker = Mosquitto(tmp_path / "mosquitto")
    await broker.start()
    config = tmp_path / "casahub.toml"
    config.write_text(CONFIG.format(siren_time=SIREN_TIME, deadline=DEADLINE, port=broker.port))
    try:
        async with AsyncExitStack() as stack:
            mqtt = await stack.enter_async_context(aiomqtt.Client(broker.host, broker.port))
            await mqtt.subscribe(f"{BASE}/+/set", qos=1)
            await mqtt.publish(f"{BASE}/bridge/devices", json.dumps(device_list()), qos=1, retain=True)
            bridge = Bridge(mqtt)
            serving = asyncio.create_task(bridge.serve())
            stack.callback(serving.cancel)
            running = await start_hub(tmp_path / "data", config=config)
            stack.push_async_callback(running.stop)
            session = await stack.enter_async_context(aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
            api = Api(running.base, session)
            await api.login()
            await wait_candidates(api, NAMES)
            zones: dict[str, str] = {}
            for ieee, kind, behaviour in ((DOOR, "contact", "entry"), (SMOKE, "smoke", "24h"), (WATER, "water", "24h")):
                device = await pair(api, ieee, NAMES[ieee], zones=[{"kind": kind, "behaviour": behaviour}])
                zones[ieee] = next(z.id for z in running.hub.state.zones.values() if z.device == device["id"])
            outputs: dict[str, str] = {}
            for ieee, spec in (
                (WOOX, {"kind": "siren"}),
                (DEVELCO, {"kind": "siren", "chime": True}),
                (SWV, {"kind": "valve"}),
            ):
                device = await pair(api, ieee, NAMES[ieee], outputs=[spec])
                outputs[ieee] = next(o.id for o in running.hub.state.outputs.values() if o.device == device["id"])
            found = Site(broker, running, api, bridge, zones, outputs)
            # The devices' first states: the door closed, the air clear, the floor dry.
            await found.sensor(DOOR, {**sensors.DOOR_STATE, "contact": True})
            await found.sensor(SMOKE, {**sensors.SMOKE_STATE, "smoke": False})
            await found.sensor(WATER, {**sensors.WATER_STATE, "water_leak": False})
            yield found
    finally:
        broker.kill()


# ------------------------------------------------------------------------- pairing


async def test_pairing_outputs_names_them_and_checks_the_kind(site: Site) -> None:
    hub = site.hub
    assert site.outputs == {WOOX: "sirena-esterna", DEVELCO: "sirena-ingresso", SWV: "valvola-cucina"}
    woox, develco, valve = (hub.state.outputs[site.outputs[i]] for i in (WOOX, DEVELCO, SWV))
    assert (woox.kind, woox.on, woox.chime, woox.room) == ("siren", ("intrusion", "fire"), False, "")
    assert (develco.chime, develco.squawk) == (True, False)
    assert (valve.kind, valve.on) == ("valve", ("water",))
    # A device is paired once; a kind the device does not offer is refused; armed: 409.
    status, body = await site.api.post(
        "/api/v1/devices", {"candidate": f"zigbee2mqtt:{WOOX}", "name": "x", "outputs": [{"kind": "siren"}]}
    )
    assert status == 404 and body["error"] == "unknown_candidate"
    device = next(d for d in hub.devices.values() if d.address == WOOX)
    status, body = await site.api.request("DELETE", f"/api/v1/devices/{device.id}")
    assert status == 200 and site.outputs[WOOX] not in hub.state.outputs
    status, body = await site.api.post(
        "/api/v1/devices", {"candidate": f"zigbee2mqtt:{WOOX}", "name": "x", "outputs": [{"kind": "valve"}]}
    )
    assert status == 400 and body["error"] == "invalid_field:outputs"
    await hub.submit(ArmRequest(mode="away", by="test"))
    status, body = await site.api.post(
        "/api/v1/devices", {"candidate": f"zigbee2mqtt:{WOOX}", "name": "x", "outputs": [{"kind": "siren"}]}
    )
    assert status == 409 and body["error"] == "system_armed"


# ------------------------------------------------------------------------- the rules, on the wire


async def test_intrusion_sounds_burglar_for_the_siren_time_and_disarm_stops(site: Site) -> None:
    hub, bridge = site.hub, site.bridge
    await hub.submit(ArmRequest(mode="away", by="test"))
    assert hub.state.mode == "armed_away"
    since = len(bridge.sets)
    await site.open_door()
    assert hub.state.mode == "pending" and bridge.to(WOOX, since) == []  # nothing during the entry delay
    [woox] = await bridge.wait(WOOX, warning("burglar"), since)
    assert woox == {"warning": {"mode": "burglar", "level": "high", "strobe": True, "duration": SIREN_TIME}}
    [develco] = await bridge.wait(DEVELCO, warning("burglar"), since)
    assert develco == woox
    assert hub.state.mode == "triggered"
    siren = site.outputs[WOOX]
    await wait_until(lambda: hub.state.outputs[siren].status == "sounding", 10, "the siren reported sounding")
    await site.wait_rows(siren, ("action", "reason", "state", "attempts"), [("burglar", "intrusion", "confirmed", 1)])
    since = len(bridge.sets)
    await hub.submit(DisarmRequest(by="test"))
    assert (await bridge.wait(WOOX, warning("stop"), since)) == [{"warning": {"mode": "stop"}}]
    await bridge.wait(DEVELCO, warning("stop"), since)
    await wait_until(lambda: hub.state.outputs[siren].status == "silent", 10, "the siren reported silent")
    await site.wait_rows(siren, ("action", "state"), [("burglar", "confirmed"), ("stop", "confirmed")])
    assert not [a for a in hub.state.anomalies.values() if a.kind == "output_failure"]


async def test_smoke_while_disarmed_sounds_fire(site: Site) -> None:
    since = len(site.bridge.sets)
    await site.sensor(SMOKE, {**sensors.SMOKE_STATE, "smoke": True})
    [woox] = await site.bridge.wait(WOOX, warning("fire"), since)
    assert woox == {"warning": {"mode": "fire", "level": "high", "strobe": True, "duration": SIREN_TIME}}
    await site.bridge.wait(DEVELCO, warning("fire"), since)
    assert site.hub.state.mode == "disarmed"


async def test_panic_and_duress_sound_nothing(site: Site) -> None:
    hub, bridge = site.hub, site.bridge
    panic = next(z.id for z in hub.state.zones.values() if z.kind == "panic")  # the demo kit's button
    since = len(bridge.sets)
    await hub.submit(SensorChanged(zone=panic, active=True))
    assert [i.kind for i in hub.state.incidents.values()] == ["panic"]
    await site.quiet_period()
    assert bridge.sets[since:] == []
    # Duress: armed, the door opens, disarmed with the duress code during the entry delay.
    await hub.submit(ArmRequest(mode="away", by="test"))
    await site.open_door()
    await hub.submit(DisarmRequest(by="test", duress=True))
    assert "duress" in [i.kind for i in hub.state.incidents.values()]
    await asyncio.sleep(1.5)  # past what was the entry delay
    assert hub.state.mode == "disarmed" and bridge.sets[since:] == []
    for output in site.outputs.values():
        assert await site.rows(output) == []  # not even written: nothing was asked


async def test_water_closes_the_valve_until_the_owner_opens_it(site: Site) -> None:
    hub, bridge = site.hub, site.bridge
    valve = site.outputs[SWV]
    since = len(bridge.sets)
    await site.sensor(WATER, {**sensors.WATER_STATE, "water_leak": True})
    assert (await bridge.wait(SWV, lambda p: "state" in p, since)) == [{"state": "OFF"}]
    await wait_until(lambda: hub.state.outputs[valve].status == "closed", 10, "the valve reported closed")
    # Everyone at home hears one short beep: a squawk where the siren has one, else 1 s low.
    [squawk] = await bridge.wait(DEVELCO, lambda p: "squawk" in p, since)
    assert squawk == {"squawk": {"state": "system_is_disarmed", "level": "low", "strobe": False}}
    [beep] = await bridge.wait(WOOX, warning("emergency"), since)
    assert beep == {"warning": {"mode": "emergency", "level": "low", "strobe": False, "duration": 1}}
    # The floor dries, the alarm is acknowledged and resolved, the system is armed and disarmed:
    # the valve stays closed.
    await site.sensor(WATER, {**sensors.WATER_STATE, "water_leak": False})
    for incident in list(hub.state.incidents.values()):
        await hub.submit(Ack(incident=incident.id, by="test"))
        await hub.submit(Resolve(incident=incident.id, by="test"))
    assert not hub.state.incidents
    await hub.submit(ArmRequest(mode="away", by="test"))
    await hub.submit(DisarmRequest(by="test"))
    await site.quiet_period()
    assert bridge.to(SWV, since) == [{"state": "OFF"}]
    assert hub.state.outputs[valve].closed_by_water
    # The owner opens it (the API route checks the code; the event is what it submits).
    await hub.submit(OutputOpen(output=valve, by="demo"))
    assert (await bridge.wait(SWV, lambda p: "state" in p, since, count=2))[-1] == {"state": "ON"}
    await wait_until(lambda: hub.state.outputs[valve].status == "open", 10, "the valve reported open")
    await site.wait_rows(valve, ("action", "state"), [("close", "confirmed"), ("open", "confirmed")])


async def test_a_chime_zone_opening_while_disarmed_squawks_the_chime_siren(site: Site) -> None:
    hub, bridge = site.hub, site.bridge
    door = hub.state.zones[site.zones[DOOR]]
    await hub.submit(
        ZoneUpsert(
            id=door.id,
            name=door.name,
            kind=door.kind,
            behaviour=door.behaviour,
            home=door.home,
            device=door.device,
            room=door.room,
            chime=True,
        )
    )
    since = len(bridge.sets)
    await site.open_door()
    [squawk] = await bridge.wait(DEVELCO, lambda p: "squawk" in p, since)
    assert squawk == {"squawk": {"state": "system_is_disarmed", "level": "low", "strobe": False}}
    await site.quiet_period()
    assert bridge.to(WOOX, since) == []  # not a chime siren
    await site.wait_rows(site.outputs[DEVELCO], ("action", "reason", "state"), [("chime", "chime", "sent")])


async def test_a_siren_that_never_confirms_is_retried_then_output_failure(site: Site) -> None:
    hub, bridge = site.hub, site.bridge
    siren = site.outputs[WOOX]
    bridge.quiet.add(WOOX)
    await hub.submit(ArmRequest(mode="away", by="test"))
    since = len(bridge.sets)
    await site.open_door()
    # Sent, re-sent 2 s later, given up at the deadline.
    await bridge.wait(WOOX, warning("burglar"), since, count=2)
    await wait_until(
        lambda: any(a.kind == "output_failure" for a in hub.state.anomalies.values()), 10, "output_failure"
    )
    [failure] = [a for a in hub.state.anomalies.values() if a.kind == "output_failure"]
    assert (failure.subject, failure.device) == (siren, hub.state.outputs[siren].device)
    fields = ("state", "attempts", "last_error")
    await site.wait_rows(siren, fields, [("failed", 2, f"no confirmation within {DEADLINE} s")])
    anomalies = (await site.api.get("/api/v1/anomalies"))["items"]
    assert "output_failure" in [a["kind"] for a in anomalies]
    # The Develco (assumed status) confirmed at once: no failure for it.
    await site.wait_rows(site.outputs[DEVELCO], ("action", "state"), [("burglar", "confirmed")])
    # The siren speaks at last: sounding confirms what it was asked, the anomaly clears.
    await bridge.publish(WOOX, {"alarm": True, "battery": 90})
    await wait_until(
        lambda: not any(a.kind == "output_failure" for a in hub.state.anomalies.values()), 10, "output_failure cleared"
    )
