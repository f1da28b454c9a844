"""An IP camera as a driver: one fixed device with a `camera` zone, a live feed, and motion.

Theory of operation. A `[[drivers]] type = "camera"` entry is one camera. Exactly one of
`mjpeg_url` (a multipart MJPEG stream), `snapshot_url` (a JPEG, polled) or `rtsp_url`
(through an ffmpeg subprocess) says where its pictures come from; `username`/`password`
are its credentials (never logged: URLs in messages are redacted). The driver declares one
`FixedDevice` (address: the camera's name as a slug; kinds: ("camera",)) and owns the
camera's `CameraFeed` (drivers/camera/feed.py), which the web API shows and the snapshot
recorder samples. Its health goes through the normal path: the feed's `on_health` becomes
`HealthReading(online=...)`, so a camera that sends no frame for `offline_after` seconds is
offline, and supervision raises `sensor_offline` after the offline grace.

Motion, by `motion`:
- "hub": while `set_armed(True)` (the hub's camera service calls it while intrusion
  protection is on: no cost and no pictures analysed while the household is at home and
  disarmed), frames are sampled at `MOTION_FPS` and differenced by
  `drivers.camera.motion.MotionDetector` (`sensitivity`, `mask`); a change of state is a
  `SensorReading(kind="camera")`. On disarm an active zone restores.
- "camera": the camera calls `POST /api/v1/cameras/{id}/events`, which calls
  `camera_event()`; motion restores by itself `MOTION_HOLD` seconds after the last event
  unless the camera says `{"motion": false}` first (cheap cameras only ever say "motion").
- "off": live view only.

Options: `name` (required), `mjpeg_url` | `snapshot_url` | `rtsp_url`, `username`,
`password`, `motion` ("hub"), `sensitivity` (0-1, default 0.02), `mask` (a list of
[x, y, width, height] rectangles as fractions of the picture), `fps` (live view frame rate,
default 5), `room`, `offline_after` (seconds, default 30), `retention_days` (snapshots,
default 30). A `type` key equal to "camera" is tolerated.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import math
import re
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from drivers.base import (
    DriverContext,
    DriverError,
    FixedDevice,
    FixedTargetDriver,
    HealthReading,
    ReadingStream,
    SensorReading,
    stop_task,
)
from drivers.camera.options import CameraOptions
from drivers.options import parse

if TYPE_CHECKING:
    from drivers.camera.feed import CameraFeed
    from drivers.camera.motion import Rect
    from drivers.camera.source import FrameSource

__all__ = ["MOTION_FPS", "MOTION_HOLD", "CameraDriver", "camera_address"]

log = logging.getLogger(__name__)

MOTION_FPS = 2.0
MOTION_HOLD = 10.0  # seconds a camera-reported motion lasts without a new event


def camera_address(name: str) -> str:
    """The device address of a camera: its name as a slug ("Ingresso Nord" -> "ingresso-nord")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "camera"


