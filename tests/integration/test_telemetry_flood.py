"""A flood of telemetry (issue 19): while a driver's stream is fed far more battery/signal
readings than the hub can read, the queue stays bounded by the number of devices, an alarm
still gets through, every state change is applied, the shed telemetry shows in the metrics
and each device ends with the newest values it reported (drivers/base.py ReadingStream)."""

from __future__ import annotations

import asyncio

from drivers.base import HealthReading, Reading, ReadingStream, is_routine
from hub.export.metrics import render_metrics
from tests.conftest import RunningHub
from tests.integration.test_metrics import parse, value
from tests.peers import wait_until

NEIGHBOURS = 300  # addresses the radio hears that are not paired (the street's sensors)
BURST = 2_000  # readings put per loop turn: far more than the hub reads in one
# How long the alarm and the offline news may take through the flood: a liveness bound, generous
# because the flood shares the event loop with the hub on a machine that may be busy.
THROUGH = 60.0


async def test_an_alarm_gets_through_a_flood_and_the_queue_stays_bounded(running_hub: RunningHub) -> None:
    hub = running_hub.hub
    simulated = running_hub.daemon.drivers["simulated"]
    stream: ReadingStream = simulated._stream
    paired = [d.address for d in hub.devices.values() if d.driver == "simulated"]
    addresses = paired + [f"street-{n}" for n in range(NEIGHBOURS)]
    water = next(d for d in hub.devices.values() if d.driver == "simulated" and d.address == "sim-water-1")
    last: dict[str, tuple[float, int]] = {}
    high_water = 0
    flooding = True
    spare = ""  # an address the flood leaves alone (telemetry of a device marks it heard, online)
    n_put = 0
    # Urgent readings anyone put meanwhile (the alarm, the driver's own heartbeats and outputs'
    # reports): each may take one waiting telemetry reading of its device along.
    urgent = 0
    put = stream.put

    def counting_put(reading: Reading) -> None:
        nonlocal urgent
        urgent += not is_routine(reading)
        put(reading)

    stream.put = counting_put  # type: ignore[method-assign]

    async def flood() -> None:
        nonlocal high_water, n_put
        n = 0
        while flooding:
            for _ in range(BURST):
                address = addresses[n % len(addresses)]
                if address == spare:
                    n += 1
                    continue
                battery, signal = float(30 + n % 60), -40 - n % 50
                stream.put(HealthReading(address=address, at=hub.clock(), battery=battery, signal=signal))
                last[address] = (battery, signal)
                n += 1
            n_put = n
            # Bounded by the devices heard (one waiting reading each) plus urgent news, never by
            # the thousands put since the hub last read.
            assert stream.qsize() <= len(addresses) + 2 * urgent
            high_water = max(high_water, stream.qsize())
            await asyncio.sleep(0)

    flooder = asyncio.create_task(flood())
    try:
        await wait_until(lambda: high_water > 0, what="the flood to start")
        await simulated.set_active("sim-water-1", "water", True)
        await wait_until(
            lambda: any(i.kind == "water" and i.state == "active" for i in hub.state.incidents.values()),
            THROUGH,
            what="the water alarm, through the flood",
        )
        await simulated.set_active("sim-water-1", "water", False)
        # Health news is never shed; the flood spares this device from now, or its next battery
        # reading would rightly bring it back online before the check below could see it offline.
        spare = water.address
        await wait_until(lambda: stream.qsize() <= len(addresses), what="the flood to go on")
        await simulated.set_online(water.address, False)
        await wait_until(lambda: not water.online, THROUGH, what="the device going offline, through the flood")
    finally:
        flooding = False
        await flooder
        stream.put = put  # type: ignore[method-assign]
    assert high_water <= len(addresses) + 2 * urgent
    assert n_put > 10 * high_water  # the flood was a flood: far more put than ever waited
    await wait_until(lambda: stream.qsize() == 0, what="the stream to drain")

    _, samples = parse(
        await render_metrics(hub, drivers=running_hub.daemon.drivers, dispatcher=hub.dispatcher, loop_lag=0.0)
    )
    assert value(samples, "casahub_telemetry_shed_total", driver="simulated", reason="coalesced") > 0

    # The newest battery and signal of every paired device reached the hub (the offline one's
    # from before it went quiet).
    for device in hub.devices.values():
        if device.driver == "simulated" and device.address in last:
            assert (device.battery, device.signal) == last[device.address]
