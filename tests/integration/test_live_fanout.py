"""The live stream under a storm (issue 19, hub/core/fanout.py): several dashboards, one of them
not reading while 24h zones fire again and again; afterwards each has every activation, in
order, and ends with the system snapshot the API shows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from alarms.model import SensorChanged
from tests.conftest import Api, RunningHub
from tests.peers import wait_until

ZONES = ("simulated-sim-water-1", "simulated-sim-smoke-1", "simulated-sim-panic-1", "simulated-sim-power-1")
ROUNDS = 15


async def test_every_dashboard_gets_every_activation_and_the_latest_snapshot(running_hub: RunningHub, api: Api) -> None:
    hub = running_hub.hub
    sockets = [await api.session.ws_connect(api.base + "/api/v1/ws") for _ in range(4)]
    try:
        seen: list[list[dict[str, Any]]] = [[] for _ in sockets]

        async def read(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    into.append(json.loads(msg.data))

        # Three dashboards read; the last reads nothing until the storm is over.
        readers = [asyncio.create_task(read(ws, into)) for ws, into in zip(sockets[:-1], seen[:-1], strict=True)]
        await wait_until(lambda: all(seen[:-1]), what="the first system messages")
        for _ in range(ROUNDS):
            for zone in ZONES:
                await hub.submit(SensorChanged(zone=zone, active=True), actor="test")
                await hub.submit(SensorChanged(zone=zone, active=False), actor="test")
        readers.append(asyncio.create_task(read(sockets[-1], seen[-1])))

        journaled = await hub.db.fetchall(
            "SELECT kind, incident FROM events WHERE kind IN ('incident_opened', 'activation_added') ORDER BY id"
        )
        assert len(journaled) >= len(ZONES) * ROUNDS

        def caught_up(messages: list[dict[str, Any]], system: dict[str, Any]) -> bool:
            incidents = [m for m in messages if m.get("type") == "incident"]
            snapshots = [m["system"] for m in messages if m.get("type") == "system"]
            return len(incidents) >= len(journaled) and bool(snapshots) and snapshots[-1] == system

        for n, messages in enumerate(seen):
            # The system may still change (a delivery fails, a fault is raised): the API's
            # snapshot is read again until the dashboard's last one is the same.
            for _ in range(200):
                if caught_up(messages, await api.get("/api/v1/system")):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"dashboard {n} never caught up")
            activations = [
                (m["incident"]["id"], len(m["incident"]["activations"]))
                for m in messages
                if m.get("type") == "incident"
            ]
            # One message per activation journaled, in the order they were committed.
            assert [incident for incident, _ in activations] == [row["incident"] for row in journaled]
            for incident in {incident for incident, _ in activations}:
                counts = [count for i, count in activations if i == incident]
                assert counts == sorted(counts)
    finally:
        for task in readers:
            task.cancel()
        for ws in sockets:
            await ws.close()


async def test_the_stream_is_not_deflated_per_dashboard(running_hub: RunningHub, api: Api) -> None:
    # Browsers offer permessage-deflate; accepted, every message would be compressed again for
    # each dashboard (its own deflate context), undoing the fan-out's one encoding for all.
    async with api.session.ws_connect(api.base + "/api/v1/ws", compress=15) as ws:
        assert ws.compress == 0
        assert "Sec-WebSocket-Extensions" not in ws._response.headers
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"]
