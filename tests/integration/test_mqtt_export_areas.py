"""Areas in the Home Assistant export (issue 17, item 2) against a real Mosquitto broker on loopback.

Two areas ("casa", the demo's zones, and "garage", none): the house panel stays and each area gets
its own; a command on an area's topic arms or disarms that area alone, with the code's user
allowed there; removing an area clears its panel. The test plays Home Assistant with aiomqtt,
as tests/integration/test_mqtt_export.py does (its fixtures and HA's discovery schema).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import pytest

from alarms.model import AlarmSettings, AreaConfig, ArmRequest, Configure, DisarmRequest
from tests.conftest import RunningHub, start_hub
from tests.integration.test_mqtt_export import (
    BASE,
    CODE,
    HUB_ID,
    PREFIX,
    Setup,
    Watcher,
    broker,
    exporting,
    ha_discovery_problems,
    quick_hub,
    retained,
    watching,
)
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto

__all__ = ["broker", "quick_hub"]  # the export tests' fixtures

AREAS = (AreaConfig(id="casa", name="Casa"), AreaConfig(id="garage", name="Garage"))
HOUSE_STATE = f"{BASE}/alarm/state"
RESULT = f"{BASE}/alarm/result"


def area_state(area: str) -> str:
    return f"{BASE}/area/{area}/state"


def with_areas(settings: AlarmSettings, areas: tuple[AreaConfig, ...]) -> Configure:
    return Configure(settings=msgspec.structs.replace(settings, areas=areas))


async def area_command(watcher: Watcher, area: str, action: str, code: str | None) -> dict[str, Any]:
    """A command as HA's command_template renders it, on `area`'s panel; returns the export's result."""
    before = len(watcher.on(RESULT))
    await watcher.client.publish(f"{BASE}/area/{area}/set", json.dumps({"action": action, "code": code}), qos=1)
    await wait_until(lambda: len(watcher.on(RESULT)) > before, what=f"the result of {action} on {area}")
    result: dict[str, Any] = watcher.on(RESULT)[-1]
    return result


@pytest.fixture
async def two_areas(tmp_path: Path) -> AsyncIterator[RunningHub]:
    """The demo hub, no exit delay, with a second area (the demo's zones stay in the first)."""
    config = tmp_path / "casahub.toml"
    areas = "".join(f'[[areas]]\nid = "{a.id}"\nname = "{a.name}"\n' for a in AREAS)
    config.write_text(f"[alarm]\nexit_delay = 0\n{areas}")
    running = await start_hub(tmp_path / "data", config=config)
    try:
        assert running.hub.state.settings.areas == AREAS
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def setup(two_areas: RunningHub, broker: Mosquitto) -> AsyncIterator[Setup]:
    async with exporting(two_areas, broker) as s:
        yield s


async def _connected(setup: Setup, watcher: Watcher) -> None:
    await wait_until(
        lambda: setup.export.connected and watcher.text(area_state("garage")) == "disarmed", what="connected"
    )


async def test_one_panel_per_area_plus_the_whole_house(setup: Setup, broker: Mosquitto) -> None:
    await wait_until(lambda: setup.export.connected, what="the export to connect")
    configs = await retained(broker, f"{PREFIX}/alarm_control_panel/{HUB_ID}/+/config")
    states = await retained(broker, f"{BASE}/#")
    panels = {topic.split("/")[3]: json.loads(payload) for topic, payload in configs.items()}
    assert set(panels) == {"alarm", "area_casa", "area_garage"}
    problems = [f"{oid}: {p}" for oid, c in panels.items() for p in ha_discovery_problems("alarm_control_panel", c)]
    assert not problems, "\n".join(problems)
    assert len({c["unique_id"] for c in panels.values()}) == 3

    house, garage = panels["alarm"], panels["area_garage"]
    assert house["name"] == "Alarm" and house["command_topic"] == f"{BASE}/alarm/set"
    assert (panels["area_casa"]["name"], garage["name"]) == ("Alarm Casa", "Alarm Garage")
    assert garage["state_topic"] == area_state("garage")
    assert garage["command_topic"] == f"{BASE}/area/garage/set"
    assert garage["command_template"] == house["command_template"]
    assert garage["code"] == "REMOTE_CODE" and garage["code_arm_required"] and garage["code_disarm_required"]
    assert set(garage["supported_features"]) == {"arm_home", "arm_away", "arm_night", "arm_vacation"}
    assert garage["device"] == house["device"]  # every panel is the hub's
    for config in panels.values():
        assert states[config["state_topic"]].decode() == "disarmed"
        assert json.loads(states[config["json_attributes_topic"]])["ready"] in (True, False)
    attributes = json.loads(states[garage["json_attributes_topic"]])
    assert (attributes["area"], attributes["mode"], attributes["ready"]) == ("garage", "disarmed", True)
    house_areas = json.loads(states[house["json_attributes_topic"]])["areas"]
    assert [(a["id"], a["mode"]) for a in house_areas] == [("casa", "disarmed"), ("garage", "disarmed")]


