"""The Home Assistant export (hub/export/mqtt.py) against a real Mosquitto broker on loopback.

The test plays Home Assistant with the real aiomqtt client: it reads the retained discovery
configs (and checks them against the keys HA's MQTT platforms require and accept), follows
the state topics while the hub is armed and disarmed through the API and `hub.submit`, sends
the commands HA's `command_template` renders, and kills and restarts the broker under the export.

mosquitto missing: a failure under CI=true, a one-line skip ("apt-get install mosquitto") otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from alarms.model import ArmRequest, DisarmRequest
from hub.export.mqtt import COMMAND_TEMPLATE, HA_STATE, MqttExport
from hub.store.accounts import Accounts
from hub.store.db import open_sync
from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto

PREFIX = "homeassistant"
HUB_ID = "test_hub"
BASE = f"{PREFIX}/casahub/{HUB_ID}"
CODE = "12345"  # the demo owner's alarm code
HA_ALARM_STATES = {
    "disarmed",
    "armed_home",
    "armed_away",
    "armed_night",
    "armed_vacation",
    "armed_custom_bypass",
    "pending",
    "triggered",
    "arming",
    "disarming",
}

# --------------------------------------------------------------------------- HA's discovery schema
# The keys Home Assistant's MQTT platforms require and accept (homeassistant/components/mqtt:
# MQTT_ENTITY_COMMON_SCHEMA, MQTT_AVAILABILITY_SCHEMA and each platform's PLATFORM_SCHEMA).

COMMON_KEYS = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "object_id",
    "default_entity_id",
    "origin",
    "qos",
    "unique_id",
}
PLATFORM_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # platform: (required, optional)
    "alarm_control_panel": (
        {"state_topic", "command_topic"},
        {
            "code",
            "code_arm_required",
            "code_disarm_required",
            "code_trigger_required",
            "command_template",
            "payload_arm_away",
            "payload_arm_home",
            "payload_arm_night",
            "payload_arm_vacation",
            "payload_arm_custom_bypass",
            "payload_disarm",
            "payload_trigger",
            "retain",
            "supported_features",
            "value_template",
        },
    ),
    "binary_sensor": (
        {"state_topic"},
        {"device_class", "expire_after", "force_update", "off_delay", "payload_off", "payload_on", "value_template"},
    ),
    "sensor": (
        {"state_topic"},
        {
            "device_class",
            "expire_after",
            "force_update",
            "last_reset_value_template",
            "options",
            "state_class",
            "suggested_display_precision",
            "unit_of_measurement",
            "value_template",
        },
    ),
    "event": ({"state_topic", "event_types"}, {"device_class", "value_template"}),
}
DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
BINARY_SENSOR_CLASSES = {
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
}
SUPPORTED_FEATURES = {"arm_home", "arm_away", "arm_night", "arm_vacation", "arm_custom_bypass", "trigger"}


def _topic_ok(topic: object, *, wildcards: bool = False) -> bool:
    return (
        isinstance(topic, str)
        and 0 < len(topic.encode()) <= 65535
        and "\0" not in topic
        and (wildcards or ("+" not in topic and "#" not in topic))
    )


def ha_discovery_problems(platform: str, config: dict[str, Any]) -> list[str]:
    """What Home Assistant would refuse (or ignore) in a discovery config; [] when it is valid."""
    problems: list[str] = []
    if platform not in PLATFORM_KEYS:
        return [f"unknown platform {platform}"]
    required, optional = PLATFORM_KEYS[platform]
    for key in sorted(required - config.keys()):
        problems.append(f"missing required key {key}")
    for key in sorted(config.keys() - required - optional - COMMON_KEYS):
        problems.append(f"key {key} is not in HA's {platform} schema")
    # Entities with a device must have a unique_id (HA refuses the device registry entry otherwise).
    if "name" not in config:
        problems.append("missing name (null for the device's main entity)")
    elif config["name"] is not None and not isinstance(config["name"], str):
        problems.append("name must be a string or null")
    if not isinstance(config.get("unique_id"), str) or not config["unique_id"]:
        problems.append("unique_id must be a non-empty string")
    device = config.get("device")
    if not isinstance(device, dict):
        problems.append("device must be an object")
    else:
        if not device.get("identifiers") and not device.get("connections"):
            problems.append("device needs identifiers or connections")
        if not isinstance(device.get("identifiers", []), list | str):
            problems.append("device identifiers must be a list or a string")
        for key in sorted(device.keys() - DEVICE_KEYS):
            problems.append(f"device key {key} is unknown")
    origin = config.get("origin")
    if origin is not None and (not isinstance(origin, dict) or not isinstance(origin.get("name"), str)):
        problems.append("origin needs a name")
    for key in ("state_topic", "json_attributes_topic", "availability_topic"):
        if key in config and not _topic_ok(config[key], wildcards=True):
            problems.append(f"{key} is not a valid subscribe topic")
    if "command_topic" in config and not _topic_ok(config["command_topic"]):
        problems.append("command_topic is not a valid publish topic")
    if "availability" in config:
        if "availability_topic" in config:
            problems.append("availability and availability_topic are mutually exclusive")
        entries = config["availability"]
        if not isinstance(entries, list) or not entries:
            problems.append("availability must be a non-empty list")
        else:
            for entry in entries:
                if not isinstance(entry, dict) or not _topic_ok(entry.get("topic"), wildcards=True):
                    problems.append(f"availability entry {entry!r} needs a topic")
    if config.get("availability_mode", "latest") not in ("all", "any", "latest"):
        problems.append("availability_mode must be all, any or latest")
    if config.get("qos", 0) not in (0, 1, 2):
        problems.append("qos must be 0, 1 or 2")
    if config.get("entity_category") not in (None, "config", "diagnostic"):
        problems.append("entity_category must be config or diagnostic")
    if platform == "alarm_control_panel":
        for key in ("code_arm_required", "code_disarm_required", "code_trigger_required", "retain"):
            if key in config and not isinstance(config[key], bool):
                problems.append(f"{key} must be a boolean")
        features = config.get("supported_features", [])
        if not isinstance(features, list) or not set(features) <= SUPPORTED_FEATURES:
            problems.append(f"supported_features must be a subset of {sorted(SUPPORTED_FEATURES)}")
        if "code" in config and not isinstance(config["code"], str):
            problems.append("code must be a string")
    if platform == "binary_sensor" and config.get("device_class", "door") not in BINARY_SENSOR_CLASSES:
        problems.append(f"binary_sensor device_class {config['device_class']} is unknown")
    if platform == "sensor":
        if config.get("device_class") == "battery" and config.get("unit_of_measurement") != "%":
            problems.append("a battery sensor's unit must be %")
        if config.get("device_class") == "signal_strength" and config.get("unit_of_measurement") not in ("dB", "dBm"):
            problems.append("a signal_strength sensor's unit must be dB or dBm")
        if config.get("state_class", "measurement") not in ("measurement", "total", "total_increasing"):
            problems.append("state_class is unknown")
    if platform == "event":
        types = config.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) and t for t in types):
            problems.append("event_types must be a non-empty list of strings")
    return problems


def test_the_validator_catches_what_ha_refuses() -> None:
    assert ha_discovery_problems("sensor", {"name": "x"}) == [
        "missing required key state_topic",
        "unique_id must be a non-empty string",
        "device must be an object",
    ]
    good = {"name": None, "unique_id": "u", "device": {"identifiers": ["d"]}, "state_topic": "a/b"}
    assert ha_discovery_problems("binary_sensor", good) == []
    assert ha_discovery_problems("binary_sensor", {**good, "device_class": "water"})
    assert ha_discovery_problems("binary_sensor", {**good, "stat_topic": "a/b"})
    assert ha_discovery_problems("alarm_control_panel", {**good, "command_topic": "a/#"})
    assert ha_discovery_problems("event", {**good, "event_types": []})


# --------------------------------------------------------------------------- the MQTT side


@dataclass
class Watcher:
    """Home Assistant's side of the broker: everything published, as it arrives."""

    client: aiomqtt.Client
    last: dict[str, bytes] = field(default_factory=dict)
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def text(self, topic: str) -> str | None:
        payload = self.last.get(topic)
        return None if payload is None else payload.decode()

    def on(self, topic: str) -> list[Any]:
        return [json.loads(p) for t, p, _ in self.messages if t == topic and p]

    async def command(self, action: str, code: str | None) -> dict[str, Any]:
        """Send a command as HA's command_template renders it; returns the export's result."""
        before = len(self.on(f"{BASE}/alarm/result"))
        await self.client.publish(f"{BASE}/alarm/set", json.dumps({"action": action, "code": code}), qos=1)
        await wait_until(lambda: len(self.on(f"{BASE}/alarm/result")) > before, what=f"the result of {action}")
        result: dict[str, Any] = self.on(f"{BASE}/alarm/result")[-1]
        return result


