"""Photo verification: the frames from just before and after an alarm, kept with its incident.

Theory of operation. `SnapshotRecorder.run()` is one task of the daemon. Twice a second it
looks at the alarm state:

- while intrusion protection is on (any mode but `disarmed`) every camera keeps a ring
  buffer of its last `BEFORE` seconds at `RING_FPS` (in memory only), and camera drivers
  with motion="hub" are told they are armed (`set_armed`); disarmed, the buffers are
  dropped and nothing about the household is recorded, unless the owner turned on
  `record_when_disarmed` (hub/cameras/settings.py): then the buffers run in every mode;
- when an intrusion incident opens (any incident, with `record_when_disarmed`), each camera's
  buffered frames from the `BEFORE` seconds up to the incident, and the frames of the
  following `AFTER` seconds, are written to
  `data_dir/snapshots/<incident>/<camera>-<milliseconds>.jpg`.

The alarm is never delayed for a picture, and its e-mail still carries some: the runtime calls
`incident_opened()` while it writes the incident and its messages (one transaction), and that
writes the before-trigger frames at once from memory (a few small files) and returns the
newest `EMAIL_PHOTOS` of them, which the alarm e-mail rows refer to. When the after-trigger
window is over, those frames go out in a follow-up (hub/cameras/delivery.py).

`list_snapshots()` reads them back for `GET /api/v1/incidents/{id}`; the file name carries
the camera and the time, so nothing else is stored. Once a day, incident folders older
than the retention (the shortest `retention_days` of the cameras, default 30) are deleted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alarms.model import Incident
from drivers.camera.feed import CameraFeed, Frame
from drivers.capabilities import CameraControls
from hub.cameras.delivery import send_photos
from hub.cameras.settings import load_record_when_disarmed

__all__ = [
    "AFTER",
    "BEFORE",
    "CameraRef",
    "Snapshot",
    "SnapshotRecorder",
    "list_snapshots",
    "snapshot_path",
    "sweep",
]

log = logging.getLogger(__name__)

BEFORE = 5.0  # seconds of frames kept from before the trigger
AFTER = 5.0  # seconds of frames recorded after it
RING_FPS = 1.0
EMAIL_PHOTOS = 3  # before-trigger frames the alarm e-mail refers to (the channel caps the bytes)
POLL = 0.5
SWEEP_EVERY = 24 * 3600.0
DEFAULT_RETENTION_DAYS = 30.0
_NAME = re.compile(r"^(?P<camera>[a-z0-9][a-z0-9-]{0,80})-(?P<ms>[0-9]{10,16})\.jpg$")
_INCIDENT = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


@dataclass(frozen=True, slots=True)
class CameraRef:
    """A camera as the recorder sees it: its API id, its feed and the driver that runs it."""

    id: str
    feed: CameraFeed
    driver: Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    incident: str
    name: str
    camera: str
    at: float


def _folder(data_dir: Path, incident: str) -> Path | None:
    if not _INCIDENT.match(incident) or incident in (".", ".."):
        return None
    return data_dir / "snapshots" / incident


def snapshot_path(data_dir: Path, incident: str, name: str) -> Path | None:
    """The file of one snapshot, or None when the names are not ours (no path tricks)."""
    folder = _folder(data_dir, incident)
    if folder is None or not _NAME.match(name):
        return None
    path = folder / name
    return path if path.is_file() else None


def list_snapshots(data_dir: Path, incident: str) -> list[Snapshot]:
    folder = _folder(data_dir, incident)
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append(Snapshot(incident, path.name, match["camera"], int(match["ms"]) / 1000))
    return sorted(found, key=lambda s: (s.at, s.name))


def sweep(data_dir: Path, retention_days: float, now: float) -> int:
    """Delete incident folders whose newest snapshot is older than the retention; returns how many."""
    root = data_dir / "snapshots"
    if not root.is_dir():
        return 0
    deleted = 0
    cutoff = now - retention_days * 86400
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in folder.iterdir()), default=folder.stat().st_mtime)
        if newest < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            deleted += 1
    return deleted


class _Ring:
    """One camera's recent frames while armed, sampled at RING_FPS."""

    def __init__(self, camera: CameraRef) -> None:
        self.camera = camera
        self.frames: collections.deque[Frame] = collections.deque(maxlen=int(BEFORE * RING_FPS) + 2)
        self.task: asyncio.Task[None] | None = None
        self.listeners: list[Callable[[Frame], None]] = []

    async def run(self) -> None:
        feed = self.camera.feed
        async with feed.need("snapshots"):  # held while armed: the feed keeps (or retries) its upstream
            seq, last = 0, -1e18
            while not feed.stopped:
                frame = await feed.next_frame(seq, timeout=5.0)
                if frame is None:
                    continue
                seq = frame.seq
                for listener in list(self.listeners):
                    listener(frame)
                if frame.at - last >= 1.0 / RING_FPS * 0.9:
                    last = frame.at
                    self.frames.append(frame)


