"""Home Assistant MQTT discovery: the retained topics the hub publishes (hub/export/mqtt.py).

What Home Assistant gets (discovery configs retained under `<discovery_prefix>/<component>/<hub_id>/...`):
- `alarm_control_panel`: the intrusion mode as HA's states (disarmed, arming, armed_home,
  armed_away, armed_night, armed_vacation, pending, triggered); arm in each mode and disarm from
  HA. The code is checked by the hub (hub/export/mqtt_commands.py), not by HA
  (`code: REMOTE_CODE`), and HA sends it with the action as JSON through `command_template`:
  `{"action": "ARM_AWAY", "code": "12345"}`.
  With two or more areas (`[[areas]]`, alarms/areas.py) that panel is the whole house (the most
  urgent area's mode; its commands arm or disarm every area the code's user may use) and each
  area gets its own panel "Alarm <area name>": state `<base>/area/<id>/state`, commands on
  `<base>/area/<id>/set` for that area alone. With one area there is only the house's.
- a `binary_sensor` per zone (water -> moisture, smoke, motion, contact -> door, power, panic ->
  safety, camera -> occupancy), unavailable while the zone or its device is offline. A power
  zone is ON while mains power is present (HA's `power` class), OFF when it is lost.
- a `binary_sensor` "Trouble" (class `problem`): ON while any anomaly is active, the anomalies
  as attributes.
- a `binary_sensor` per output, state only (commands stay in casahub, with its code and journal):
  a siren (class `sound`) is ON while it sounds, a water valve (class `opening`) is ON while
  open and OFF once closed (a leak, a test), a relay (no class) ON while switched on; unavailable
  while its device is offline. `state` is the dashboard's (hub/core/views.py output_state).
- battery and signal `sensor`s per device that reports them.
- an `event` entity for incidents: `event_type` is the incident kind when one opens, then
  `acknowledged`, `resolved` or `cancelled`. A duress incident never appears (centre only).
- availability: `<discovery_prefix>/casahub/<hub_id>/status` `online`/`offline`, retained,
  `offline` also as the MQTT last will, so HA greys everything out when the hub dies.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from alarms import engine
from alarms.model import (
    ARM_TARGETS,
    INCIDENT_KINDS,
    INCIDENT_STATES,
    AreaConfig,
    AreaState,
    IncidentKind,
    IncidentState,
    Mode,
    Output,
    Zone,
    ZoneKind,
)
from alarms.outputs import OutputKind, OutputStatus
from drivers.capabilities import traits_of
from hub.core.runtime import DeviceRecord, Hub
from hub.core.views import output_state
from hub.export.mqtt_commands import COMMAND_TEMPLATE

# casahub mode -> Home Assistant alarm_control_panel state
# (Home Assistant's armed states carry the same names as casahub's armed modes.)
HA_STATE: dict[Mode, str] = {
    "disarmed": "disarmed",
    **{engine.ARMING[t]: "arming" for t in ARM_TARGETS},
    **{engine.ARMED_MODE[t]: f"armed_{t}" for t in ARM_TARGETS},
    "pending": "pending",
    "triggered": "triggered",
}
DEVICE_CLASS: dict[ZoneKind, str] = {
    "water": "moisture",
    "smoke": "smoke",
    "motion": "motion",
    "contact": "door",
    "power": "power",
    "panic": "safety",
    "camera": "occupancy",
}
# An output as HA's binary_sensor: its device class (None: a plain on/off) and the states that are ON.
OUTPUT_CLASS: dict[OutputKind, str | None] = {"siren": "sound", "valve": "opening", "switch": None}
OUTPUT_ON: frozenset[OutputStatus] = frozenset({"sounding", "open", "on"})
# The incident event's types: every kind an incident opens as, but duress, which is for the centre
# only (docs/architecture.md section 7), then every state it moves to after "active".
INCIDENT_OPEN_TYPES: tuple[IncidentKind, ...] = tuple(kind for kind in INCIDENT_KINDS if kind != "duress")
INCIDENT_CHANGE_TYPES: tuple[IncidentState, ...] = tuple(state for state in INCIDENT_STATES if state != "active")


def object_id(text: str) -> str:
    """An id usable in MQTT topics and HA object ids ([A-Za-z0-9_-]); distinct ids stay distinct."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", text)[:64] or "_"
    if clean != text:
        clean += "_" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return clean


