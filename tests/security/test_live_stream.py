"""What the WebSocket stream and the incident actions reveal: no contact details to the
installer role, and nothing about a duress incident to anyone holding the screen."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.conftest import RunningHub
from tests.security.conftest import Client, accounts_of

PHONE, EMAIL = "+390000000000", "famiglia@example.invalid"  # the demo contact
DURESS_CODE = "54321"


async def collect(ws: aiohttp.ClientWebSocketResponse, until: Any, timeout: float = 5) -> list[str]:
    """Every text frame until `until(frames)` holds (or the timeout)."""
    frames: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until(frames) and loop.time() < deadline:
        try:
            msg = await ws.receive(timeout=max(0.01, deadline - loop.time()))
        except TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.TEXT:
            frames.append(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            break
    return frames


def ws_headers(client: Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"} if client.kind == "token" else {}


async def wait_sent(owner: Client, count: int) -> None:
    for _ in range(200):
        status, body = await owner.request("GET", "/api/v1/notifications")
        if status == 200 and sum(r["state"] == "sent" for r in body["items"]) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("notifications were not delivered by the log transport")


async def test_installer_stream_has_no_contact_details(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client]
) -> None:
    owner = clients["owner", "token"]
    streams = {}
    for role in ("installer", "owner"):
        client = clients[role, "token"]
        streams[role] = await client.api.session.ws_connect(running_hub.base + "/api/v1/ws", headers=ws_headers(client))
    try:
        status, _ = await owner.request("POST", "/api/v1/demo/zones/simulated-sim-water-1/trigger", {"active": True})
        assert status == 200
        await wait_sent(owner, 3)
        owner_frames = await collect(streams["owner"], lambda f: any(PHONE in x or EMAIL in x for x in f))
        installer_frames = await collect(streams["installer"], lambda f: False, timeout=0.5)
    finally:
        for ws in streams.values():
            await ws.close()
    assert any(PHONE in f or EMAIL in f for f in owner_frames), "the household's stream carries the notifications"
    assert any('"incident"' in f for f in installer_frames), "the installer still hears of the alarm"
    leaked = [f for f in installer_frames if PHONE in f or EMAIL in f]
    assert not leaked, leaked[:2]


async def test_duress_is_invisible_to_the_screen(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client]
) -> None:
    accounts = accounts_of(running_hub)
    await asyncio.to_thread(accounts.set_codes, "demo", code="12345", duress_code=DURESS_CODE)
    owner = clients["owner", "session"]
    ws = await owner.api.session.ws_connect(running_hub.base + "/api/v1/ws")
    try:
        status, body = await owner.request("POST", "/api/v1/system/disarm", {"code": DURESS_CODE})
        assert status == 200, body
        duress = [i for i in running_hub.hub.state.incidents.values() if i.kind == "duress"]
        assert len(duress) == 1, "the duress incident was raised for the centre"
        duress_id = duress[0].id
        # the report to the centre goes out (log transport), and the stream must not tell
        for _ in range(200):
            row = await running_hub.hub.db.fetchone(
                "SELECT state FROM outbox WHERE incident = ? AND channel = 'centre'", (duress_id,)
            )
            if row is not None and row["state"] == "sent":
                break
            await asyncio.sleep(0.025)
        else:
            raise AssertionError("the duress report to the centre was not sent")
        frames = await collect(ws, lambda f: False, timeout=0.5)
    finally:
        await ws.close()
    leaked = [f for f in frames if "duress" in f or f'"{duress_id}"' in f]
    assert not leaked, leaked[:2]
    for frame in frames:
        json.loads(frame)

    # Incident ids are sequential: guessing the duress id must not confirm it, nor close it.
    unknown = "inc-999999"
    for client in (owner, clients["member", "token"]):
        for action in ("ack", "resolve"):
            status, body = await client.request("POST", f"/api/v1/incidents/{duress_id}/{action}", {})
            u_status, u_body = await client.request("POST", f"/api/v1/incidents/{unknown}/{action}", {})
            assert (status, body["error"]) == (u_status, u_body["error"]) == (404, "unknown_incident"), body
        status, body = await client.request("GET", f"/api/v1/incidents/{duress_id}")
        assert status == 404, body
    assert running_hub.hub.state.incidents[duress_id].state == "active", "the centre's duress incident stays open"
