"""Sirens, valves and relays in the Home Assistant export (hub/export/mqtt_discovery.py), on a real
Mosquitto: a state-only binary_sensor each (a siren `sound`, a valve `opening`), following what the
dashboard shows; no command topic: commands stay in casahub."""

from __future__ import annotations

import json
from typing import Any

from alarms.model import OutputReported, OutputTest, OutputUpsert, SensorChanged
from tests.integration.test_mqtt_export import (
    BASE,
    HUB_ID,
    PREFIX,
    Setup,
    broker,
    ha_discovery_problems,
    quick_hub,
    retained,
    setup,
    watching,
)
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto

__all__ = ["broker", "quick_hub", "setup"]  # the export tests' fixtures

SIREN, VALVE, RELAY = "ha-siren", "ha-valve", "ha-relay"


async def test_outputs_are_state_only_binary_sensors(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    await hub.submit(OutputUpsert(id=SIREN, name="Sirena scala", kind="siren", room="Scala"))
    await hub.submit(OutputUpsert(id=VALVE, name="Valvola bagno", kind="valve", room="Bagno"))
    await hub.submit(OutputUpsert(id=RELAY, name="Luce", kind="switch", on=("intrusion",)))
    state = {oid: f"{BASE}/output/{oid}/state" for oid in (SIREN, VALVE, RELAY)}
    async with watching(broker, f"{BASE}/#") as watcher:
        await wait_until(lambda: watcher.text(state[VALVE]) == "ON", what="the valve open")
        configs = await retained(broker, f"{PREFIX}/binary_sensor/{HUB_ID}/+/config")
        mine: dict[str, dict[str, Any]] = {}
        for topic, payload in configs.items():
            config = json.loads(payload)
            assert not ha_discovery_problems("binary_sensor", config), (topic, config)
            for oid in (SIREN, VALVE, RELAY):
                if config["state_topic"] == state[oid]:
                    mine[oid] = config
        assert set(mine) == {SIREN, VALVE, RELAY}
        assert mine[SIREN]["device_class"] == "sound" and mine[VALVE]["device_class"] == "opening"
        assert "device_class" not in mine[RELAY]
        assert mine[SIREN]["name"] == "Sirena scala"
        assert not any("command_topic" in c for c in mine.values())  # commands stay in casahub
        assert watcher.text(state[SIREN]) == "OFF" and watcher.text(state[RELAY]) == "OFF"
        assert watcher.text(f"{BASE}/output/{SIREN}/availability") == "online"

        def valve_attributes() -> dict[str, Any]:
            return dict(json.loads(watcher.text(f"{BASE}/output/{VALVE}/attributes") or "{}"))

        await wait_until(lambda: bool(valve_attributes()), what="the valve's attributes")
        assert valve_attributes() == {
            "output": VALVE, "kind": "valve", "room": "Bagno", "state": "open", "closed_by_water": False,
            "tamper": False, "battery_low": False,
        }  # fmt: skip

        # A leak closes the valve: OFF (closed), with closed_by_water in the attributes.
        water = next(z for z in hub.state.zones.values() if z.kind == "water")
        await hub.submit(SensorChanged(zone=water.id, active=True))
        await wait_until(lambda: watcher.text(state[VALVE]) == "OFF", what="the valve closed")

        # The attributes are a message of their own, published just after the state.
        await wait_until(lambda: valve_attributes().get("state") == "closed", what="the valve's attributes")
        assert valve_attributes()["closed_by_water"] is True

        # A siren test: ON while it sounds, as its device confirms.
        await hub.submit(OutputTest(output=SIREN, by="test"))
        await hub.submit(OutputReported(output=SIREN, status="sounding"))
        await wait_until(lambda: watcher.text(state[SIREN]) == "ON", what="the siren sounding")
