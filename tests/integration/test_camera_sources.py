"""The frame sources against servers that check what cameras check: a snapshot URL behind Basic
and behind Digest auth (RFC 7616, MD5, qop=auth, verified here as a camera verifies it), an
MJPEG stream with a Content-Type boundary and no Content-Length, and RTSP through ffmpeg
failing cleanly (its error redacted, its process reaped)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import re
import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from PIL import Image

from drivers.camera.feed import CameraFeed
from drivers.camera.source import MjpegHttpSource, RtspSource, SnapshotSource, SourceError
from tests.peers import free_port
from tests.peers.ffmpeg import require_ffmpeg

USER, PASSWORD, REALM = "admin", "s3cret-pass", "IPCamera"


def picture(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, shade, shade)).save(out, "JPEG")
    return out.getvalue()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Camera:
    """A camera's HTTP server: /basic.jpg, /digest.jpg, /video (MJPEG without lengths)."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.requests: list[str] = []  # path and the auth scheme each request carried

    def basic_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return header == expected

    def digest_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        if fields.get("username") != USER or fields.get("nonce") != self.nonce or fields.get("realm") != REALM:
            return False
        ha1 = md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = md5(f"{request.method}:{fields['uri']}")
        expected = md5(f"{ha1}:{self.nonce}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
        return fields.get("response") == expected and fields.get("uri") == request.path_qs

    async def basic(self, request: web.Request) -> web.Response:
        self.requests.append(f"basic:{request.headers.get('Authorization', '').split(' ')[0] or '-'}")
        if not self.basic_ok(request):
            return web.Response(status=401, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
        return web.Response(body=picture(len(self.requests) * 20 % 250), content_type="image/jpeg")

    async def digest(self, request: web.Request) -> web.Response:
        self.requests.append(f"digest:{request.headers.get('Authorization', '').split(' ')[0] or '-'}")
        if not self.digest_ok(request):
            challenge = f'Digest realm="{REALM}", qop="auth", nonce="{self.nonce}", algorithm=MD5'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        return web.Response(body=picture(len(self.requests) * 20 % 250), content_type="image/jpeg")

    async def video(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=--myboundary"})
        await response.prepare(request)
        for shade in range(0, 250, 10):
            await response.write(b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\n" + picture(shade) + b"\r\n")
            await asyncio.sleep(0.05)
        return response


@pytest.fixture
async def camera() -> AsyncIterator[tuple[Camera, str]]:
    cam = Camera()
    app = web.Application()
    app.router.add_get("/basic.jpg", cam.basic)
    app.router.add_get("/digest.jpg", cam.digest)
    app.router.add_get("/video", cam.video)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield cam, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def take(source: object, count: int) -> list[bytes]:
    """`count` frames, then the iterator is closed (as CameraFeed closes it: the upstream ends)."""
    frames: list[bytes] = []
    async with contextlib.aclosing(source.frames()) as stream:  # type: ignore[attr-defined]
        async for frame in stream:
            frames.append(frame)
            if len(frames) >= count:
                break
    return frames


@pytest.mark.parametrize("scheme", ["basic", "digest"])
async def test_snapshot_url_with_credentials(camera: tuple[Camera, str], scheme: str) -> None:
    cam, base = camera
    source = SnapshotSource(f"{base}/{scheme}.jpg", fps=20, username=USER, password=PASSWORD)
    frames = await asyncio.wait_for(take(source, 3), 10)
    assert all(f.startswith(b"\xff\xd8") for f in frames)
    # The scheme was learnt at the first 401 and used from then on.
    assert cam.requests[0] == f"{scheme}:-"
    assert all(r == f"{scheme}:{scheme.capitalize()}" for r in cam.requests[-3:])


async def test_wrong_password_is_a_clear_error_without_the_password(camera: tuple[Camera, str]) -> None:
    _, base = camera
    for scheme in ("basic", "digest"):
        source = SnapshotSource(f"{base}/{scheme}.jpg", fps=5, username=USER, password="wrong-one")
        with pytest.raises(SourceError, match="HTTP 401: check the camera's username and password") as info:
            await asyncio.wait_for(take(source, 1), 10)
        assert "wrong-one" not in str(info.value)


async def test_mjpeg_boundary_from_the_header_and_frames_without_length(camera: tuple[Camera, str]) -> None:
    _, base = camera
    frames = await asyncio.wait_for(take(MjpegHttpSource(f"{base}/video"), 5), 10)
    assert len(frames) == 5 and all(f.startswith(b"\xff\xd8") and f.endswith(b"\xff\xd9") for f in frames)


class Counting:
    """A source that counts what the camera sent, to compare with what the feed passed on."""

    def __init__(self, inner: MjpegHttpSource) -> None:
        self.inner = inner
        self.sent = 0

    async def frames(self) -> AsyncIterator[bytes]:
        async for frame in self.inner.frames():
            self.sent += 1
            yield frame


async def test_feed_passes_on_fewer_frames_than_a_fast_camera_sends(camera: tuple[Camera, str]) -> None:
    _, base = camera  # the camera sends a burst of 25 frames at 20 frames/s; the feed caps at 2
    source = Counting(MjpegHttpSource(f"{base}/video"))
    feed = CameraFeed(source, name="cam", address="cam", fps=2.0)
    runner = asyncio.create_task(feed.run())
    try:
        async with feed.need("test"):
            seq = 0
            while source.sent < 20:
                frame = await feed.next_frame(seq, timeout=5)
                assert frame is not None, feed.last_error
                seq = frame.seq
        assert feed.latest is not None and feed.latest.seq < source.sent, (feed.latest, source.sent)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_rtsp_failure_is_redacted_and_ffmpeg_reaped() -> None:
    require_ffmpeg()
    port = free_port()  # nothing listens there
    source = RtspSource(f"rtsp://127.0.0.1:{port}/stream1", fps=2, username=USER, password=PASSWORD)
    assert source.command()[source.command().index("-rtsp_transport") + 1] == "tcp"
    with pytest.raises(SourceError) as info:
        await asyncio.wait_for(take(source, 1), 20)
    assert PASSWORD not in str(info.value) and "***@127.0.0.1" in str(info.value)
    assert source.started == 1


class LavfiSource(RtspSource):
    """RtspSource's process handling with ffmpeg's own test picture in place of an RTSP camera
    (there is no RTSP server among the Debian peers): same output side, `-f mpjpeg pipe:1`."""

    def command(self) -> list[str]:
        rtsp = super().command()
        output = rtsp[rtsp.index("-an") :]
        return [self.ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=rate=10", *output]


async def test_ffmpeg_pipe_gives_frames_and_is_killed_when_closed() -> None:
    require_ffmpeg()
    source = LavfiSource("rtsp://127.0.0.1/unused", fps=5)
    frames = await asyncio.wait_for(take(source, 3), 20)  # take() closes the iterator after 3
    assert len(frames) == 3 and all(f.startswith(b"\xff\xd8") and f.endswith(b"\xff\xd9") for f in frames)
    assert source.process is not None and source.process.returncode is not None  # killed and reaped