@contextlib.asynccontextmanager
async def watching(broker: Mosquitto, topic: str = "#") -> AsyncIterator[Watcher]:
    async with aiomqtt.Client(broker.host, broker.port, identifier="home-assistant-test") as client:
        watcher = Watcher(client)
        await client.subscribe(topic, qos=1)

        async def pump() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                watcher.last[message.topic.value] = payload
                watcher.messages.append((message.topic.value, payload, message.retain))

        task = asyncio.create_task(pump())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def retained(
    broker: Mosquitto, topic: str, settle: float = 0.5, user: tuple[str, str] | None = None
) -> dict[str, bytes]:
    """What a client connecting now gets as retained messages on `topic`."""
    found: dict[str, bytes] = {}
    username, password = user or (None, None)
    async with aiomqtt.Client(broker.host, broker.port, username=username, password=password) as client:
        await client.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle):
                async for message in client.messages:
                    if message.retain and isinstance(message.payload, bytes):
                        found[message.topic.value] = message.payload
    return found


@dataclass
class Setup:
    running: RunningHub
    export: MqttExport
    broker: Mosquitto
    accounts: Accounts
    clock_offset: list[float]

    @property
    def hub(self) -> Any:
        return self.running.hub


def _new_export(running: RunningHub, broker: Mosquitto, accounts: Accounts) -> tuple[MqttExport, list[float]]:
    offset = [0.0]  # added to the hub's clock for the code throttle: lets a test skip the 90 s lock
    hub = running.hub
    export = MqttExport(
        hub,
        accounts,
        host=broker.host,
        port=broker.port,
        discovery_prefix=PREFIX,
        hub_id=HUB_ID,
        hub_name="Casa test",
        version="test",
        clock=lambda: hub.clock() + offset[0],
    )
    export.reconnect_initial = 0.1
    export.reconnect_max = 0.5
    export.resync_interval = 0.2
    return export, offset


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel `export.run()`; it must end promptly (a swallowed cancellation would hang the daemon)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=15)
    assert done, "the export did not stop when cancelled"
    assert task.cancelled() or isinstance(task.exception(), asyncio.CancelledError)


