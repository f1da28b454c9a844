"""The JSON the API and the live stream show of the hub: system, zones, outputs, devices,
incidents, anomalies, notifications and walk-test activations.

Plain functions of the hub's state, so that a view can be read, tested and changed without
the engine step around it. They take the hub as `HubView`, the part of it they read: the hub
(hub/core/runtime.py) publishes these views itself, so this module cannot import it back
(pyproject's `hub-acyclic` contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgspec

from alarms import engine
from alarms.areas import load_areas, zone_areas
from alarms.engine import ARMING_MODES
from alarms.model import ARM_TARGETS, AlarmSettings, Anomaly, Incident, Output, State, WalkTestActivation, Zone
from alarms.output_rules import SIREN_SOUNDS
from alarms.outputs import CONFIRMED_BY, OutputKind, OutputStatus
from drivers.capabilities import traits_of
from hub.core.devices import DeviceRecord

_INCIDENT_DECODER = msgspec.json.Decoder(Incident)


class HubView(Protocol):
    """What the views read of the hub (hub/core/runtime.py Hub)."""

    @property
    def state(self) -> State: ...
    @property
    def devices(self) -> Mapping[str, DeviceRecord]: ...
    @property
    def settings_overrides(self) -> Mapping[str, float]: ...
    @property
    def language(self) -> str: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    def iso(self, ts: float | None) -> str | None: ...


def _delays_json(hub: HubView, mode: str, deadline: float | None) -> dict[str, Any]:
    """The running delay (exit, entry, siren) with its end and what is left of it."""
    if deadline is None:
        return {}
    name = "exit" if mode in ARMING_MODES else {"pending": "entry", "triggered": "siren"}.get(mode)
    if not name:
        return {}
    return {name: {"until": hub.iso(deadline), "remaining": max(0.0, round(deadline - hub.clock(), 1))}}


def _excluded_json(hub: HubView, zones: list[Zone]) -> list[dict[str, Any]]:
    return [
        {"zone": z.id, "name": z.name, "how": z.excluded.how, "until": hub.iso(z.excluded.until)}
        for z in sorted(zones, key=lambda z: z.id)
        if z.excluded is not None
    ]


def _readiness_json(s: State, areas: tuple[str, ...] | None) -> dict[str, Any]:
    ready_modes = {target: engine.readiness(s, target, areas) for target in ARM_TARGETS}
    not_ready = ready_modes["away"]
    return {
        "ready": not not_ready,
        # Ready to arm in each armed mode (`ready` and `not_ready` are away's, as before modes).
        "ready_modes": {target: not reasons for target, reasons in ready_modes.items()},
        "not_ready": [{"zone": z, "name": member_name(s, z), "reason": r} for z, r in not_ready],
    }


def areas_json(hub: HubView, house: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each area as the home page shows it (issue 17): one item when the house is one area,
    which repeats the house (`house`: its readiness, already worked out)."""
    s = hub.state
    runs = load_areas(s)
    known = list(runs)
    items = []
    for config in s.settings.areas:
        run = runs.get(config.id)
        if run is None:
            continue
        zones = [z for z in s.zones.values() if config.id in zone_areas(z, known)]
        ready = house if house is not None and len(runs) == 1 else _readiness_json(s, (config.id,))
        items.append(
            {
                "id": config.id,
                "name": config.name,
                "mode": run.mode,
                "target": run.target,
                **{k: ready[k] for k in ("ready", "ready_modes", "not_ready")},
                "excluded": _excluded_json(hub, zones),
                "delays": _delays_json(hub, run.mode, run.deadline),
                "zones": sorted(z.id for z in zones),
            }
        )
    return items


