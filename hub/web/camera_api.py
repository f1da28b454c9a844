"""The camera routes: list, live MJPEG view, snapshot, motion events from the camera, and the
photos of an intrusion incident.

Who: the household (owner, member) watches and sees incident photos; installers may list
cameras (to check them while commissioning) but never see a picture. Every live view and
every picture shown is an event in the audit trail with the user. A camera reports motion
with its own token (owner-issued, shown once; `Authorization: Bearer` or `?token=`), or an
owner may post the same event (to test the zone). Stream responses end when the client
goes away, when the camera's feed stops, and when the hub shuts down (like WebSockets).

`GET/PATCH /api/v1/cameras/settings` `{"record_when_disarmed": bool}`: the household may read the
privacy setting, only the owner may change it, and every change is in the audit trail.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web

from drivers.capabilities import CameraControls
from hub.cameras.catalog import camera_refs
from hub.cameras.settings import load_record_when_disarmed, save_record_when_disarmed
from hub.cameras.snapshots import CameraRef, list_snapshots, snapshot_path
from hub.cameras.tokens import PREFIX, CameraTokens
from hub.store.accounts import Principal
from hub.web.auth import EVERYONE, HOUSEHOLD, OWNERS, PRINCIPAL, authenticate, require
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed

__all__ = ["add_camera_routes", "incident_snapshots"]

BOUNDARY = "casahubframe"
KEEPALIVE = 5.0  # seconds: the last frame is sent again, so a client that went away is noticed
CREDENTIAL_RECHECK = 2.0  # seconds between credential checks of an open live view
STREAM_HEADERS = {
    "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# Set on shutdown: open live views end (else the hub would wait for every viewer to leave).
STOPPING: web.AppKey[asyncio.Event] = web.AppKey("casahub_camera_stopping", asyncio.Event)


async def _stop_streams(app: web.Application) -> None:
    app[STOPPING].set()


def _ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def _camera_or_404(request: web.Request) -> CameraRef:
    ctx = _ctx(request)
    camera_id = request.match_info["id"]
    for ref in camera_refs(ctx.hub, ctx.drivers):
        if ref.id == camera_id:
            return ref
    raise ApiError(404, "unknown_camera", f"no camera {camera_id!r}")


def _camera_json(ctx: WebContext, ref: CameraRef) -> dict[str, Any]:
    device = ctx.hub.devices.get(ref.id)
    online = ref.feed.online is not False and (device is None or device.online)
    return {
        "id": ref.id,
        "name": device.name if device is not None else ref.feed.name,
        "room": device.room if device is not None else "",
        "online": online,
        "motion": ref.driver.motion if isinstance(ref.driver, CameraControls) else "off",
    }


async def cameras(request: web.Request) -> web.Response:
    require(request, EVERYONE)
    ctx = _ctx(request)
    return web.json_response({"items": [_camera_json(ctx, ref) for ref in camera_refs(ctx.hub, ctx.drivers)]})


def _part(data: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
    return head + data + b"\r\n"


async def stream(request: web.Request) -> web.StreamResponse:
    principal = require(request, HOUSEHOLD)
    ref = _camera_or_404(request)
    ctx = _ctx(request)
    if request.method == "HEAD":  # no body to send, so no way to notice the client leaving: answer at once
        return web.Response(headers=STREAM_HEADERS)
    await ctx.hub.audit("camera_viewed", actor=principal.name, data={"camera": ref.id})
    stopping = request.app[STOPPING]
    feed = ref.feed
    response = web.StreamResponse(headers=STREAM_HEADERS)
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    try:
        async with feed.need(f"viewer:{principal.name}"):
            seq = 0
            sent_at = checked_at = loop.time()
            while not stopping.is_set() and not feed.stopped:
                if loop.time() - checked_at >= CREDENTIAL_RECHECK:
                    # Logged out, token revoked or expired: the live view ends too (as the WebSocket does).
                    if await authenticate(ctx, request) is None:
                        break
                    checked_at = loop.time()
                frame = await feed.next_frame(seq, timeout=1.0)
                if frame is None:
                    if feed.latest is None or loop.time() - sent_at < KEEPALIVE:
                        continue
                    frame = feed.latest  # nothing new (camera offline?): the last frame again
                seq = frame.seq
                await response.write(_part(frame.data))
                sent_at = loop.time()
    except ConnectionError:
        pass  # the viewer went away: the need is released above, the upstream may close
    return response


async def snapshot(request: web.Request) -> web.Response:
    principal = require(request, HOUSEHOLD)
    ref = _camera_or_404(request)
    ctx = _ctx(request)
    frame = await ref.feed.snapshot()
    if frame is None:
        raise ApiError(503, "camera_offline", f"camera {ref.id} sent no picture: {ref.feed.last_error or 'offline'}")
    await ctx.hub.audit("camera_snapshot", actor=principal.name, data={"camera": ref.id})
    return web.Response(body=frame.data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _tokens(ctx: WebContext) -> CameraTokens:
    if ctx.data_dir is None:
        raise ApiError(503, "no_data_dir", "this hub keeps no data directory: camera tokens are unavailable")
    return CameraTokens(ctx.data_dir)


async def issue_token(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    ref = _camera_or_404(request)
    ctx = _ctx(request)
    # A new token replaces the one the camera reports motion with: its zone would go quiet.
    refuse_while_armed(ctx.hub)
    if not (isinstance(ref.driver, CameraControls) and ref.driver.motion == "camera"):
        raise _no_camera_motion(ref)
    secret = await asyncio.to_thread(_tokens(ctx).issue, ref.id)
    await ctx.hub.audit("camera_token_issued", actor=principal.name, data={"camera": ref.id})
    base = f"{request.scheme}://{request.host}/api/v1/cameras/{ref.id}/events"
    return web.json_response({"camera": ref.id, "token": secret, "url": f"{base}?token={secret}"}, status=201)


class EventBody(msgspec.Struct, forbid_unknown_fields=True):
    motion: bool = True


def _no_camera_motion(ref: CameraRef) -> ApiError:
    return ApiError(409, "no_camera_motion", f'camera {ref.id} does not report motion itself (set motion = "camera")')


def _camera_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip().startswith(PREFIX):
        return header[7:].strip()
    return request.query.get("token", "")


async def camera_event(request: web.Request) -> web.Response:
    """Motion from the camera itself. The auth middleware lets a request without a user through
    to here (see `own_auth`); it must then carry this camera's token."""
    ctx = _ctx(request)
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is not None:
        require(request, OWNERS)
    ref = _camera_or_404(request) if principal is not None else None
    if principal is None:
        token = _camera_token(request)
        camera_id = request.match_info["id"]
        valid = bool(token) and token.isascii() and await asyncio.to_thread(_tokens(ctx).check, camera_id, token)
        if not valid:
            raise ApiError(401, "unauthorized", "log in, or send this camera's token (Bearer or ?token=)")
        ref = _camera_or_404(request)
    assert ref is not None
    body = await read_body(request, EventBody)
    if not (isinstance(ref.driver, CameraControls) and ref.driver.motion == "camera"):
        raise _no_camera_motion(ref)
    ref.driver.camera_event(body.motion)
    await ctx.hub.settle(0.5)
    return web.json_response({"camera": ref.id, "motion": body.motion})