class SnapshotRecorder:
    def __init__(
        self,
        hub: Any,
        cameras: Callable[[], Iterable[CameraRef]],
        data_dir: Path,
        *,
        retention_days: Callable[[], float] = lambda: DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hub = hub
        self.cameras = cameras
        self.data_dir = data_dir
        self.retention_days = retention_days
        self.clock = clock
        self.armed = False
        self.record_when_disarmed = False  # loaded by run(); set by PATCH /api/v1/cameras/settings
        self._rings: dict[str, _Ring] = {}
        self._seen: set[str] = set(hub.state.incidents)  # already open at start: not ours to record
        self._captures: set[asyncio.Task[None]] = set()
        hub.photos = self  # the runtime calls incident_opened() while it writes a new incident

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + 60.0  # not at once: start-up has enough to do
        try:
            self.record_when_disarmed = await load_record_when_disarmed(self.hub.db)
        except Exception:  # storage failing: the private default
            log.exception("camera settings unreadable; not recording while disarmed")
        try:
            while True:
                try:
                    self._follow_mode()
                    self._follow_incidents()
                    if loop.time() >= next_sweep:
                        next_sweep = loop.time() + SWEEP_EVERY
                        deleted = await asyncio.to_thread(sweep, self.data_dir, self.retention_days(), self.clock())
                        if deleted:
                            log.info("deleted the snapshots of %d incidents (retention)", deleted)
                except Exception:  # never let photo verification take the alarm down
                    log.exception("camera snapshot recorder step failed")
                await asyncio.sleep(POLL)
        finally:
            for ring in self._rings.values():
                if ring.task is not None:
                    ring.task.cancel()
            for task in list(self._captures):
                task.cancel()
            await asyncio.gather(
                *(r.task for r in self._rings.values() if r.task), *self._captures, return_exceptions=True
            )

    def _follow_mode(self) -> None:
        armed = self.hub.state.mode != "disarmed"
        cameras = {c.id: c for c in self.cameras()}
        for camera in cameras.values():
            if isinstance(camera.driver, CameraControls) and armed != self.armed:
                camera.driver.set_armed(armed)
        if armed or self.record_when_disarmed:
            for camera_id, camera in cameras.items():
                if camera_id not in self._rings:
                    ring = _Ring(camera)
                    ring.task = asyncio.create_task(ring.run(), name=f"snapshots-{camera_id}")
                    self._rings[camera_id] = ring
        elif self._rings and not self._captures:
            for ring in self._rings.values():
                if ring.task is not None:
                    ring.task.cancel()
            self._rings.clear()  # disarmed: the pictures of the household at home are not kept
        self.armed = armed

    def _wanted(self, incident: Incident) -> bool:
        return bool(self._rings) and (incident.kind == "intrusion" or self.record_when_disarmed)

    def incident_opened(self, incident: Incident) -> list[Path]:
        """Called by the runtime as `incident` is written: store its before-trigger frames now and
        start recording the after-trigger ones; returns the files for the alarm e-mail (may be empty).

        Synchronous on purpose: the e-mail row written next refers to these files, and the
        dispatcher may send it as soon as the transaction commits. A few small JPEGs from memory.
        """
        if incident.id in self._seen:
            return []
        self._seen.add(incident.id)
        folder = _folder(self.data_dir, incident.id)
        if folder is None or not self._wanted(incident):
            return []
        before = self._before(incident.opened_at)
        try:
            written = _write(folder, before)
        except OSError as exc:  # a full card: the alarm goes on without pictures
            log.warning("incident %s: before-trigger snapshots not stored: %s", incident.id, exc)
            return []
        self._start_capture(incident, stored_before=True)
        newest = sorted(zip(before, written, strict=True), key=lambda pair: pair[0][1].at)[-EMAIL_PHOTOS:]
        return [path for _, path in newest]

    def _before(self, opened_at: float) -> list[tuple[str, Frame]]:
        return [
            (camera_id, frame)
            for camera_id, ring in self._rings.items()
            for frame in ring.frames
            if opened_at - BEFORE <= frame.at <= opened_at
        ]

    def _follow_incidents(self) -> None:
        for incident in list(self.hub.state.incidents.values()):
            if incident.id in self._seen:
                continue
            self._seen.add(incident.id)  # missed by incident_opened (storage failing): record it from here
            if self._wanted(incident):
                self._start_capture(incident, stored_before=False)

    def _start_capture(self, incident: Incident, *, stored_before: bool) -> None:
        task = asyncio.create_task(self._capture(incident, stored_before), name=f"capture-{incident.id}")
        self._captures.add(task)
        task.add_done_callback(self._captures.discard)

    async def _capture(self, incident: Incident, stored_before: bool) -> None:
        opened_at = incident.opened_at
        folder = _folder(self.data_dir, incident.id)
        if folder is None:
            return
        chosen: dict[str, list[Frame]] = {}
        after: dict[str, list[Frame]] = {cid: [] for cid in self._rings}
        listeners = []
        for camera_id, ring in self._rings.items():
            if not stored_before:
                chosen[camera_id] = [f for f in ring.frames if opened_at - BEFORE <= f.at <= opened_at]

            def keep(frame: Frame, out: list[Frame] = after[camera_id]) -> None:
                if frame.at > opened_at and (not out or frame.at - out[-1].at >= 1.0 / RING_FPS * 0.9):
                    out.append(frame)

            ring.listeners.append(keep)
            listeners.append((ring, keep))
        try:
            await asyncio.sleep(max(0.0, opened_at + AFTER - self.clock()))
        finally:
            for ring, keep in listeners:
                with contextlib.suppress(ValueError):
                    ring.listeners.remove(keep)
        frames = [(cid, f) for cid, got in chosen.items() for f in got]
        later = [(cid, f) for cid, got in after.items() for f in got if f.at <= opened_at + AFTER + 1]
        if frames:
            await asyncio.to_thread(_write, folder, frames)
        if later:
            files = await asyncio.to_thread(_write, folder, sorted(later, key=lambda pair: pair[1].at))
            log.info("incident %s: %d camera snapshots stored", incident.id, len(frames) + len(later))
            try:
                await send_photos(self.hub, incident, files)
            except Exception:  # storage failing: the pictures stay on the incident's page
                log.exception("incident %s: the follow-up with the photos could not be queued", incident.id)


def _write(folder: Path, frames: list[tuple[str, Frame]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for camera_id, frame in frames:
        path = folder / f"{camera_id}-{int(frame.at * 1000)}.jpg"
        path.write_bytes(frame.data)
        written.append(path)
    return written
