"""Supervision: single devices go offline on their own; a bridge outage is one anomaly."""

from __future__ import annotations

from typing import Any

from alarms.model import DeviceHealth, SystemFault
from hub.core.supervision import GROUP_WINDOW, Supervision


class Rig:
    def __init__(self, devices: int = 10, grace: float = 600) -> None:
        self.now = 1000.0
        self.submitted: list[Any] = []
        self.devices = [f"d{i}" for i in range(devices)]
        self.silent: list[tuple[str, str]] = []
        self.sup = Supervision(
            submit=self.submit,
            devices_of=lambda driver: list(self.devices),
            silent_devices=lambda now: list(self.silent),
            grace=lambda: grace,
            clock=lambda: self.now,
        )

    async def submit(self, event: Any, actor: str | None = None) -> None:
        self.submitted.append(event)


async def test_one_device_offline_is_its_own_fault() -> None:
    rig = Rig()
    rig.sup.note_offline("zigbee2mqtt", "d1", rig.now)
    await rig.sup.check()
    assert rig.submitted == []  # held for the group window
    rig.now += GROUP_WINDOW
    await rig.sup.check()
    assert rig.submitted == [DeviceHealth(device="d1", online=False, grouped=False)]
    assert await rig.sup.heard("zigbee2mqtt", "d1")


async def test_many_devices_dropping_together_are_one_bridge_anomaly() -> None:
    rig = Rig(devices=10, grace=60)
    for i in range(8):
        rig.sup.note_offline("zigbee2mqtt", f"d{i}", rig.now)
    rig.now += GROUP_WINDOW
    await rig.sup.check()
    assert len(rig.submitted) == 8 and all(e.grouped for e in rig.submitted)
    rig.now += 60
    await rig.sup.check()
    faults = [e for e in rig.submitted if isinstance(e, SystemFault)]
    assert faults == [SystemFault(kind="sensor_offline", active=True, subject="bridge:zigbee2mqtt")]
    await rig.sup.check()
    assert len([e for e in rig.submitted if isinstance(e, SystemFault)]) == 1
    before = len(rig.submitted)
    for i in range(4):  # most of the ten are back (only 4 of 10 still out): the bridge works again
        await rig.sup.heard("zigbee2mqtt", f"d{i}")
    cleared = [e for e in rig.submitted if isinstance(e, SystemFault) and not e.active]
    assert cleared == [SystemFault(kind="sensor_offline", active=False, subject="bridge:zigbee2mqtt")]
    # The four still silent now count on their own (a grace timer each in the engine).
    stragglers = [e for e in rig.submitted[before:] if isinstance(e, DeviceHealth)]
    assert {e.device for e in stragglers} == {"d4", "d5", "d6", "d7"} and not any(e.grouped for e in stragglers)


async def test_silent_devices_are_noticed() -> None:
    rig = Rig()
    rig.silent = [("bthome", "d3")]
    await rig.sup.check()
    rig.now += GROUP_WINDOW
    await rig.sup.check()
    assert rig.submitted == [DeviceHealth(device="d3", online=False, grouped=False)]
    await rig.sup.check()
    assert len(rig.submitted) == 1  # reported once


async def test_a_device_heard_within_the_window_is_not_reported() -> None:
    rig = Rig()
    rig.sup.note_offline("zigbee2mqtt", "d1", rig.now)
    assert not await rig.sup.heard("zigbee2mqtt", "d1")
    rig.now += GROUP_WINDOW
    await rig.sup.check()
    assert rig.submitted == []