camera_event.own_auth = True  # type: ignore[attr-defined]


async def incident_snapshots(ctx: WebContext, incident: str) -> list[dict[str, Any]]:
    """The `snapshots` of `GET /api/v1/incidents/{id}`."""
    if ctx.data_dir is None:
        return []
    found = await asyncio.to_thread(list_snapshots, ctx.data_dir, incident)
    return [
        {"url": f"/api/v1/incidents/{s.incident}/snapshots/{s.name}", "at": ctx.hub.iso(s.at), "camera": s.camera}
        for s in found
    ]


async def incident_snapshot(request: web.Request) -> web.Response:
    principal = require(request, HOUSEHOLD)
    ctx = _ctx(request)
    incident, name = request.match_info["id"], request.match_info["name"]
    row = await ctx.hub.db.fetchone("SELECT kind FROM incidents WHERE id = ?", (incident,))
    path = None
    if row is not None and row["kind"] != "duress" and ctx.data_dir is not None:
        path = await asyncio.to_thread(snapshot_path, ctx.data_dir, incident, name)
    if path is None:
        raise ApiError(404, "unknown_snapshot", f"no snapshot {name!r} of incident {incident!r}")
    data = await asyncio.to_thread(path.read_bytes)
    await ctx.hub.audit("snapshot_viewed", actor=principal.name, data={"incident": incident, "snapshot": name})
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


class SettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    record_when_disarmed: bool


async def get_settings(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    on = await load_record_when_disarmed(_ctx(request).hub.db)
    return web.json_response({"record_when_disarmed": on})


async def patch_settings(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    body = await read_body(request, SettingsBody)
    ctx = _ctx(request)
    await save_record_when_disarmed(ctx.hub.db, body.record_when_disarmed)
    recorder = getattr(ctx.hub, "photos", None)
    if recorder is not None:
        recorder.record_when_disarmed = body.record_when_disarmed
    await ctx.hub.audit(
        "camera_settings_changed", actor=principal.name, data={"record_when_disarmed": body.record_when_disarmed}
    )
    return web.json_response({"record_when_disarmed": body.record_when_disarmed})


def add_camera_routes(app: web.Application) -> None:
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    r = app.router
    r.add_get("/api/v1/cameras", cameras)
    r.add_get("/api/v1/cameras/settings", get_settings)
    r.add_patch("/api/v1/cameras/settings", patch_settings)
    r.add_get("/api/v1/cameras/{id}/stream", stream)
    r.add_get("/api/v1/cameras/{id}/snapshot", snapshot)
    r.add_post("/api/v1/cameras/{id}/token", issue_token)
    r.add_post("/api/v1/cameras/{id}/events", camera_event)
    r.add_get("/api/v1/incidents/{id}/snapshots/{name}", incident_snapshot)