def system_json(hub: HubView) -> dict[str, Any]:
    s = hub.state
    house = _readiness_json(s, None)
    return {
        "mode": s.mode,
        "target": s.target,
        **house,
        "ready_home": house["ready_modes"]["home"],
        # A duress incident is for the centre only: whoever holds the screen must not see it.
        "incidents": [incident_json(hub, i) for i in s.incidents.values() if i.kind != "duress"],
        "anomalies": [anomaly_json(hub, a) for a in s.anomalies.values()],
        "delays": _delays_json(hub, s.mode, s.deadline),
        "settings": msgspec.to_builtins(s.settings),
        "settings_source": {
            name: "dashboard" if name in hub.settings_overrides else "config"
            for name in AlarmSettings.__struct_fields__
        },
        "walk_test": walk_test_json(hub),
        # Every zone that does not protect right now, and until when: the home screen lists them.
        "excluded": _excluded_json(hub, list(s.zones.values())),
        # Sirens, valves and relays with what they are doing: the home screen says a siren sounds
        # only while one's `state` is "sounding", and shows a valve a leak closed.
        "outputs": [output_json(hub, o) for o in sorted(s.outputs)],
        # Each area (partition) with its own mode; one item when the house is one area.
        "areas": areas_json(hub, house),
    }


def member_name(state: State, member: str) -> str:
    """The name of a zone or an output (a not-ready reason names either), else its id."""
    if member in state.zones:
        return state.zones[member].name
    if member in state.outputs:
        return state.outputs[member].name
    return member


def walk_test_json(hub: HubView) -> dict[str, Any] | None:
    walk = hub.state.walk_test
    if walk is None:
        return None
    return {
        "active": True,
        "started_at": hub.iso(walk.started_at),
        "ends_at": hub.iso(walk.ends_at),
        "remaining": max(0.0, round(walk.ends_at - hub.clock(), 1)),
        "by": walk.by,
        "tested": list(walk.tested),
    }


def zone_signal(hub: HubView, zone_id: str) -> tuple[int | None, str | None]:
    """The last signal strength heard from a zone's device and its unit: dBm from radios
    that give it, LQI (0-255, higher is better) from Zigbee."""
    zone = hub.state.zones.get(zone_id)
    device = hub.devices.get(zone.device or "") if zone is not None else None
    if device is None or device.signal is None:
        return None, None
    return device.signal, traits_of(device.driver).signal_unit


def walk_test_signal(hub: HubView, effect: WalkTestActivation) -> dict[str, Any]:
    signal, unit = zone_signal(hub, effect.zone)
    return {"what": effect.what, "signal": signal, "signal_unit": unit}


def walk_test_activation_json(hub: HubView, effect: WalkTestActivation) -> dict[str, Any]:
    """The live message of a walk-test activation: enough for a dashboard or the CLI to show
    the row without asking the API again."""
    zone = hub.state.zones.get(effect.zone)
    return {
        "type": "event",
        "kind": "walk_test_activation",
        "zone": effect.zone,
        "by": None,
        "at": hub.iso(hub.clock()),
        "name": zone.name if zone is not None else effect.zone,
        "room": zone.room if zone is not None else "",
        "zone_kind": zone.kind if zone is not None else None,
        **walk_test_signal(hub, effect),
    }


def incident_json(hub: HubView, inc: Incident) -> dict[str, Any]:
    zones = hub.state.zones
    return {
        "id": inc.id,
        "kind": inc.kind,
        "state": inc.state,
        "opened_at": hub.iso(inc.opened_at),
        "closed_at": hub.iso(inc.closed_at),
        "confirmed": inc.confirmed,
        "by": inc.by,
        # The area (partition) it belongs to, with its name; null when the house is one area.
        "area": inc.area,
        "area_name": area.name if (area := hub.state.settings.area(inc.area)) is not None and inc.area else None,
        "activations": [
            {"zone": a.zone, "name": zones[a.zone].name if a.zone in zones else a.zone, "at": hub.iso(a.at)}
            for a in inc.activations
        ],
    }


def anomaly_json(hub: HubView, ano: Anomaly, language: str | None = None) -> dict[str, Any]:
    from alarms.manual import manual_entry

    entry = manual_entry(ano.kind, language or hub.language)
    return {
        "id": ano.id,
        "kind": ano.kind,
        "state": ano.state,
        "device": ano.device,
        "subject": ano.subject,
        "opened_at": hub.iso(ano.opened_at),
        "closed_at": hub.iso(ano.closed_at),
        "manual": {"title": entry.title, "meaning": entry.meaning, "steps": list(entry.steps)},
    }


