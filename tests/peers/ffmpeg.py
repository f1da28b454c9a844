"""A real MJPEG camera on loopback: Debian `ffmpeg` serving a lavfi test source over HTTP.

`ffmpeg -re -f lavfi -i testsrc=size=320x240:rate=5 -f mpjpeg -listen 1 http://127.0.0.1:PORT/`
serves one client and exits when that client goes away, like a cheap camera that takes
one connection at a time. `MjpegCamera` starts it again after each client (a camera is
always there), and counts: `started` ffmpeg processes, `served` ones that ended, so a test
can tell how many upstream connections the hub opened and when it closed them. `stop()`
takes the camera off the network (the hub must then see it offline). The source is
`testsrc` (a moving pattern) or `color=c=blue` (a still picture) as `pattern` says.

ffmpeg missing: `require_ffmpeg()` fails under CI=true and skips otherwise (docs/architecture.md section 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

from tests.peers import free_port

__all__ = ["MOVING", "STILL", "MjpegCamera", "require_ffmpeg"]

MOVING = "testsrc=size=320x240:rate=5"
STILL = "color=c=blue:size=320x240:rate=5"


def require_ffmpeg() -> str:
    path = shutil.which("ffmpeg") or ("/usr/bin/ffmpeg" if os.access("/usr/bin/ffmpeg", os.X_OK) else None)
    if path is not None:
        return path
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("ffmpeg is required in CI (docs/architecture.md section 6): apt-get install ffmpeg")
    pytest.skip("apt-get install ffmpeg")


def _listening(port: int) -> bool:
    """Is something listening on 127.0.0.1:port? Read from /proc, since with `-listen 1` a test
    connection would be the one client ffmpeg serves."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


class MjpegCamera:
    def __init__(self, pattern: str = MOVING) -> None:
        self.executable = require_ffmpeg()
        self.pattern = pattern
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.started = 0
        self.served = 0
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    def command(self) -> list[str]:
        return [
            self.executable,
            *("-nostdin", "-hide_banner", "-loglevel", "error"),
            *("-re", "-f", "lavfi", "-i", self.pattern),
            *("-f", "mpjpeg", "-q:v", "5", "-listen", "1", self.url),
        ]

    async def __aenter__(self) -> MjpegCamera:
        self._task = asyncio.create_task(self._serve())
        await self.wait_listening()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_listening(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not _listening(self.port):
            if loop.time() > deadline:
                raise AssertionError(f"ffmpeg did not listen on port {self.port}")
            await asyncio.sleep(0.02)

    async def _serve(self) -> None:
        while True:
            self._process = await asyncio.create_subprocess_exec(
                *self.command(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL
            )
            self.started += 1
            await self._process.wait()
            self.served += 1

    async def stop(self) -> None:
        """The camera leaves the network: no more ffmpeg, nothing listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