@contextlib.asynccontextmanager
async def exporting(running: RunningHub, broker: Mosquitto) -> AsyncIterator[Setup]:
    accounts = Accounts(open_sync(running.data_dir / "casahub.db"))
    export, offset = _new_export(running, broker, accounts)
    try:
        async with export:
            task = asyncio.create_task(export.run())
            try:
                yield Setup(running, export, broker, accounts, offset)
            finally:
                await stop(task)
    finally:
        accounts.conn.close()


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path / "mosquitto")
    await mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.kill()


@pytest.fixture
async def quick_hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    """The demo hub with no exit delay: arming lands in armed_* at once."""
    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 0\n")
    running = await start_hub(tmp_path / "data", config=config)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def setup(quick_hub: RunningHub, broker: Mosquitto) -> AsyncIterator[Setup]:
    async with exporting(quick_hub, broker) as s:
        yield s


async def _api(running: RunningHub) -> tuple[aiohttp.ClientSession, Api]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    api = Api(running.base, session)
    await api.login()
    return session, api


def _journal_actors(rows: list[Any]) -> list[str]:
    return [row["actor"] for row in rows]


# --------------------------------------------------------------------------- the tests


async def test_discovery_configs_are_retained_and_valid_for_home_assistant(setup: Setup) -> None:
    broker, hub = setup.broker, setup.hub
    await wait_until(lambda: setup.export.connected, what="the export to connect")
    async with watching(broker, f"{BASE}/status") as watcher:
        await wait_until(lambda: watcher.text(f"{BASE}/status") == "online", what="status online")
    configs = await retained(broker, f"{PREFIX}/+/{HUB_ID}/+/config")
    states = await retained(broker, f"{BASE}/#")
    by_platform: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    for topic, payload in configs.items():
        platform = topic.split("/")[1]
        config = json.loads(payload)
        by_platform.setdefault(platform, []).append(config)
        problems += [f"{topic}: {p}" for p in ha_discovery_problems(platform, config)]
    assert not problems, "\n".join(problems)

    # One panel, one incident event, a binary sensor per zone and per output (siren, valve) plus
    # "Trouble", battery and signal sensors.
    assert len(by_platform["alarm_control_panel"]) == 1
    assert len(by_platform["event"]) == 1
    assert len(by_platform["binary_sensor"]) == len(hub.state.zones) + len(hub.state.outputs) + 1
    reporting = [d for d in hub.devices.values() if d.battery is not None]
    assert reporting, "the demo kit reports batteries"
    assert len([c for c in by_platform["sensor"] if c.get("device_class") == "battery"]) == len(reporting)
    assert any(c.get("device_class") == "signal_strength" for c in by_platform["sensor"])
    unique_ids = [c["unique_id"] for cs in by_platform.values() for c in cs]
    assert len(unique_ids) == len(set(unique_ids))

    panel = by_platform["alarm_control_panel"][0]
    assert panel["code"] == "REMOTE_CODE"  # the hub checks the code, HA only passes it on
    assert panel["code_arm_required"] is True and panel["code_disarm_required"] is True
    assert panel["command_template"] == COMMAND_TEMPLATE and "tojson" in panel["command_template"]
    assert set(panel["supported_features"]) == {"arm_home", "arm_away", "arm_night", "arm_vacation"}
    assert (panel["payload_arm_night"], panel["payload_arm_vacation"]) == ("ARM_NIGHT", "ARM_VACATION")
    assert panel["availability"] == [{"topic": f"{BASE}/status"}]

    classes = {c["device_class"] for c in by_platform["binary_sensor"]}
    assert {"moisture", "smoke", "motion", "door", "power", "safety", "occupancy", "problem"} <= classes

    # Every topic a config points at carries a retained value HA accepts.
    assert states[f"{BASE}/alarm/state"].decode() == "disarmed"
    for config in by_platform["binary_sensor"]:
        assert states[config["state_topic"]].decode() in (config["payload_on"], config["payload_off"])
        for entry in config["availability"]:
            assert states[entry["topic"]].decode() in ("online", "offline")
    for config in by_platform["sensor"]:
        float(states[config["state_topic"]].decode())
        for entry in config["availability"]:
            assert states[entry["topic"]].decode() in ("online", "offline")
    assert all(
        states[c["json_attributes_topic"]] for cs in by_platform.values() for c in cs if "json_attributes_topic" in c
    )
    assert f"{BASE}/incident" not in states  # events are never retained: they would fire again
    # One area (the default): the house panel is that area, no panel or topic of its own (issue 17).
    assert not [t for t in states if t.startswith(f"{BASE}/area/")]
    assert "areas" not in json.loads(states[f"{BASE}/alarm/attributes"])