def zone_json(hub: HubView, zone_id: str) -> dict[str, Any]:
    z = hub.state.zones[zone_id]
    device = hub.devices.get(z.device) if z.device else None
    return {
        "id": z.id,
        "name": z.name,
        "kind": z.kind,
        "behaviour": z.behaviour,
        "home": z.home,  # derived: "home" in modes (the first release's flag, kept for its clients)
        "modes": list(z.modes),
        "areas": zone_areas(z, [a.id for a in hub.state.settings.areas]),
        "watch_days": z.watch_days,  # sensor watch: sensor_inactive after this many days without a change (0: off)
        "chime": z.chime,
        "room": z.room,
        "device": z.device,
        "active": z.active,
        "bypassed": z.excluded is not None,
        "excluded": exclusion_json(hub, z),
        "online": z.online if device is None else (z.online and device.online),
        "tamper": z.tamper,
        "battery_low": z.battery_low,
    }


# What an output is doing when its device never said: what the engine last asked of it, else its
# resting state (a siren never asked to sound is silent, a valve never asked to close is open).
_RESTING: dict[OutputKind, OutputStatus] = {"siren": "silent", "valve": "open", "switch": "off"}


def output_state(o: Output) -> OutputStatus:
    """What people need to know of an output: a siren "sounding" or "silent", a valve "closed"
    or "open", a switch "on" or "off". The device's own report wins (it is what happens in the
    house); without one, what the engine last asked of it."""
    if o.status is not None:
        return o.status
    if o.wanted is not None:
        if o.kind == "siren":
            return "sounding" if o.wanted in SIREN_SOUNDS else "silent"
        if o.kind == "valve":
            return "closed" if o.wanted == "close" else "open"
        return "on" if o.wanted == "on" else "off"
    return _RESTING[o.kind]


def output_json(hub: HubView, output_id: str) -> dict[str, Any]:
    o = hub.state.outputs[output_id]
    device = hub.devices.get(o.device) if o.device else None
    expected = CONFIRMED_BY[o.wanted] if o.wanted is not None else None
    return {
        "id": o.id,
        "name": o.name,
        "kind": o.kind,
        "device": o.device,
        "room": o.room,
        "state": output_state(o),
        "status": o.status,  # what the device last reported; None: never heard
        "status_at": hub.iso(o.status_at),
        "wanted": o.wanted,  # what the hub last asked of it (a short beep is never kept)
        "until": hub.iso(o.wanted_until),  # when a sound, a relay's on or a valve test ends by itself
        "pending": expected is not None and o.status != expected,  # asked, not yet confirmed by the device
        "closed_by_water": o.closed_by_water,  # only the owner's open (with the code) opens it again
        "online": o.online if device is None else (o.online and device.online),
        "tamper": o.tamper,
        "battery_low": o.battery_low,
        "on": list(o.on),
        "chime": o.chime,
        "squawk": o.squawk,
    }


def exclusion_json(hub: HubView, z: Zone) -> dict[str, Any] | None:
    e = z.excluded
    if e is None:
        return None
    return {"how": e.how, "by": e.by, "reason": e.reason, "until": hub.iso(e.until)}


def device_json(hub: HubView, d: DeviceRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "driver": d.driver,
        "address": d.address,
        "name": d.name,
        "room": d.room,
        "model": d.model,
        "battery": d.battery,
        "signal": d.signal,
        "last_seen": hub.iso(d.last_seen),
        "online": d.online,
        "zones": [z.id for z in hub.state.zones.values() if z.device == d.id],
        "outputs": [o.id for o in hub.state.outputs.values() if o.device == d.id],
    }


def notification_json(hub: HubView, row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "incident": row["incident"],
        "anomaly": row["anomaly"],
        "channel": row["channel"],
        "transport": row["transport"],
        "recipient": row["recipient"],
        "address": row["address"],
        "language": row["language"],
        "template": row["template"],
        "subject": row["subject"],
        "text": row["short"],
        "step": row["step"],
        "state": row["state"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "created_at": hub.iso(row["created_at"]),
        "due_at": hub.iso(row["due_at"]),
        "sent_at": hub.iso(row["sent_at"]),
    }


# ------------------------------------------------------------------ records for the API
def incident_from_json(data: str) -> Incident:
    """An `incidents` row's `data` column as the engine's Incident."""
    return _INCIDENT_DECODER.decode(data)


def anomaly_from_row(row: Any) -> Anomaly:
    return Anomaly(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        opened_at=row["opened_at"],
        device=row["device"],
        subject=row["subject"],
        closed_at=row["closed_at"],
    )
