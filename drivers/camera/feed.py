"""One camera's live feed: a single upstream shared by every viewer, open only while someone needs it.

Theory of operation. Whoever needs frames (a dashboard viewer, a snapshot request, motion
detection, the snapshot ring buffer) holds a `need()` context; the feed's `run()` task
opens the source's upstream while at least one need is held and closes it as soon as the
last one is released (after `linger` seconds, so a page reload does not reconnect). All
needs share that one upstream: a camera (or ffmpeg's `-listen 1` server) that serves one
client at a time serves any number of viewers. Frames arriving faster than `fps` are
dropped, so a 25 fps camera costs the Pi no more than `fps` decodes downstream.

Health. The camera is `online` from its first frame; it goes offline when no frame has
arrived for `offline_after` seconds while the upstream was wanted, or when an idle probe
fails. With nobody watching, a probe (open, take one frame, close) runs every
`probe_interval` seconds, so supervision hears from a healthy idle camera. Every change of
`online`, and every `heartbeat` seconds while online, `on_health(online, at)` is called:
the camera driver turns it into `HealthReading`s, so an offline camera goes through the
hub's normal supervision (offline grace, `sensor_offline` anomaly).

Readers hold a need and call `next_frame(seq)`: each gets the newest frame when it is ready
for one, never a backlog (a slow phone skips frames, it never slows the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from drivers.camera.source import FrameSource, SourceError, redact

__all__ = ["CameraFeed", "Frame", "Need"]

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 10.0


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes  # one JPEG
    at: float  # wall-clock time it arrived
    seq: int  # 1, 2, ... per feed


class Need:
    """A held demand for frames; `purpose` names it in logs and in `CameraFeed.needs`."""

    def __init__(self, feed: CameraFeed, purpose: str) -> None:
        self.feed = feed
        self.purpose = purpose


class CameraFeed:
    def __init__(
        self,
        source: FrameSource,
        *,
        name: str,
        address: str,
        fps: float = 5.0,
        offline_after: float = 30.0,
        probe_interval: float = 60.0,
        heartbeat: float = 60.0,
        linger: float = 1.0,
        clock: Callable[[], float] = time.time,
        on_health: Callable[[bool, float], None] | None = None,
    ) -> None:
        self.source = source
        self.name = name
        self.address = address
        self.fps = fps
        self.offline_after = offline_after
        self.probe_interval = probe_interval
        self.heartbeat = heartbeat
        self.linger = linger
        self.clock = clock
        self.on_health = on_health
        self.online: bool | None = None  # None: not heard from yet
        self.latest: Frame | None = None
        self.upstreams = 0  # upstream sessions opened so far (tests: two viewers, one upstream)
        self.connected = False  # an upstream session is open now
        self.last_error: str | None = None
        self._needs: list[Need] = []
        self._changed = asyncio.Condition()
        self._demand = asyncio.Event()
        self._last_frame_mono = -1e18
        self._last_probe_mono = -1e18
        self._health_at = -1e18
        self._seq = 0
        self._stopped = False

    # ------------------------------------------------------------------ demand
    @property
    def needs(self) -> list[str]:
        return [n.purpose for n in self._needs]

    @contextlib.asynccontextmanager
    async def need(self, purpose: str) -> AsyncIterator[Need]:
        held = Need(self, purpose)
        self._needs.append(held)
        self._demand.set()
        try:
            yield held
        finally:
            self._needs.remove(held)
            self._demand.set()  # wake run(): it may close the upstream now

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def next_frame(self, after: int, *, timeout: float) -> Frame | None:
        """The newest frame if newer than sequence number `after`, waiting up to `timeout` s for one."""
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(functools.partial(self._newer, after))
            except TimeoutError:
                return None
        frame = self.latest
        return None if self._stopped or frame is None or frame.seq <= after else frame

    def _newer(self, seq: int) -> bool:
        return self._stopped or (self.latest is not None and self.latest.seq > seq)

    async def snapshot(self, *, max_age: float = 2.0, timeout: float = 10.0) -> Frame | None:
        """A recent frame: the newest if younger than `max_age`, else one fetched now (None: none came)."""
        frame = self.latest
        if frame is not None and self.clock() - frame.at <= max_age and self.connected:
            return frame
        async with self.need("snapshot"):
            return await self.next_frame(frame.seq if frame is not None else 0, timeout=timeout)

    # ------------------------------------------------------------------ the upstream
    async def run(self) -> None:
        """Connect while needed (and for idle probes); returns only when cancelled."""
        backoff = BACKOFF_FIRST
        loop = asyncio.get_running_loop()
        try:
            while True:
                probe = False
                if not self._needs:
                    wait = self._last_probe_mono + self.probe_interval - loop.time()
                    if wait > 0:
                        self._demand.clear()
                        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose a
                        # cancellation, and the daemon's TaskGroup would wait forever at shutdown.
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(wait):
                                await self._demand.wait()
                        continue
                    probe = True
                    self._last_probe_mono = loop.time()
                try:
                    got = await self._session(probe)
                    if got:
                        backoff = BACKOFF_FIRST
                    if probe or not self._needs:
                        continue
                    self.last_error = "the stream ended"
                except SourceError as exc:
                    self.last_error = str(exc)
                except Exception as exc:  # a source bug must not end the camera for good
                    self.last_error = redact(repr(exc))
                    log.exception("camera %s: upstream failed", self.name)
                log.info("camera %s: %s; retrying in %.0f s", self.name, self.last_error, backoff)
                if probe or loop.time() - self._last_frame_mono >= self.offline_after:
                    self._set_online(False)
                if self._needs:
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX, backoff * 2)
        finally:
            self._stopped = True
            async with self._changed:
                self._changed.notify_all()

    async def _session(self, probe: bool) -> bool:
        """One upstream session; True once at least one frame came. Ends when no longer needed."""
        got = asyncio.Event()
        pull = asyncio.create_task(self._pull(probe, got), name=f"camera-{self.address}")
        try:
            while not pull.done():
                if not probe and not self._needs:
                    # Nobody left: linger a moment (a page reload comes back at once), then close.
                    self._demand.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.linger):  # not wait_for: see run()
                            await self._demand.wait()
                    if not self._needs:
                        break
                    continue
                self._demand.clear()
                waiter = asyncio.ensure_future(self._demand.wait())
                await asyncio.wait({pull, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        finally:
            if not pull.done():
                pull.cancel()
            # gather(return_exceptions=True) returns pull's own CancelledError; no suppress around
            # it, which swallowed *our* cancellation when the hub stopped while the upstream was
            # closing: the feed went on and the daemon's stop hung (test_camera_feed_stop.py).
            await asyncio.gather(pull, return_exceptions=True)
            self.connected = False
        if pull.done() and not pull.cancelled() and pull.exception() is not None:
            raise pull.exception()  # type: ignore[misc]
        return got.is_set()

    async def _pull(self, probe: bool, got: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        min_gap = 1.0 / self.fps
        accepted = -1e18
        self.upstreams += 1
        frames = self.source.frames()
        async with contextlib.aclosing(frames):  # type: ignore[type-var]
            self.connected = True
            while True:
                try:
                    async with asyncio.timeout(self.offline_after):
                        data = await anext(frames)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise SourceError(f"no frame for {self.offline_after:g} s") from None
                now = loop.time()
                self._last_frame_mono = now
                if now - accepted < min_gap * 0.9:
                    continue  # over the frame-rate cap
                accepted = now
                await self._publish(data)
                got.set()
                if probe:
                    return

    async def _publish(self, data: bytes) -> None:
        at = self.clock()
        self._seq += 1
        self.latest = Frame(data=data, at=at, seq=self._seq)
        self.last_error = None
        # (0.9: an idle probe every `heartbeat` s must count, even when it comes a little early)
        if self.online is not True or time.monotonic() - self._health_at >= 0.9 * self.heartbeat:
            self._set_online(True)
        async with self._changed:
            self._changed.notify_all()

    def _set_online(self, online: bool) -> None:
        if online == self.online and not online:
            return
        if online != self.online:
            log.info("camera %s is %s", self.name, "online" if online else f"offline ({self.last_error})")
        self.online = online
        self._health_at = time.monotonic()
        if self.on_health is not None:
            self.on_health(online, self.clock())
