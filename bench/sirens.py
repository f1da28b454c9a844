"""From a sensor's message to the siren's command on the wire, through the whole hub.

A demo hub runs in-process with a zigbee2mqtt driver on a real Mosquitto (tests.peers), as
tests/integration/test_outputs_zigbee.py does: the bench plays zigbee2mqtt (a retained device
list with a door contact and a Woox R7051 siren, paired through the API). Per sample, armed
away with no delays and the door an instant zone:

    the door's state message published to the broker   (time.perf_counter() just before)
      -> the driver's reading -> the engine step committed -> the output command row
      -> the command dispatcher -> the driver publishes <base>/<siren>/set {"warning": burglar}
    the bench's own MQTT client receives that /set       (stamped on arrival)

so the number includes two broker hops, as a real installation has. Then disarm (the siren's
`stop` is awaited too), close the door and arm again. The siren answers as the Woox does (it
publishes `alarm`), so every command is confirmed and nothing is re-sent.

    python -m bench.sirens [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import msgspec

from alarms.model import ArmRequest, Configure, DisarmRequest
from bench.common import DEFAULT_OUTPUT, Report, latency_row, merge_results, now_iso
from tests.conftest import Api, start_hub
from tests.integration import test_zigbee2mqtt as sensors
from tests.integration import test_zigbee2mqtt_outputs as sirens
from tests.integration.test_outputs_zigbee import pair, wait_candidates
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto

SECTION = "9. siren: sensor message -> siren command published (zigbee2mqtt, Mosquitto)"
TARGET_P99_MS = 25.0
BASE = "zigbee2mqtt"
DOOR, SIREN = sensors.DOOR, sirens.WOOX
NAMES = {DOOR: "Porta ingresso", SIREN: sirens.NAMES[SIREN]}
CONFIG = """
[alarm]
exit_delay = 0
entry_delay = 0
siren_time = 600

[[drivers]]
type = "zigbee2mqtt"
host = "127.0.0.1"
port = {port}
"""


class Bridge:
    """zigbee2mqtt's side: the /set messages the hub publishes, stamped on arrival, and the siren's answers."""

    def __init__(self, mqtt: aiomqtt.Client) -> None:
        self.mqtt = mqtt
        self.sets: list[tuple[float, dict[str, Any]]] = []

    async def publish(self, ieee: str, payload: dict[str, Any]) -> None:
        await self.mqtt.publish(f"{BASE}/{NAMES[ieee]}", json.dumps(payload), qos=1)

    async def serve(self) -> None:
        async for message in self.mqtt.messages:
            arrived = time.perf_counter()
            payload = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            self.sets.append((arrived, payload))
            if message.topic.value == f"{BASE}/{NAMES[SIREN]}/set" and "warning" in payload:
                await self.publish(SIREN, {"alarm": payload["warning"]["mode"] != "stop", "battery": 90})

    def modes(self, since: int) -> list[tuple[float, str]]:
        return [(at, p["warning"]["mode"]) for at, p in self.sets[since:] if isinstance(p.get("warning"), dict)]

    async def wait_for(self, mode: str, since: int, what: str) -> None:
        await wait_until(lambda: any(m == mode for _, m in self.modes(since)), 10, f"{what}: {mode}")


def _device_list() -> list[dict[str, Any]]:
    network = [d for d in sensors.device_list() if d["ieee_address"] == DOOR or d["type"] == "Coordinator"]
    return network + [d for d in sirens.device_list() if d["ieee_address"] == SIREN]


async def _measure(folder: Path, samples: int) -> list[float]:
    broker = Mosquitto(folder / "mosquitto")
    await broker.start()
    config = folder / "casahub.toml"
    config.write_text(CONFIG.format(port=broker.port))
    try:
        async with AsyncExitStack() as stack:
            mqtt = await stack.enter_async_context(aiomqtt.Client(broker.host, broker.port))
            await mqtt.subscribe(f"{BASE}/+/set", qos=1)
            await mqtt.publish(f"{BASE}/bridge/devices", json.dumps(_device_list()), qos=1, retain=True)
            bridge = Bridge(mqtt)
            serving = asyncio.create_task(bridge.serve())
            stack.callback(serving.cancel)
            running = await start_hub(folder / "data", config=config)
            stack.push_async_callback(running.stop)
            session = await stack.enter_async_context(aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
            api = Api(running.base, session)
            await api.login()
            hub = running.hub
            await _pair(api)
            settings = msgspec.structs.replace(hub.state.settings, exit_delay=0.0, entry_delay=0.0)
            await hub.submit(Configure(settings=settings), actor="bench")
            door_closed = {**sensors.DOOR_STATE, "contact": True}
            await bridge.publish(DOOR, door_closed)
            zone = next(z.id for z in hub.state.zones.values() if z.name == NAMES[DOOR])
            await wait_until(lambda: not hub.state.zones[zone].active, 10, "the door closed")
            values: list[float] = []
            for n in range(samples):
                await hub.submit(ArmRequest(mode="away", by="bench"))
                assert hub.state.mode == "armed_away", hub.state.mode
                await asyncio.sleep(0.05)  # the arming squawk, if any, is out of the way
                since = len(bridge.sets)
                started = time.perf_counter()
                await bridge.publish(DOOR, {**sensors.DOOR_STATE, "contact": False})
                await bridge.wait_for("burglar", since, f"sample {n}")
                values.append(next(at for at, m in bridge.modes(since) if m == "burglar") - started)
                stop_from = len(bridge.sets)
                await hub.submit(DisarmRequest(by="bench"))
                await bridge.wait_for("stop", stop_from, f"sample {n}")
                await bridge.publish(DOOR, door_closed)
                await wait_until(lambda: not hub.state.zones[zone].active, 10, f"sample {n}: the door closed")
                await asyncio.sleep(0.05)  # the siren's `alarm: false` answer is in before the next arming
            return values
    finally:
        broker.kill()


async def _pair(api: Api) -> None:
    await wait_candidates(api, (DOOR, SIREN))
    await pair(api, DOOR, NAMES[DOOR], zones=[{"kind": "contact", "behaviour": "instant"}])
    await pair(api, SIREN, NAMES[SIREN], outputs=[{"kind": "siren"}])


def run(folder: Path, report: Report, floor: dict[str, float] | None, *, samples: int = 100) -> dict[str, Any]:
    started = time.monotonic()
    values = asyncio.run(_measure(folder, samples))
    row, entry = latency_row(SECTION, "door message -> siren /set (burglar)", values, floor, p99_max_ms=TARGET_P99_MS)
    report.add(row)
    return {
        "date": now_iso(),
        "samples": samples,
        "seconds": round(time.monotonic() - started, 1),
        "published": entry,
        "method": "bench publishes the door's zigbee2mqtt state -> its MQTT client receives the siren's /set",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sirens", description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="casahub-bench-") as folder:
        result = run(Path(folder), report, None, samples=args.samples)
    print(report.render())
    merge_results(args.output, {"sirens": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
