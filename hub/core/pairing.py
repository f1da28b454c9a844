"""Pairing and unpairing a device: its `devices` row, its zones and outputs (engine inputs, so
journaled) and the household's "device paired" message.

A device may have zones (what it senses), outputs (a siren, a valve, a relay it drives) or
both. An output's id is the slug of its name, made unique among zones and outputs (the alarm
centre and the anomalies name an output-only device by its first output, as a zone).

A zone's behaviour, modes, chime and areas are the installer's choice (`ZoneChoice`); what the choice
leaves out is the proposal of hub/core/pairing_defaults.py for its kind, name and room, so a
window paired without options is instant in every mode, never a delayed entry.

Called by the API (hub/web/devices_api.py), the daemon for the devices the config declares,
the tests and the benchmarks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from alarms.model import (
    ArmTarget,
    Behaviour,
    IncidentKind,
    Notify,
    OutputRemove,
    OutputUpsert,
    ZoneKind,
    ZoneRemove,
    ZoneUpsert,
)
from alarms.outputs import OutputKind
from alarms.policy import plan_notify
from alarms.zone_config import modes_from_home, ordered_modes
from hub.core.devices import DeviceRecord
from hub.core.pairing_defaults import modes_for, propose
from hub.core.runtime import Hub
from hub.store import journal


@dataclass(frozen=True)
class OutputSpec:
    """An output to create on a paired device; None: the kind's default (name: the device's)."""

    kind: OutputKind
    name: str | None = None
    on: tuple[IncidentKind, ...] | None = None
    chime: bool = False
    squawk: bool = False


@dataclass(frozen=True)
class ZoneChoice:
    """A zone to create on a paired device, as the installer chose it; None: the proposal
    (name: the device's). `home` is the first release's flag (the config's GPIO lines and the
    demo kit still give it): modes from it when `modes` is None. The caller checks `areas`
    against the configured ones (the engine ignores an id it does not know)."""

    kind: ZoneKind
    name: str | None = None
    behaviour: Behaviour | None = None
    modes: tuple[ArmTarget, ...] | None = None
    chime: bool | None = None
    home: bool | None = None
    areas: tuple[str, ...] | None = None  # ids of [[areas]]; None: the first area


# The older callers' form (kind, name, behaviour, home): the daemon's fixed devices, benchmarks.
LegacyZone = tuple[ZoneKind, str | None, Behaviour | None, bool | None]


def _choice(zone: ZoneChoice | LegacyZone) -> ZoneChoice:
    if isinstance(zone, ZoneChoice):
        return zone
    kind, name, behaviour, home = zone
    return ZoneChoice(kind=kind, name=name, behaviour=behaviour, home=home)


def entry_taken(hub: Hub) -> bool:
    """Whether a zone is the entry already: then no other door is proposed as one."""
    return any(z.behaviour == "entry" for z in hub.state.zones.values())


def chosen_zone(hub: Hub, choice: ZoneChoice, name: str, room: str) -> tuple[Behaviour, tuple[ArmTarget, ...], bool]:
    """The behaviour, modes and chime of a zone: the installer's choice, the rest proposed."""
    proposal = propose(choice.kind, name, room, entry_taken=entry_taken(hub))
    behaviour = choice.behaviour or proposal.behaviour
    if choice.modes is not None:
        modes = ordered_modes(choice.modes)
    elif choice.home is not None:
        modes = modes_from_home(choice.home)
    else:
        modes = proposal.modes if choice.behaviour is None else modes_for(choice.kind, behaviour)
    return behaviour, modes, proposal.chime if choice.chime is None else choice.chime


async def pair_device(
    hub: Hub,
    *,
    driver: str,
    address: str,
    name: str,
    room: str,
    model: str,
    bindkey: str | None,
    zones: Sequence[ZoneChoice | LegacyZone],
    by: str,
    outputs: Sequence[OutputSpec] = (),
) -> DeviceRecord:
    """Store a device and create its zones and outputs (one ZoneUpsert or OutputUpsert each, so
    they are journaled)."""
    if hub.device_by_address(driver, address) is not None:
        raise ValueError(f"{driver} device {address} is already paired")
    device_id = base_id = _slug(f"{driver}-{address}")
    suffix = 1
    zone_ids = set(hub.state.zones)
    while device_id in hub.devices or device_id in zone_ids:  # two addresses can make one slug
        suffix += 1
        device_id = f"{base_id}-{suffix}"
    now = hub.clock()
    device = DeviceRecord(
        id=device_id,
        driver=driver,
        address=address,
        name=name,
        room=room,
        model=model,
        created_at=now,
        bindkey=bindkey,
        last_seen=None,
    )
    async with hub.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO devices (id, driver, address, name, room, model, bindkey, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (device_id, driver, address, name, room, model, bindkey, now),
        )
        await journal.append_event(conn, now, "device_paired", actor=by, data={"device": device_id, "name": name})
        event = Notify(subject="event", event="device_paired", by=by)
        # Devices that the config file declares are not news to the household.
        plans = [] if by == "config" else plan_notify(event, hub.state, hub.contacts, hub.escalation)
        for message in plans:
            params = {**message.params, "device": name, "room": room}
            await hub.enqueue(conn, msgspec.structs.replace(message, params=params), now)
    hub.devices[device_id] = device
    if plans and hub.dispatcher is not None:
        hub.dispatcher.wake()
    choices = [_choice(z) for z in zones]
    for index, choice in enumerate(choices):
        kind = choice.kind
        zone_id = device_id if len(zones) == 1 else f"{device_id}-{kind}-{index + 1}"
        while zone_id in hub.state.zones:  # never take over another device's zone
            zone_id += "-x"
        zone_name = choice.name or (name if len(zones) == 1 else f"{name} ({kind})")
        behaviour, modes, chime = chosen_zone(hub, choice, zone_name, room)
        await hub.submit(
            ZoneUpsert(
                id=zone_id,
                name=zone_name,
                kind=kind,
                behaviour=behaviour,
                modes=modes,
                device=device_id,
                room=room,
                chime=chime,
                areas=choice.areas or (),
                by=by,
            )
        )
    for spec in outputs:
        output_name = spec.name or (name if len(outputs) == 1 else f"{name} ({spec.kind})")
        taken = set(hub.state.zones) | set(hub.state.outputs)
        output_id = base = _slug(output_name, "output")
        suffix = 1
        while output_id in taken:
            suffix += 1
            output_id = f"{base}-{suffix}"
        await hub.submit(
            OutputUpsert(
                id=output_id,
                name=output_name,
                kind=spec.kind,
                device=device_id,
                room=room,
                on=spec.on,
                chime=spec.chime,
                squawk=spec.squawk,
                by=by,
            )
        )
    return device


async def unpair_device(hub: Hub, device_id: str, *, by: str) -> None:
    for zone in [z for z in hub.state.zones.values() if z.device == device_id]:
        await hub.submit(ZoneRemove(id=zone.id, by=by))
    for output in sorted((o for o in hub.state.outputs.values() if o.device == device_id), key=lambda o: o.id):
        await hub.submit(OutputRemove(id=output.id, by=by))
    async with hub.db.transaction() as conn:
        await conn.execute("DELETE FROM devices WHERE id = ?", (device_id,))
        await journal.append_event(conn, hub.clock(), "device_removed", actor=by, data={"device": device_id})
    hub.forget_device(device_id)


def _slug(text: str, empty: str = "device") -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or empty
