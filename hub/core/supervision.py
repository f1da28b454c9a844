"""Device supervision: silent devices go offline, and a bridge outage is one fault, not fifty.

A device is offline when its driver says so (zigbee2mqtt availability, a UPS lost) or
when it has been silent for longer than its expected report interval. Offline reports
are held for GROUP_WINDOW seconds: if in that time most devices of one driver went
offline together (a broker or radio restart), they are marked offline as a group and
one `sensor_offline` anomaly names the bridge once `offline_grace` has passed; otherwise
each device goes offline on its own and the engine runs its grace timer. Offline is a
fault, never an intrusion: nothing here ever produces a SensorChanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from alarms.model import DeviceHealth, SystemFault

log = logging.getLogger("hub.supervision")  # the name users' [log] levels know (README)

GROUP_WINDOW = 5.0
GROUP_MIN = 3  # fewer devices than this dropping together is not a bridge outage
CHECK_INTERVAL = 10.0


@dataclass
class BridgeOutage:
    since: float
    devices: set[str] = field(default_factory=set)
    raised: bool = False


class Supervision:
    def __init__(
        self,
        *,
        submit: Callable[..., Awaitable[object]],
        devices_of: Callable[[str], list[str]],
        silent_devices: Callable[[float], list[tuple[str, str]]],
        grace: Callable[[], float],
        clock: Callable[[], float],
    ) -> None:
        self.submit = submit
        self.devices_of = devices_of  # driver -> its paired device ids
        self.silent_devices = silent_devices  # now -> [(driver, device id)] silent past their interval
        self.grace = grace
        self.clock = clock
        self.pending: dict[str, dict[str, float]] = {}  # driver -> device -> when it went offline
        self.outages: dict[str, BridgeOutage] = {}
        self.offline: set[str] = set()  # devices we already reported offline

    def note_offline(self, driver: str, device: str, at: float) -> None:
        if device in self.offline:
            return
        self.pending.setdefault(driver, {}).setdefault(device, at)

    async def heard(self, driver: str, device: str) -> bool:
        """A device spoke: cancel a pending offline; returns True if it had been reported offline."""
        self.pending.get(driver, {}).pop(device, None)
        if device not in self.offline:
            return False
        self.offline.discard(device)
        outage = self.outages.get(driver)
        if outage is not None:
            outage.devices.discard(device)
            total = len(self.devices_of(driver))
            if len(outage.devices) < max(1, total / 2):
                # Most devices are back: the bridge works again; stragglers are on their own now.
                del self.outages[driver]
                for straggler in outage.devices:
                    await self.submit(DeviceHealth(device=straggler, online=False), actor="supervision")
                if outage.raised:
                    await self.submit(
                        SystemFault(kind="sensor_offline", active=False, subject=f"bridge:{driver}"),
                        actor="supervision",
                    )
        return True

    async def check(self) -> None:
        now = self.clock()
        for driver, device in self.silent_devices(now):
            self.note_offline(driver, device, now)
        for driver, pending in list(self.pending.items()):
            if not pending or now - min(pending.values()) < GROUP_WINDOW:
                continue
            del self.pending[driver]
            total = len(self.devices_of(driver))
            outage = self.outages.get(driver)
            grouped = outage is not None or (len(pending) >= GROUP_MIN and len(pending) >= total / 2)
            if grouped and outage is None:
                outage = self.outages[driver] = BridgeOutage(since=min(pending.values()))
                log.warning(
                    "%d of %d %s devices went offline together: treating it as a bridge outage",
                    len(pending),
                    total,
                    driver,
                )
            for device in pending:
                self.offline.add(device)
                if outage is not None:
                    outage.devices.add(device)
                await self.submit(DeviceHealth(device=device, online=False, grouped=grouped), actor="supervision")
        for driver, outage in self.outages.items():
            if not outage.raised and now - outage.since >= self.grace():
                outage.raised = True
                await self.submit(
                    SystemFault(kind="sensor_offline", active=True, subject=f"bridge:{driver}"), actor="supervision"
                )

    async def run(self, interval: float = CHECK_INTERVAL) -> None:
        while True:
            await asyncio.sleep(min(interval, GROUP_WINDOW))
            try:
                await self.check()
            except Exception:
                log.exception("supervision check failed")