async def test_state_follows_arming_and_disarming(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    async with watching(broker, f"{BASE}/#") as watcher:
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "disarmed", what="disarmed")
        session, api = await _api(setup.running)
        try:
            status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
            assert status == 200, body
            await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_away", what="armed_away")
            status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 200, body
            await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "disarmed", what="disarmed again")
        finally:
            await session.close()
        await hub.submit(ArmRequest(mode="home", by="test"))
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_home", what="armed_home")
        await wait_until(
            lambda: json.loads(watcher.text(f"{BASE}/alarm/attributes") or "{}").get("mode") == "armed_home",
            what="the panel's attributes",
        )
        await hub.submit(DisarmRequest(by="test"))
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "disarmed", what="disarmed by submit")
        seen = [p.decode() for t, p, _ in watcher.messages if t == f"{BASE}/alarm/state"]
        assert set(seen) <= HA_ALARM_STATES


async def test_arming_shows_arming_then_armed(tmp_path: Path, broker: Mosquitto) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 1\n")
    running = await start_hub(tmp_path / "data", config=config)
    try:
        async with exporting(running, broker), watching(broker, f"{BASE}/alarm/state") as watcher:
            await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "disarmed", what="disarmed")
            await running.hub.submit(ArmRequest(mode="away", by="test"))
            await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "arming", what="arming")
            await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_away", what="armed after the delay")
    finally:
        await running.stop()
    assert HA_STATE["arming_home"] == HA_STATE["arming_away"] == "arming"