class CameraDriver(FixedTargetDriver):
    type: ClassVar[str] = "camera"
    Options: ClassVar[builtins.type[CameraOptions]] = CameraOptions

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        # The frame sources (aiohttp), the feed and motion (Pillow) are imported here, not at
        # the top: `config check` loads this class only for its Options.
        from drivers.camera.feed import CameraFeed
        from drivers.camera.motion import MotionDetector
        from drivers.camera.source import MjpegHttpSource, RtspSource, SnapshotSource

        opts = parse(CameraOptions, self.type, options)
        self.name = opts.name.strip()
        self.address = camera_address(self.name)
        self.room = opts.room.strip() if opts.room else ""
        self.motion = opts.motion
        self.fps = opts.fps
        self.sensitivity = opts.sensitivity
        self.offline_after = opts.offline_after
        self.retention_days = opts.retention_days
        self.masks: Sequence[Rect] = [(float(x), float(y), float(w), float(h)) for x, y, w, h in opts.mask]
        username, password = opts.username.strip() if opts.username else None, opts.password
        kind = opts.url_key
        url = str(getattr(opts, kind)).strip()
        self.source: FrameSource
        if kind == "mjpeg_url":
            self.source, self.model = MjpegHttpSource(url, username=username, password=password), "MJPEG camera"
        elif kind == "snapshot_url":
            self.source = SnapshotSource(url, fps=self.fps, username=username, password=password)
            self.model = "Snapshot camera"
        else:
            self.source = RtspSource(url, fps=self.fps, username=username, password=password)
            self.model = "RTSP camera"
        self._context = context
        self.feed = CameraFeed(
            self.source,
            name=self.name,
            address=self.address,
            fps=self.fps,
            offline_after=self.offline_after,
            clock=context.clock,
            on_health=self._on_health,
        )
        self.detector = MotionDetector(sensitivity=self.sensitivity, masks=self.masks)
        self._stream = ReadingStream(self.type)
        self._tasks: list[asyncio.Task[None]] = []
        self._armed = asyncio.Event()
        self._motion_active = False
        self._hold: asyncio.TimerHandle | None = None
        self._state = "new"

    # ------------------------------------------------------------------ lifetime
    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a CameraDriver runs once; create a new one to start again")
        self._state = "running"
        feed_task = asyncio.create_task(self.feed.run(), name=f"camera-feed-{self.address}")
        feed_task.add_done_callback(self._stream.end_on_failure)
        self._tasks.append(feed_task)
        if self.motion == "hub":
            motion_task = asyncio.create_task(self._watch_motion(), name=f"camera-motion-{self.address}")
            motion_task.add_done_callback(self._stream.end_on_failure)
            self._tasks.append(motion_task)
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "stopped"
        if self._hold is not None:
            self._hold.cancel()
        tasks, self._tasks = self._tasks, []
        try:
            for task in reversed(tasks):
                await stop_task(task)
        finally:
            self._stream.end()

    # ------------------------------------------------------------------ the Driver protocol

    def fixed_devices(self) -> list[FixedDevice]:
        return [
            FixedDevice(
                address=self.address,
                name=self.name,
                model=self.model,
                kinds=("camera",),
                room=self.room,
            )
        ]

    def expected_interval(self, address: str) -> float | None:
        return self.feed.heartbeat if address == self.address else None

    # ------------------------------------------------------------------ cameras and motion
    def cameras(self) -> list[CameraFeed]:
        return [self.feed]

    def set_armed(self, armed: bool) -> None:
        """Intrusion protection is on (motion="hub" samples frames only then)."""
        if armed:
            self._armed.set()
        else:
            self._armed.clear()

    def camera_event(self, motion: bool) -> None:
        """The camera reported motion (or its end) through the events endpoint."""
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        self._report(motion)
        if motion:
            self._hold = asyncio.get_running_loop().call_later(MOTION_HOLD, self._report, False)

    def _report(self, active: bool) -> None:
        if active == self._motion_active or self._state != "running":
            return
        self._motion_active = active
        self._stream.put(SensorReading(address=self.address, kind="camera", active=active, at=self._context.clock()))

    def _on_health(self, online: bool, at: float) -> None:
        if self._state == "running":
            self._stream.put(HealthReading(address=self.address, at=at, online=online))

    async def _watch_motion(self) -> None:
        period = 1.0 / MOTION_FPS
        loop = asyncio.get_running_loop()
        while True:
            await self._armed.wait()
            # A new detector (a fresh background) per armed period.
            self.detector = dataclasses.replace(self.detector, sensitivity=self.sensitivity, masks=self.masks)
            async with self.feed.need("motion"):
                seq, sampled = 0, -math.inf
                while self._armed.is_set():
                    frame = await self.feed.next_frame(seq, timeout=1.0)  # wakes up to notice a disarm
                    if frame is None:
                        continue
                    seq = frame.seq
                    if loop.time() - sampled < period * 0.9:
                        continue
                    sampled = loop.time()
                    change = await asyncio.to_thread(self.detector.observe, frame.data)
                    if change is not None and self._armed.is_set():
                        self._report(change)
            self._report(False)  # disarmed: the zone restores
