"""Where a camera's frames come from: one upstream session at a time, as an async iterator of JPEGs.

A `FrameSource.frames()` opens the upstream, yields whole JPEG frames as they arrive and
ends (or raises `SourceError`) when the upstream does; closing the iterator (aclose, or
cancelling the task that iterates it) closes the upstream: the HTTP connection, or the
ffmpeg process. Sources never retry: `drivers.camera.feed.CameraFeed` decides when to connect.

- `MjpegHttpSource`: a `multipart/x-mixed-replace` HTTP stream, parsed by `MjpegParser`.
- `SnapshotSource`: a URL that answers one JPEG, polled at the frame rate.
- `RtspSource`: `ffmpeg -rtsp_transport tcp -i URL -f mpjpeg -q:v 5 -r FPS pipe:1`, its
  stdout parsed as MJPEG; the process is started when iterated and killed when closed.
- `DemoSource`: frames drawn in-process with Pillow (a moving pattern and a clock), so the
  demo shows live view without a camera or ffmpeg.

HTTP credentials: with `username`/`password` the first request goes without them; a 401
that asks for Digest is answered by aiohttp's DigestAuthMiddleware, one that asks for Basic
by Basic auth (remembered for the next connections). Credentials are never logged: every
URL in a message goes through `redact()`. Redirects are never followed (a 3xx is a
`SourceError` saying so): the camera's URL in the config must be the final one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import math
import re
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

from drivers.base import DriverError
from drivers.camera.mjpeg import DEFAULT_MAX_FRAME, SOI, MjpegParser, boundary_from_content_type

__all__ = [
    "DemoSource",
    "FrameSource",
    "MjpegHttpSource",
    "RtspSource",
    "SnapshotSource",
    "SourceError",
    "redact",
]

CONNECT_TIMEOUT = 10.0
READ_CHUNK = 64 * 1024
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


class SourceError(DriverError):
    """The upstream cannot be reached or sent something unusable; the message never holds a password."""


class FrameSource(Protocol):
    def frames(self) -> AsyncIterator[bytes]:
        """One upstream session: whole JPEG frames until it ends."""
        ...


def redact(text: str) -> str:
    """`rtsp://admin:secret@cam/x` -> `rtsp://***@cam/x` (in URLs and in ffmpeg's messages)."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


class _HttpAuth:
    """The credentials of one camera and the scheme it turned out to want (learnt at the first 401)."""

    def __init__(self, username: str | None, password: str | None) -> None:
        self.username = username
        self.password = password
        self.scheme: str | None = None  # "basic" | "digest" once known

    def session(self, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
        if self.username is not None and self.scheme != "basic":
            digest = aiohttp.DigestAuthMiddleware(self.username, self.password or "", preemptive=True)
            return aiohttp.ClientSession(timeout=timeout, middlewares=(digest,))
        return aiohttp.ClientSession(timeout=timeout)

    def headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self.username is not None and self.scheme == "basic":
            headers["Authorization"] = aiohttp.encode_basic_auth(self.username, self.password or "")
        return headers

    def learn(self, response: aiohttp.ClientResponse) -> bool:
        """After a 401: True when retrying with Basic auth may help."""
        challenge = response.headers.get("WWW-Authenticate", "").lower()
        if self.username is not None and self.scheme is None and challenge.startswith("basic"):
            self.scheme = "basic"
            return True
        return False


@contextlib.asynccontextmanager
async def _get(
    session: aiohttp.ClientSession, auth: _HttpAuth, url: str, accept: str
) -> AsyncIterator[aiohttp.ClientResponse]:
    """One GET, answering a Basic challenge once; any failure is a SourceError without secrets."""
    shown = redact(url)
    try:
        for _ in range(2):
            async with session.get(url, headers=auth.headers(accept), allow_redirects=False) as response:
                if 300 <= response.status < 400:
                    # Never followed: the next hop could be the hub itself or anything on the LAN,
                    # and the camera's credentials would go along.
                    location = redact(response.headers.get("Location", ""))[:120]
                    raise SourceError(
                        f"{shown}: HTTP {response.status}, a redirect to {location!r}: redirects are never"
                        " followed; put the final address in the camera's config"
                    )
                if response.status == 401 and auth.learn(response):
                    continue  # the camera wants Basic: once more with it
                if response.status in (401, 403):
                    raise SourceError(f"{shown}: HTTP {response.status}: check the camera's username and password")
                if response.status != 200:
                    raise SourceError(f"{shown}: HTTP {response.status}")
                if auth.username is not None and auth.scheme is None:
                    auth.scheme = "digest"  # or none needed: the middleware copes either way
                yield response
                return
    except (aiohttp.ClientError, OSError) as exc:
        raise SourceError(f"{shown}: {redact(str(exc)) or type(exc).__name__}") from None


class MjpegHttpSource:
    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.url = url
        self.max_frame = max_frame
        self._auth = _HttpAuth(username, password)

    async def frames(self) -> AsyncIterator[bytes]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
        async with (
            self._auth.session(timeout) as session,
            _get(session, self._auth, self.url, "multipart/x-mixed-replace, */*") as response,
        ):
            parser = MjpegParser(
                boundary_from_content_type(response.headers.get("Content-Type")), max_frame=self.max_frame
            )
            try:
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    for frame in parser.feed(chunk):
                        yield frame
            except (aiohttp.ClientError, OSError) as exc:
                raise SourceError(f"{redact(self.url)}: {redact(str(exc)) or type(exc).__name__}") from None
        raise SourceError(f"{redact(self.url)}: the stream ended")


class SnapshotSource:
    def __init__(
        self,
        url: str,
        *,
        fps: float,
        username: str | None = None,
        password: str | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.url = url
        self.period = 1.0 / fps
        self.max_frame = max_frame
        self._auth = _HttpAuth(username, password)

    async def frames(self) -> AsyncIterator[bytes]:
        timeout = aiohttp.ClientTimeout(total=CONNECT_TIMEOUT + 5, sock_connect=CONNECT_TIMEOUT)
        loop = asyncio.get_running_loop()
        # One session for the whole poll: keep-alive, and Digest's nonce is reused, not renegotiated.
        async with self._auth.session(timeout) as session:
            while True:
                started = loop.time()
                async with _get(session, self._auth, self.url, "image/jpeg") as response:
                    try:
                        body = await response.content.read(self.max_frame + 1)
                    except (aiohttp.ClientError, OSError) as exc:
                        raise SourceError(f"{redact(self.url)}: {redact(str(exc)) or type(exc).__name__}") from None
                if len(body) > self.max_frame or not body.startswith(SOI):
                    raise SourceError(f"{redact(self.url)}: the answer is not a JPEG image")
                yield body
                await asyncio.sleep(max(0.0, self.period - (loop.time() - started)))


def rtsp_url(url: str, username: str | None, password: str | None) -> str:
    """The RTSP URL with the configured credentials put in its userinfo (ffmpeg takes them only there)."""
    if username is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password is not None else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


class RtspSource:
    def __init__(
        self,
        url: str,
        *,
        fps: float,
        username: str | None = None,
        password: str | None = None,
        ffmpeg: str | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.url = rtsp_url(url, username, password)
        self.fps = fps
        self.ffmpeg = ffmpeg or shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
        self.max_frame = max_frame
        self.started = 0  # ffmpeg processes started (tests: one per upstream session)
        self.process: asyncio.subprocess.Process | None = None  # the latest one

    def command(self) -> list[str]:
        return [
            self.ffmpeg,
            *("-nostdin", "-hide_banner", "-loglevel", "error"),
            *("-rtsp_transport", "tcp", "-i", self.url),
            *("-an", "-f", "mpjpeg", "-q:v", "5", "-r", f"{self.fps:g}", "pipe:1"),
        ]

    async def frames(self) -> AsyncIterator[bytes]:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise SourceError(f"cannot run {self.ffmpeg}: {exc.strerror or exc} (apt-get install ffmpeg)") from None
        self.started += 1
        self.process = process
        assert process.stdout is not None and process.stderr is not None
        errors = asyncio.create_task(process.stderr.read(16 * 1024))
        try:
            parser = MjpegParser(max_frame=self.max_frame)
            while chunk := await process.stdout.read(READ_CHUNK):
                for frame in parser.feed(chunk):
                    yield frame
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await asyncio.shield(errors)
            detail = errors.result().decode("utf-8", "replace").strip().splitlines() if errors.done() else []
            raise SourceError(f"{redact(self.url)}: ffmpeg stopped: {redact(detail[-1]) if detail else 'no output'}")
        finally:
            errors.cancel()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            # Shielded: a cancelled viewer must still reap its ffmpeg (no zombies on a Pi).
            await asyncio.shield(process.wait())


class DemoSource:
    """A generated 320x240 picture: a bar sweeping across a gradient, the camera's name and the time."""

    def __init__(
        self,
        name: str,
        *,
        fps: float = 2.0,
        clock: Callable[[], float] | None = None,
        size: tuple[int, int] = (320, 240),
    ) -> None:
        self.name = name
        self.period = 1.0 / fps
        self.size = size
        self._clock = clock
        self._frame = 0

    def draw(self, now: float) -> bytes:
        from PIL import Image, ImageDraw

        width, height = self.size
        image = Image.new("RGB", self.size, (30, 58, 138))
        draw = ImageDraw.Draw(image)
        for y in range(0, height, 8):
            shade = 40 + int(60 * y / height)
            draw.rectangle((0, y, width, y + 7), fill=(shade, shade + 20, 120))
        x = int((math.sin(self._frame / 6) + 1) / 2 * (width - 40))
        draw.rectangle((x, 40, x + 40, height - 40), fill=(250, 204, 21))
        stamp = datetime.datetime.fromtimestamp(now).strftime("%d/%m/%Y %H:%M:%S")
        draw.rectangle((0, 0, width, 18), fill=(0, 0, 0))
        draw.text((6, 4), f"{self.name}  {stamp}", fill=(255, 255, 255))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=70)
        self._frame += 1
        return out.getvalue()

    async def frames(self) -> AsyncIterator[bytes]:
        import time

        clock = self._clock or time.time
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            yield await asyncio.to_thread(self.draw, clock())
            await asyncio.sleep(max(0.0, self.period - (loop.time() - started)))