async def test_zones_incidents_and_device_health_follow_the_hub(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    simulated = setup.running.daemon.drivers["simulated"]
    water = next(z for z in hub.state.zones.values() if z.kind == "water")
    zone_state = f"{BASE}/zone/{water.id}/state"
    async with watching(broker, f"{BASE}/#") as watcher:
        await wait_until(lambda: watcher.text(zone_state) == "OFF", what="water zone OFF")
        session, api = await _api(setup.running)
        try:
            await api.trigger(water.id, True)
        finally:
            await session.close()
        await wait_until(lambda: watcher.text(zone_state) == "ON", what="water zone ON")
        await wait_until(lambda: watcher.on(f"{BASE}/incident"), what="the incident event")
        event = watcher.on(f"{BASE}/incident")[0]
        assert event["event_type"] == "water" and event["state"] == "active"
        assert event["zones"] == [water.name]
        assert not [r for t, _, r in watcher.messages if t == f"{BASE}/incident" and r]

        # Acknowledging is the next event; the incident is not announced twice.
        incident = next(iter(hub.state.incidents))
        from alarms.model import Ack

        await hub.submit(Ack(incident=incident, by="test"))
        await wait_until(lambda: len(watcher.on(f"{BASE}/incident")) == 2, what="the acknowledged event")
        assert watcher.on(f"{BASE}/incident")[1]["event_type"] == "acknowledged"

        # Device health changes without an engine step: the periodic in-memory comparison sends it.
        device = hub.devices[water.device]
        await simulated.set_battery(device.address, 42)
        await wait_until(lambda: watcher.text(f"{BASE}/device/{device.id}/battery") == "42", what="battery 42")
        await simulated.set_online(device.address, False)
        await wait_until(
            lambda: watcher.text(f"{BASE}/zone/{water.id}/availability") == "offline", what="zone unavailable"
        )
        await wait_until(
            lambda: watcher.text(f"{BASE}/device/{device.id}/availability") == "offline", what="device unavailable"
        )
        await simulated.set_online(device.address, True)
        await wait_until(lambda: watcher.text(f"{BASE}/zone/{water.id}/availability") == "online", what="back")


async def test_mqtt_commands_need_the_right_code(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    async with watching(broker, f"{BASE}/#") as watcher:
        await wait_until(lambda: setup.export.connected and watcher.text(f"{BASE}/alarm/state"), what="connected")

        result = await watcher.command("ARM_AWAY", "99999")
        assert result == {"action": "ARM_AWAY", "result": "bad_code"}
        assert hub.state.mode == "disarmed"
        audit = await hub.db.fetchall("SELECT actor, data FROM events WHERE kind = 'bad_code'")
        assert [row["actor"] for row in audit] == ["mqtt"]

        result = await watcher.command("ARM_AWAY", CODE)
        assert result["result"] == "armed"
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_away", what="armed_away")
        arm = await hub.db.fetchall("SELECT actor FROM events WHERE kind = 'arm_request'")
        assert _journal_actors(arm) == ["demo (mqtt)"]

        result = await watcher.command("DISARM", "11111")
        assert result["result"] == "bad_code" and hub.state.mode == "armed_away"
        result = await watcher.command("DISARM", CODE)
        assert result["result"] == "disarmed"
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "disarmed", what="disarmed")

        # Night, as HA's alarm panel sends it (issue 17).
        result = await watcher.command("ARM_NIGHT", CODE)
        assert result["result"] == "armed"
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_night", what="armed_night")
        assert (await watcher.command("DISARM", CODE))["result"] == "disarmed"
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "disarmed", what="disarmed again")

        # A missing code is a wrong code (HA always sends one: code_*_required).
        result = await watcher.command("ARM_HOME", None)
        assert result["result"] == "bad_code" and hub.state.mode == "disarmed"