class HaDiscovery:
    """The hub as Home Assistant sees it: every retained topic (discovery configs and states) and its payload.

    MqttExport publishes these; the topics are named after `discovery_prefix` and `hub_id`.
    """

    def __init__(self, hub: Hub, *, discovery_prefix: str, hub_id: str, hub_name: str, version: str | None) -> None:
        self.hub = hub
        self.prefix = discovery_prefix.strip("/") or "homeassistant"
        self.hub_id = object_id(hub_id)
        self.hub_name = hub_name
        self.version = version
        self.base = f"{self.prefix}/casahub/{self.hub_id}"
        self.status_topic = f"{self.base}/status"
        self.state_topic = f"{self.base}/alarm/state"
        self.command_topic = f"{self.base}/alarm/set"
        self.incident_topic = f"{self.base}/incident"

    def retained_topics(self) -> dict[str, str]:
        """Every retained topic and its payload, discovery configs first (dicts keep order)."""
        hub = self.hub
        configs: dict[str, str] = {}
        states: dict[str, str] = {}
        dump = _dump

        configs[self._config_topic("alarm_control_panel", "alarm")] = dump(self.panel_config())
        states[self.state_topic] = HA_STATE.get(hub.state.mode, "disarmed")
        states[f"{self.base}/alarm/attributes"] = dump(self._panel_attributes())

        for area in shown_areas(hub):
            oid = object_id(area.id)
            configs[self._config_topic("alarm_control_panel", f"area_{oid}")] = dump(self.area_panel_config(area))
            area_state = hub.state.areas.get(area.id, AreaState())
            states[self.area_state_topic(area.id)] = HA_STATE.get(area_state.mode, "disarmed")
            states[f"{self.base}/area/{oid}/attributes"] = dump(self._area_attributes(area, area_state))

        configs[self._config_topic("event", "incident")] = dump(self.incident_config())

        configs[self._config_topic("binary_sensor", "trouble")] = dump(self.trouble_config())
        anomalies = list(hub.state.anomalies.values())
        states[f"{self.base}/trouble/state"] = "ON" if anomalies else "OFF"
        states[f"{self.base}/trouble/attributes"] = dump(
            {"anomalies": [{"kind": a.kind, "device": a.device, "subject": a.subject} for a in anomalies]}
        )

        for zone in hub.state.zones.values():
            oid = object_id(zone.id)
            device = hub.devices.get(zone.device) if zone.device else None
            configs[self._config_topic("binary_sensor", f"zone_{oid}")] = dump(self.zone_config(zone, device))
            on = zone.active if zone.kind != "power" else not zone.active
            states[f"{self.base}/zone/{oid}/state"] = "ON" if on else "OFF"
            online = zone.online and (device is None or device.online)
            states[f"{self.base}/zone/{oid}/availability"] = "online" if online else "offline"
            states[f"{self.base}/zone/{oid}/attributes"] = dump(
                {
                    "zone": zone.id,
                    "kind": zone.kind,
                    "behaviour": zone.behaviour,
                    "room": zone.room,
                    "bypassed": zone.excluded is not None,
                    "tamper": zone.tamper,
                    "battery_low": zone.battery_low,
                }
            )

        for output in hub.state.outputs.values():
            oid = object_id(output.id)
            device = hub.devices.get(output.device) if output.device else None
            configs[self._config_topic("binary_sensor", f"output_{oid}")] = dump(self.output_config(output, device))
            state = output_state(output)
            states[f"{self.base}/output/{oid}/state"] = "ON" if state in OUTPUT_ON else "OFF"
            online = output.online and (device is None or device.online)
            states[f"{self.base}/output/{oid}/availability"] = "online" if online else "offline"
            states[f"{self.base}/output/{oid}/attributes"] = dump(
                {
                    "output": output.id,
                    "kind": output.kind,
                    "room": output.room,
                    "state": state,
                    "closed_by_water": output.closed_by_water,
                    "tamper": output.tamper,
                    "battery_low": output.battery_low,
                }
            )

        for device in hub.devices.values():
            oid = object_id(device.id)
            has_battery = device.battery is not None and math.isfinite(device.battery)
            has_signal = device.signal is not None
            if not (has_battery or has_signal):
                continue
            states[f"{self.base}/device/{oid}/availability"] = "online" if device.online else "offline"
            if has_battery and device.battery is not None:
                configs[self._config_topic("sensor", f"device_{oid}_battery")] = dump(self.battery_config(device))
                states[f"{self.base}/device/{oid}/battery"] = str(round(device.battery))
            if has_signal:
                configs[self._config_topic("sensor", f"device_{oid}_signal")] = dump(self.signal_config(device))
                states[f"{self.base}/device/{oid}/signal"] = str(device.signal)
        return {**configs, **states}

    def _config_topic(self, component: str, oid: str) -> str:
        return f"{self.prefix}/{component}/{self.hub_id}/{oid}/config"

    def _unique_id(self, oid: str) -> str:
        return f"casahub_{self.hub_id}_{oid}"

    def _hub_device(self) -> dict[str, Any]:
        device: dict[str, Any] = {
            "identifiers": [f"casahub_{self.hub_id}"],
            "name": self.hub_name,
            "manufacturer": "casahub",
            "model": "casahub security hub",
        }
        if self.version:
            device["sw_version"] = self.version
        return device

    def _device_block(self, device: DeviceRecord | None) -> dict[str, Any]:
        if device is None:
            return self._hub_device()
        block: dict[str, Any] = {
            "identifiers": [self._unique_id(f"device_{object_id(device.id)}")],
            "name": device.name,
            "manufacturer": device.driver,
            "model": device.model or device.driver,
            "via_device": f"casahub_{self.hub_id}",
        }
        if device.room:
            block["suggested_area"] = device.room
        return block

    def _origin(self) -> dict[str, Any]:
        origin: dict[str, Any] = {"name": "casahub"}
        if self.version:
            origin["sw_version"] = self.version
        return origin

    def _common(self, oid: str, name: str | None, device: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "unique_id": self._unique_id(oid),
            "device": device,
            "origin": self._origin(),
            "availability": [{"topic": self.status_topic}],
            "qos": 1,
        }

    def panel_config(self) -> dict[str, Any]:
        return {
            **self._common("alarm", "Alarm", self._hub_device()),
            "state_topic": self.state_topic,
            "command_topic": self.command_topic,
            "command_template": COMMAND_TEMPLATE,
            "code": "REMOTE_CODE",
            "code_arm_required": True,
            "code_disarm_required": True,
            **{f"payload_arm_{t}": f"ARM_{t.upper()}" for t in ARM_TARGETS},
            "payload_disarm": "DISARM",
            "supported_features": [f"arm_{t}" for t in ARM_TARGETS],
            "json_attributes_topic": f"{self.base}/alarm/attributes",
        }

    def area_state_topic(self, area_id: str) -> str:
        return f"{self.base}/area/{object_id(area_id)}/state"

    def area_command_topic(self, area_id: str) -> str:
        return f"{self.base}/area/{object_id(area_id)}/set"

    def area_panel_config(self, area: AreaConfig) -> dict[str, Any]:
        """One area's panel: the house's, on the area's own topics (its commands reach that area only)."""
        oid = object_id(area.id)
        return {
            **self.panel_config(),
            **self._common(f"area_{oid}", f"Alarm {area.name}", self._hub_device()),
            "state_topic": self.area_state_topic(area.id),
            "command_topic": self.area_command_topic(area.id),
            "json_attributes_topic": f"{self.base}/area/{oid}/attributes",
        }

    def incident_config(self) -> dict[str, Any]:
        return {
            **self._common("incident", "Incident", self._hub_device()),
            "state_topic": self.incident_topic,
            "event_types": [*INCIDENT_OPEN_TYPES, *INCIDENT_CHANGE_TYPES],
            "icon": "mdi:alarm-light",
        }

    def trouble_config(self) -> dict[str, Any]:
        return {
            **self._common("trouble", "Trouble", self._hub_device()),
            "state_topic": f"{self.base}/trouble/state",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "problem",
            "entity_category": "diagnostic",
            "json_attributes_topic": f"{self.base}/trouble/attributes",
        }

    def zone_config(self, zone: Zone, device: DeviceRecord | None) -> dict[str, Any]:
        oid = object_id(zone.id)
        # The device's main entity takes the device's name (HA's convention: name null).
        name = None if device is not None and zone.name == device.name else zone.name
        config = {
            **self._common(f"zone_{oid}", name, self._device_block(device)),
            "state_topic": f"{self.base}/zone/{oid}/state",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": DEVICE_CLASS[zone.kind],
            "json_attributes_topic": f"{self.base}/zone/{oid}/attributes",
            "availability_mode": "all",
        }
        config["availability"] = [
            {"topic": self.status_topic},
            {"topic": f"{self.base}/zone/{oid}/availability"},
        ]
        return config

    def output_config(self, output: Output, device: DeviceRecord | None) -> dict[str, Any]:
        oid = object_id(output.id)
        name = None if device is not None and output.name == device.name else output.name
        config: dict[str, Any] = {
            **self._common(f"output_{oid}", name, self._device_block(device)),
            "state_topic": f"{self.base}/output/{oid}/state",
            "payload_on": "ON",
            "payload_off": "OFF",
            "json_attributes_topic": f"{self.base}/output/{oid}/attributes",
            "availability_mode": "all",
        }
        device_class = OUTPUT_CLASS[output.kind]
        if device_class is not None:
            config["device_class"] = device_class
        config["icon"] = {"siren": "mdi:alarm-light", "valve": "mdi:valve", "switch": "mdi:electric-switch"}[
            output.kind
        ]
        config["availability"] = [
            {"topic": self.status_topic},
            {"topic": f"{self.base}/output/{oid}/availability"},
        ]
        return config

    def _device_sensor(self, device: DeviceRecord, what: str) -> dict[str, Any]:
        oid = object_id(device.id)
        config = {
            **self._common(f"device_{oid}_{what}", what.capitalize(), self._device_block(device)),
            "state_topic": f"{self.base}/device/{oid}/{what}",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            "availability_mode": "all",
        }
        config["availability"] = [
            {"topic": self.status_topic},
            {"topic": f"{self.base}/device/{oid}/availability"},
        ]
        return config

    def battery_config(self, device: DeviceRecord) -> dict[str, Any]:
        return {**self._device_sensor(device, "battery"), "device_class": "battery", "unit_of_measurement": "%"}

    def signal_config(self, device: DeviceRecord) -> dict[str, Any]:
        config = self._device_sensor(device, "signal")
        if traits_of(device.driver).signal_unit == "lqi":
            config["unit_of_measurement"] = "lqi"
            config["icon"] = "mdi:signal"
        else:
            config["device_class"] = "signal_strength"
            config["unit_of_measurement"] = "dBm"
        return config

    def _panel_attributes(self) -> dict[str, Any]:
        state = self.hub.state
        attributes = {"mode": state.mode, "target": state.target, **self._readiness(None)}
        areas = shown_areas(self.hub)
        if areas:
            attributes["areas"] = [
                {"id": a.id, "name": a.name, "mode": state.areas.get(a.id, AreaState()).mode} for a in areas
            ]
        return attributes

    def _area_attributes(self, area: AreaConfig, area_state: AreaState) -> dict[str, Any]:
        return {
            "area": area.id,
            "name": area.name,
            "mode": area_state.mode,
            "target": area_state.target,
            **self._readiness((area.id,)),
        }

    def _readiness(self, areas: tuple[str, ...] | None) -> dict[str, Any]:
        zones = self.hub.state.zones
        found = not_ready(self.hub, areas)
        return {
            "ready": not found,
            "not_ready": [{"zone": z, "name": zones[z].name if z in zones else z, "reason": r} for z, r in found],
        }


def shown_areas(hub: Hub) -> tuple[AreaConfig, ...]:
    """The areas that get a panel of their own: none while the house is one area (its panel is the house's)."""
    areas = hub.state.settings.areas
    return areas if len(areas) > 1 else ()


def not_ready(hub: Hub, areas: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """What keeps `areas` (None: the whole house) from arming away."""
    return list(engine.readiness(hub.state, "away", areas))


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