async def test_arm_night_on_one_area_arms_only_that_area(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    async with watching(broker, f"{BASE}/#") as watcher:
        await _connected(setup, watcher)

        result = await area_command(watcher, "garage", "ARM_NIGHT", "99999")
        assert result == {"action": "ARM_NIGHT", "result": "bad_code", "area": "garage"}
        assert hub.state.areas["garage"].mode == "disarmed"

        result = await area_command(watcher, "garage", "ARM_NIGHT", CODE)
        assert result == {"action": "ARM_NIGHT", "result": "armed", "area": "garage"}
        await wait_until(lambda: watcher.text(area_state("garage")) == "armed_night", what="the garage armed_night")
        await wait_until(lambda: watcher.text(HOUSE_STATE) == "armed_night", what="the house armed_night")
        assert watcher.text(area_state("casa")) == "disarmed"
        assert hub.state.areas["casa"].mode == "disarmed"
        arm = await hub.db.fetchall("SELECT actor, input FROM events WHERE kind = 'arm_request'")
        assert [row["actor"] for row in arm] == ["demo (mqtt)"]
        assert json.loads(arm[0]["input"])["areas"] == ["garage"]

        # A wrong code cannot disarm it either; the right one disarms that area alone.
        assert (await area_command(watcher, "garage", "DISARM", "11111"))["result"] == "bad_code"
        assert hub.state.areas["garage"].mode == "armed_night"
        await hub.submit(ArmRequest(mode="home", by="test", areas=("casa",)))
        await wait_until(lambda: watcher.text(area_state("casa")) == "armed_home", what="casa armed_home")
        assert (await area_command(watcher, "garage", "DISARM", CODE))["result"] == "disarmed"
        await wait_until(lambda: watcher.text(area_state("garage")) == "disarmed", what="the garage disarmed")
        await wait_until(lambda: watcher.text(HOUSE_STATE) == "armed_home", what="the house: casa's mode")
        assert hub.state.areas["casa"].mode == "armed_home"


async def test_the_house_panel_arms_and_disarms_every_area(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    async with watching(broker, f"{BASE}/#") as watcher:
        await _connected(setup, watcher)
        assert (await watcher.command("ARM_AWAY", CODE)) == {"action": "ARM_AWAY", "result": "armed"}
        await wait_until(lambda: watcher.text(area_state("casa")) == "armed_away", what="casa armed_away")
        await wait_until(lambda: watcher.text(area_state("garage")) == "armed_away", what="garage armed_away")
        assert watcher.text(HOUSE_STATE) == "armed_away"
        arm = await hub.db.fetchall("SELECT input FROM events WHERE kind = 'arm_request'")
        assert json.loads(arm[0]["input"]).get("areas") is None  # every area, as before areas
        assert (await watcher.command("DISARM", CODE))["result"] == "disarmed"
        await wait_until(lambda: watcher.text(area_state("casa")) == "disarmed", what="casa disarmed")
        await wait_until(lambda: watcher.text(area_state("garage")) == "disarmed", what="garage disarmed")
        await wait_until(lambda: watcher.text(HOUSE_STATE) == "disarmed", what="the house disarmed")


async def test_a_user_not_allowed_in_an_area_is_refused(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    setup.accounts.add_user("ospite", "password-ospite-1", code="24680")
    setup.accounts.set_areas("ospite", ("casa",))
    async with watching(broker, f"{BASE}/#") as watcher:
        await _connected(setup, watcher)
        result = await area_command(watcher, "garage", "ARM_AWAY", "24680")
        assert result == {"action": "ARM_AWAY", "result": "forbidden_area", "area": "garage"}
        assert (await area_command(watcher, "garage", "DISARM", "24680"))["result"] == "forbidden_area"
        assert hub.state.areas["garage"].mode == "disarmed"
        assert not await hub.db.fetchall("SELECT 1 FROM events WHERE kind = 'arm_request'")
        # The right code is no wrong guess: no bad_code, no lockout.
        assert not await hub.db.fetchall("SELECT 1 FROM events WHERE kind = 'bad_code'")
        assert (await area_command(watcher, "garage", "ARM_AWAY", "24680"))["result"] == "forbidden_area"

        # Their area is theirs; the house panel reaches their areas only.
        assert (await area_command(watcher, "casa", "ARM_HOME", "24680"))["result"] == "armed"
        await wait_until(lambda: watcher.text(area_state("casa")) == "armed_home", what="casa armed_home")
        assert (await watcher.command("DISARM", "24680"))["result"] == "disarmed"
        await wait_until(lambda: watcher.text(area_state("casa")) == "disarmed", what="casa disarmed")
        await hub.submit(ArmRequest(mode="away", by="test", areas=("garage",)))
        await wait_until(lambda: watcher.text(area_state("garage")) == "armed_away", what="garage armed_away")
        assert (await watcher.command("DISARM", "24680"))["result"] == "disarmed"
        assert hub.state.areas["garage"].mode == "armed_away"  # not theirs: still armed
        assert (await watcher.command("DISARM", CODE))["result"] == "disarmed"  # the owner's: every area
        await wait_until(lambda: watcher.text(area_state("garage")) == "disarmed", what="garage disarmed")


async def test_a_removed_area_loses_its_panel_and_its_commands(setup: Setup, broker: Mosquitto) -> None:
    hub = setup.hub
    garage_config = f"{PREFIX}/alarm_control_panel/{HUB_ID}/area_garage/config"
    async with watching(broker, f"{BASE}/#") as watcher:
        await _connected(setup, watcher)
        assert garage_config in await retained(broker, garage_config)
        await hub.submit(with_areas(hub.state.settings, AREAS[:1]), actor="config")

        async def gone() -> bool:
            panels = await retained(broker, f"{PREFIX}/alarm_control_panel/{HUB_ID}/+/config", settle=0.1)
            return list(panels) == [f"{PREFIX}/alarm_control_panel/{HUB_ID}/alarm/config"]

        for _ in range(50):
            if await gone():
                break
        assert await gone()
        states = await retained(broker, f"{BASE}/#")
        assert not [t for t in states if t.startswith(f"{BASE}/area/")]
        assert "areas" not in json.loads(states[f"{BASE}/alarm/attributes"])

        # One area again: the house panel is the area; a command on the old topic does nothing.
        await watcher.client.publish(f"{BASE}/area/garage/set", json.dumps({"action": "ARM_AWAY", "code": CODE}))
        assert (await watcher.command("ARM_HOME", CODE))["result"] == "armed"
        await wait_until(lambda: watcher.text(HOUSE_STATE) == "armed_home", what="the house armed_home")
        assert [r.get("area") for r in watcher.on(RESULT)] == [None]
        await hub.submit(DisarmRequest(by="test"))


async def test_area_panels_left_by_an_earlier_run_are_cleared(quick_hub: RunningHub, broker: Mosquitto) -> None:
    # Panels of areas removed while the hub was away (and a retained command on one of them).
    stale = {
        f"{PREFIX}/alarm_control_panel/{HUB_ID}/area_garage/config": json.dumps({"name": "Alarm Garage"}),
        f"{BASE}/area/garage/state": "armed_away",
        f"{BASE}/area/garage/set": json.dumps({"action": "DISARM", "code": CODE}),
    }
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for topic, payload in stale.items():
            await client.publish(topic, payload, retain=True, qos=1)
    async with exporting(quick_hub, broker) as setup:
        await wait_until(lambda: setup.export.connected, what="the export to connect")
        for _ in range(50):
            left = await retained(broker, f"{PREFIX}/+/{HUB_ID}/area_garage/config", settle=0.1)
            left |= await retained(broker, f"{BASE}/area/#", settle=0.1)
            if not left:
                break
        assert not left