async def test_three_wrong_codes_lock_mqtt_commands_for_90_s(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    async with watching(broker, f"{BASE}/#") as watcher:
        await wait_until(lambda: setup.export.connected and watcher.text(f"{BASE}/alarm/state"), what="connected")
        results = [(await watcher.command("ARM_AWAY", f"0000{i}"))["result"] for i in range(3)]
        assert results == ["bad_code", "bad_code", "locked"]
        # Locked: even the right code is refused, and the mode does not change.
        assert (await watcher.command("ARM_AWAY", CODE))["result"] == "locked"
        assert hub.state.mode == "disarmed"
        setup.clock_offset[0] = 89.0
        assert (await watcher.command("ARM_AWAY", CODE))["result"] == "locked"
        setup.clock_offset[0] = 91.0
        assert (await watcher.command("ARM_AWAY", CODE))["result"] == "armed"
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_away", what="armed after the lock")
        bad = await hub.db.fetchall("SELECT actor FROM events WHERE kind = 'bad_code'")
        assert _journal_actors(bad) == ["mqtt"] * 3


async def test_malformed_and_retained_commands_are_ignored(
    quick_hub: RunningHub, broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    hub = quick_hub.hub
    # A retained command left on the broker must not arm the hub whenever the export connects.
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(f"{BASE}/alarm/set", json.dumps({"action": "ARM_AWAY", "code": CODE}), retain=True, qos=1)
    async with exporting(quick_hub, broker) as setup, watching(broker, f"{BASE}/#") as watcher:
        await wait_until(lambda: setup.export.connected and watcher.text(f"{BASE}/alarm/state"), what="connected")
        for payload in (
            b"",
            b"\xff\xfe",
            b"{",
            b"[]",
            b'{"action": "ARM_CUSTOM_BYPASS", "code": "12345"}',
            b'{"action": 1, "code": "12345"}',
            b'{"action": "DISARM", "code": {"x": 1}}',
            b"x" * 5000,
            b"[" * 100000,
        ):
            await watcher.client.publish(f"{BASE}/alarm/set", payload, qos=1)
        # The export is still there and answers the next real command.
        assert (await watcher.command("ARM_HOME", CODE))["result"] == "armed"
        assert [t for t, _, _ in watcher.messages if t == f"{BASE}/alarm/result"] == [f"{BASE}/alarm/result"]
    assert hub.state.mode == "armed_home"
    arm = await hub.db.fetchall("SELECT actor, input FROM events WHERE kind = 'arm_request'")
    assert len(arm) == 1 and '"home"' in arm[0]["input"]  # the retained ARM_AWAY never ran
    assert f"{BASE}/alarm/set" not in await retained(broker, f"{BASE}/alarm/set")
    assert "malformed command" in caplog.text and "retained command" in caplog.text


async def test_broker_restart_republishes_everything(setup: Setup, broker: Mosquitto) -> None:
    export = setup.export
    await wait_until(lambda: export.connected, what="the export to connect")
    before = await retained(broker, f"{PREFIX}/+/{HUB_ID}/+/config")
    assert before
    broker.kill()  # no persistence: every retained message is gone
    await wait_until(lambda: not export.connected, what="the export to notice")
    await broker.start()
    await wait_until(lambda: export.connections >= 2, what="the export to reconnect")
    async with watching(broker, f"{BASE}/status") as watcher:
        await wait_until(lambda: watcher.text(f"{BASE}/status") == "online", what="status online again")
    await wait_until(lambda: True)
    after = await retained(broker, f"{PREFIX}/+/{HUB_ID}/+/config")
    assert after == before
    # And it keeps following the hub on the new connection.
    async with watching(broker, f"{BASE}/alarm/state") as watcher:
        await setup.hub.submit(ArmRequest(mode="away", by="test"))
        await wait_until(lambda: watcher.text(f"{BASE}/alarm/state") == "armed_away", what="armed after restart")


async def test_stale_configs_are_cleared_and_home_assistant_restart_resends(
    quick_hub: RunningHub, broker: Mosquitto
) -> None:
    # A config left on the broker by an earlier run, for a zone that no longer exists.
    stale = f"{PREFIX}/binary_sensor/{HUB_ID}/zone_removed_long_ago/config"
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(stale, json.dumps({"name": "old"}), retain=True, qos=1)
    async with exporting(quick_hub, broker) as setup:
        await wait_until(lambda: setup.export.connected, what="the export to connect")
        for _ in range(50):
            if stale not in await retained(broker, stale, settle=0.1):
                break
        assert stale not in await retained(broker, stale, settle=0.1)

        # Home Assistant's birth message: everything is sent again (HA may have lost its state).
        async with watching(broker, f"{PREFIX}/alarm_control_panel/{HUB_ID}/+/config") as watcher:
            await wait_until(lambda: watcher.messages, what="the retained panel config")
            count = len(watcher.messages)
            await watcher.client.publish(f"{PREFIX}/status", "online", qos=1)
            await wait_until(lambda: len(watcher.messages) > count, what="the config sent again")


async def test_a_lost_connection_says_offline_through_the_last_will(setup: Setup, broker: Mosquitto) -> None:
    export = setup.export
    async with watching(broker, f"{BASE}/status") as watcher:
        await wait_until(lambda: watcher.text(f"{BASE}/status") == "online", what="online")
        count = export.connections
        # The hub's side of the TCP connection dies without an MQTT DISCONNECT (a crash, a cable).
        client = export._client
        assert client is not None
        sock = client._client.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        await wait_until(lambda: watcher.text(f"{BASE}/status") == "offline", what="the last will")
        await wait_until(lambda: export.connections > count, what="the export to reconnect")
        await wait_until(lambda: watcher.text(f"{BASE}/status") == "online", what="online again")


async def test_stopping_says_offline(quick_hub: RunningHub, broker: Mosquitto) -> None:
    async with watching(broker, f"{BASE}/status") as watcher:
        async with exporting(quick_hub, broker) as setup:
            await wait_until(lambda: watcher.text(f"{BASE}/status") == "online", what="online")
            assert setup.export.connected
        await wait_until(lambda: watcher.text(f"{BASE}/status") == "offline", what="offline on stop")
    assert (await retained(broker, f"{BASE}/status"))[f"{BASE}/status"] == b"offline"


async def test_from_the_config_file_with_broker_credentials(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broker = Mosquitto(tmp_path / "mosquitto", users={"casahub": "s3cret pass"})
    await broker.start()
    config = tmp_path / "casahub.toml"
    config.write_text(
        '[hub]\nname = "Casa Rossi"\n'
        f'[mqtt_export]\nhost = "127.0.0.1"\nport = {broker.port}\nusername = "casahub"\npassword = "s3cret pass"\n'
    )
    running = await start_hub(tmp_path / "data", config=config)
    accounts = Accounts(open_sync(running.data_dir / "casahub.db"))
    try:
        settings = running.daemon.plan.config.mqtt_export
        assert settings is not None
        export = MqttExport.from_config(settings, running.hub, accounts, hub_name="Casa Rossi", version="t")
        assert export.base == "homeassistant/casahub/casa_rossi"
        async with export:
            task = asyncio.create_task(export.run())
            try:
                await wait_until(lambda: export.connected, what="an authenticated connection")
                found = await retained(
                    broker, "homeassistant/casahub/casa_rossi/status", user=("casahub", "s3cret pass")
                )
                assert found == {"homeassistant/casahub/casa_rossi/status": b"online"}
            finally:
                await stop(task)
    finally:
        accounts.conn.close()
        await running.stop()
        broker.kill()
    assert "s3cret" not in caplog.text  # secrets never reach the log


async def test_a_broker_that_refuses_the_login_is_retried_never_fatal(
    quick_hub: RunningHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Mosquitto(tmp_path / "locked-broker", users={"casahub": "right"})
    await broker.start()
    accounts = Accounts(open_sync(quick_hub.data_dir / "casahub.db"))
    export = MqttExport(
        quick_hub.hub, accounts, host=broker.host, port=broker.port, username="casahub", password="wrong"
    )
    export.reconnect_initial = 0.05
    try:
        async with export:
            task = asyncio.create_task(export.run())
            await asyncio.sleep(0.5)
            assert not task.done() and not export.connected
            await stop(task)
    finally:
        accounts.conn.close()
        broker.kill()
    assert "unreachable or lost" in caplog.text


async def test_cancelling_always_stops_the_export(setup: Setup) -> None:
    """Cancelled at any moment (connecting, publishing, waiting, a message arriving), run() ends."""
    hub = setup.hub
    await wait_until(lambda: setup.export.connected, what="the first export to connect")

    async def chatter() -> None:
        while True:
            hub.fanout.publish({"type": "event", "kind": "noise"})
            await asyncio.sleep(0)

    noise = asyncio.create_task(chatter())
    try:
        for i in range(40):
            export, _ = _new_export(setup.running, setup.broker, setup.accounts)
            export.resync_interval = 0.001
            async with export:
                task = asyncio.create_task(export.run())
                await asyncio.sleep(0.002 * (i % 20))
                await stop(task)
    finally:
        noise.cancel()
