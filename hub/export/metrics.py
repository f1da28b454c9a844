"""`GET /metrics`: the hub's health in the Prometheus text exposition format (0.0.4).

What a monitoring system needs to alert on a security hub that is quietly failing: the
mode, open incidents and active anomalies, the notification outbox (depth, dead letters),
the assistance-centre link, the drivers and their devices, the event loop's lag, the
database size and the process itself.

Cheap by construction, so a scrape every 15 s costs nothing on a Pi:
- the engine state (mode, incidents, anomalies, zones, devices) is read from memory;
- `casahub_events_total` counts the journal once, then only the rows added since the last
  scrape (`id > last`, the primary key): a counter that never goes back, even if old
  events are ever pruned;
- incidents and notifications are small `GROUP BY`s over tables a home fills slowly.
A failing database never fails the scrape: the in-memory metrics are still served and
`casahub_metrics_storage_ok` says 0.

Duress incidents (and the centre reports they cause) are left out on purpose, like
everywhere the household can look: whoever typed the duress code may be watching a
Grafana board too.

Access: from the loopback address, or with a valid bearer token (or dashboard session),
checked by the handler itself, because the auth middleware only guards `/api/`. A loopback
request that carries `Forwarded`/`X-Forwarded-For`/`X-Real-IP` came through a reverse proxy
and needs a token like any other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from alarms import engine
from alarms.model import ANOMALY_KINDS, INCIDENT_KINDS, INCIDENT_STATES, MODES
from alarms.policy import CHANNELS
from drivers.base import TELEMETRY_SHED
from drivers.capabilities import ReportsConnection
from hub.core.degraded import STORAGE_ERRORS
from hub.core.runtime import Hub
from hub.web.auth import authenticate as web_authenticate
from hub.web.context import CONTEXT

log = logging.getLogger("hub.metrics")  # the name users' [log] levels know (README)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NOTIFICATION_STATES = ("scheduled", "pending", "sent", "dead", "cancelled")
# Never shown: the duress incident is for the centre only (docs/architecture.md section 7).
HIDDEN_INCIDENT_KINDS = frozenset({"duress"})
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
# Attributes a centre transport may expose with the last round-trip time (seconds).
RTT_ATTRIBUTES = ("last_rtt", "round_trip_time", "rtt")


# --------------------------------------------------------------------------- event-loop lag


class LoopLagMonitor:
    """Measures how late the event loop wakes a task: sleeps `interval` s, notes the overshoot.

    A loop blocked by a slow synchronous call (a hash on the loop, a big JSON, a stuck driver)
    delays every timer of the alarm (entry delay, siren time): this is its early warning.
    `value` is the last overshoot in seconds, `max` the largest since start.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.value = 0.0
        self.max = 0.0
        self.samples = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.value = max(0.0, loop.time() - start - self.interval)
            self.max = max(self.max, self.value)
            self.samples += 1


# --------------------------------------------------------------------------- text format


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class _Writer:
    """Builds the exposition text: one HELP and TYPE line per family, then its samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, str], float]],
    ) -> None:
        self._lines.append(f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if labels:
                text = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
                self._lines.append(f"{name}{{{text}}} {_number(value)}")
            else:
                self._lines.append(f"{name} {_number(value)}")

    def gauge(self, name: str, help_text: str, value: float) -> None:
        self.family(name, "gauge", help_text, [({}, value)])

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


# --------------------------------------------------------------------------- the journal counter


@dataclass
class _EventCounts:
    last_id: int = 0
    by_kind: dict[str, int] | None = None


_EVENT_COUNTS: weakref.WeakKeyDictionary[Hub, _EventCounts] = weakref.WeakKeyDictionary()


async def _event_counts(hub: Hub) -> dict[str, int]:
    """Journal rows by kind: counted once, then only the rows added since the last scrape
    (rows about a hidden incident are not counted: a duress code must leave no trace here)."""
    cache = _EVENT_COUNTS.setdefault(hub, _EventCounts())
    top = await hub.db.fetchone("SELECT MAX(id) FROM events")
    last = int(top[0]) if top is not None and top[0] is not None else 0
    counts = dict(cache.by_kind or {})
    if last > cache.last_id:
        hidden = tuple(HIDDEN_INCIDENT_KINDS)
        rows = await hub.db.fetchall(
            "SELECT kind, COUNT(*) FROM events WHERE id > ? AND id <= ?"
            " AND (incident IS NULL OR incident NOT IN"
            f" (SELECT id FROM incidents WHERE kind IN ({','.join('?' * len(hidden))})))"
            " GROUP BY kind",
            (cache.last_id, last, *hidden),
        )
        for row in rows:
            counts[str(row[0])] = counts.get(str(row[0]), 0) + int(row[1])
    cache.last_id, cache.by_kind = max(last, cache.last_id), counts
    return counts


# --------------------------------------------------------------------------- process


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: the peak, not now
        return int(peak) * 1024
    except (ImportError, OSError):
        return None


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- rendering


async def render_metrics(
    hub: Hub,
    *,
    drivers: Mapping[str, Any],
    dispatcher: Any,
    loop_lag: float,
    version: str | None = None,
    backup: Any = None,
) -> str:
    """The metrics page. `drivers`: driver key -> running driver (WebContext.drivers);
    `dispatcher`: the OutboxDispatcher or None; `loop_lag`: LoopLagMonitor.value;
    `backup`: the nightly backup's BackupStatus (hub/backup/schedule.py), None without `[backup]`."""
    out = _Writer()
    state = hub.state
    now = hub.clock()

    if version is not None:
        out.family("casahub_build_info", "gauge", "The casahub version running.", [({"version": version}, 1)])
    out.gauge("casahub_ready", "1 once the alarm state is recovered from the journal and drivers feed it.", hub.ready)
    out.family(
        "casahub_mode",
        "gauge",
        "The intrusion mode: 1 for the current one, 0 for the others.",
        [({"mode": mode}, int(state.mode == mode)) for mode in MODES],
    )
    out.gauge("casahub_ready_to_arm", "1 when no zone keeps the system from arming away.", not _not_ready_count(hub))

    # Zones.
    zones_by_kind: dict[tuple[str, str], int] = {}
    for zone in state.zones.values():
        device = hub.devices.get(zone.device) if zone.device else None
        if not zone.online or (device is not None and not device.online):
            condition = "offline"
        elif zone.excluded is not None:
            condition = "bypassed"
        else:
            condition = "active" if zone.active else "idle"
        key = (zone.kind, condition)
        zones_by_kind[key] = zones_by_kind.get(key, 0) + 1
    out.family(
        "casahub_zones",
        "gauge",
        "Zones by kind and condition (idle, active = open/firing, bypassed, offline).",
        [({"kind": k, "condition": c}, n) for (k, c), n in sorted(zones_by_kind.items())],
    )

    # Anomalies (active ones live in the engine state).
    active_anomalies: dict[str, int] = dict.fromkeys(ANOMALY_KINDS, 0)
    for anomaly in state.anomalies.values():
        active_anomalies[anomaly.kind] = active_anomalies.get(anomaly.kind, 0) + 1
    out.family(
        "casahub_anomalies_active",
        "gauge",
        "Active anomalies (faults) by kind.",
        [({"kind": kind}, n) for kind, n in active_anomalies.items()],
    )

    # Centre link: down while the centre_unreachable anomaly is active.
    centre_transport = hub.transports.get("centre", "log")
    link_down = any(a.kind == "centre_unreachable" for a in state.anomalies.values())
    out.family(
        "casahub_centre_link_up",
        "gauge",
        "1 while the assistance-centre link answers (no centre_unreachable anomaly), else 0.",
        [({"transport": centre_transport}, int(not link_down))],
    )
    rtt = _centre_rtt(dispatcher, centre_transport)
    if rtt is not None:
        out.family(
            "casahub_centre_rtt_seconds",
            "gauge",
            "Round-trip time of the last message or poll the centre acknowledged.",
            [({"transport": centre_transport}, rtt)],
        )

    # Drivers and their devices.
    running = {key.split("#")[0] for key in drivers}
    per_driver: dict[str, dict[str, int]] = {}
    battery_min: dict[str, float] = {}
    for device in hub.devices.values():
        counts = per_driver.setdefault(device.driver, {"online": 0, "offline": 0})
        counts["online" if device.online else "offline"] += 1
        if device.battery is not None and not math.isnan(device.battery):
            battery_min[device.driver] = min(battery_min.get(device.driver, 101.0), float(device.battery))
    for name in running:
        per_driver.setdefault(name, {"online": 0, "offline": 0})
    out.family(
        "casahub_driver_running",
        "gauge",
        "1 for each driver that started (a driver that failed to start is absent).",
        [({"driver": key}, 1) for key in sorted(drivers)],
    )
    connected = [
        ({"driver": key}, int(value))
        for key, driver in sorted(drivers.items())
        if isinstance(driver, ReportsConnection) and isinstance(value := driver.connected, bool)
    ]
    if connected:
        out.family(
            "casahub_driver_connected",
            "gauge",
            "1 while a bus/bridge driver is connected to its peer (zigbee2mqtt: the broker).",
            connected,
        )
    out.family(
        "casahub_devices",
        "gauge",
        "Paired devices by driver and state (online/offline).",
        [
            ({"driver": name, "state": st}, n)
            for name, counts in sorted(per_driver.items())
            for st, n in sorted(counts.items())
        ],
    )
    # Routine telemetry the drivers' streams coalesced or refused under load (drivers/base.py):
    # the price of keeping alarms fast, and a sign of a radio flooding the hub.
    out.family(
        "casahub_telemetry_shed_total",
        "counter",
        "Battery/signal readings shed before the hub read them"
        " (coalesced: a newer value replaced it; full: too many devices).",
        [({"driver": name, "reason": reason}, n) for (name, reason), n in sorted(TELEMETRY_SHED.items())],
    )
    if battery_min:
        out.family(
            "casahub_device_battery_min_percent",
            "gauge",
            "The lowest battery level reported among a driver's devices.",
            [({"driver": name}, level) for name, level in sorted(battery_min.items())],
        )

    # The database: sizes always, counts when it answers.
    db_path = Path(hub.db.path)
    main_size, wal_size = _file_size(db_path), _file_size(db_path.with_name(db_path.name + "-wal"))
    out.gauge("casahub_db_size_bytes", "Size of the SQLite database, main file plus WAL.", main_size + wal_size)
    out.gauge("casahub_db_wal_size_bytes", "Size of the SQLite write-ahead log.", wal_size)
    out.gauge(
        "casahub_storage_degraded",
        "1 while the database cannot be written (alarms kept in memory).",
        hub.degraded.active,
    )
    storage_ok = True
    try:
        await _database_metrics(out, hub, now)
    except STORAGE_ERRORS as exc:
        storage_ok = False
        log.warning("metrics: database counts unavailable: %s", exc)
    out.gauge("casahub_metrics_storage_ok", "1 when this scrape could read the database counts.", storage_ok)
    if backup is not None:
        _backup_metrics(out, backup)

    # The event loop and the process.
    out.gauge("casahub_event_loop_lag_seconds", "How late the event loop woke a 1 s timer, last sample.", loop_lag)
    out.gauge(
        "casahub_live_clients", "Dashboards connected to the live stream (and other fan-out readers).", hub.fanout.count
    )
    uptime = max(0.0, now - hub.started_at)
    out.gauge("casahub_uptime_seconds", "Seconds since the hub started.", uptime)
    out.gauge("process_start_time_seconds", "Start time of the hub process since the Unix epoch.", time.time() - uptime)
    rss = _rss_bytes()
    if rss is not None:
        out.gauge("process_resident_memory_bytes", "Resident memory of the hub process.", rss)
    return out.text()


def _backup_metrics(out: _Writer, status: Any) -> None:
    # Alert on `time() - casahub_backup_last_success_timestamp_seconds > 26 * 3600`: it is 0
    # until the first success, so a hub that never backed up alerts too.
    out.gauge(
        "casahub_backup_last_success_timestamp_seconds",
        "When the last nightly backup succeeded (Unix time; 0: never).",
        status.last_success or 0,
    )
    out.gauge(
        "casahub_backup_last_ok",
        "1 when the last nightly backup attempt succeeded, 0 when it failed (or none was made yet).",
        bool(status.ok),
    )
    if status.ok and status.bytes is not None:
        out.gauge("casahub_backup_last_size_bytes", "Size of the last good backup file.", status.bytes)
    if status.ok and status.duration is not None:
        out.gauge("casahub_backup_last_duration_seconds", "How long the last good backup took.", status.duration)


def _not_ready_count(hub: Hub) -> int:
    return len(engine.readiness(hub.state, "away"))


def _centre_rtt(dispatcher: Any, transport: str) -> float | None:
    channels = getattr(dispatcher, "channels", None)
    if not isinstance(channels, Mapping):
        return None
    channel = channels.get(transport)
    for name in RTT_ATTRIBUTES:
        value = getattr(channel, name, None)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
            return float(value)
    return None


async def _database_metrics(out: _Writer, hub: Hub, now: float) -> None:
    events = await _event_counts(hub)
    out.family(
        "casahub_events_total",
        "counter",
        "Journal and audit-trail entries written, by kind.",
        [({"kind": kind}, n) for kind, n in sorted(events.items())],
    )

    hidden = tuple(HIDDEN_INCIDENT_KINDS)
    marks = ",".join("?" * len(hidden))
    incidents: dict[tuple[str, str], int] = {
        (kind, st): 0 for kind in INCIDENT_KINDS if kind not in HIDDEN_INCIDENT_KINDS for st in INCIDENT_STATES
    }
    for row in await hub.db.fetchall(
        f"SELECT kind, state, COUNT(*) FROM incidents WHERE kind NOT IN ({marks}) GROUP BY kind, state", hidden
    ):
        incidents[str(row[0]), str(row[1])] = int(row[2])
    out.family(
        "casahub_incidents",
        "gauge",
        "Incidents by kind and state (active and acknowledged ones are open).",
        [({"kind": kind, "state": st}, n) for (kind, st), n in sorted(incidents.items())],
    )

    # The outbox, without the rows of hidden incidents (a centre duress report).
    notifications: dict[tuple[str, str], int] = {(channel, st): 0 for channel in CHANNELS for st in NOTIFICATION_STATES}
    rows = await hub.db.fetchall(
        "SELECT channel, state, COUNT(*) FROM outbox"
        f" WHERE incident IS NULL OR incident NOT IN (SELECT id FROM incidents WHERE kind IN ({marks}))"
        " GROUP BY channel, state",
        hidden,
    )
    for row in rows:
        notifications[str(row[0]), str(row[1])] = int(row[2])
    out.family(
        "casahub_notifications",
        "gauge",
        "Outbox rows by channel and state (scheduled, pending, sent, dead, cancelled).",
        [({"channel": ch, "state": st}, n) for (ch, st), n in sorted(notifications.items())],
    )
    depth = sum(n for (_, st), n in notifications.items() if st in ("pending", "scheduled"))
    out.gauge("casahub_outbox_depth", "Messages waiting in the outbox (pending + scheduled).", depth)
    oldest = await hub.db.fetchone("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'")
    age = 0.0 if oldest is None or oldest[0] is None else max(0.0, now - float(oldest[0]))
    out.gauge("casahub_outbox_oldest_pending_seconds", "Age of the oldest message still to send (0: none).", age)


# --------------------------------------------------------------------------- the HTTP handler


def is_loopback(request: web.Request) -> bool:
    """The peer is this machine, and no reverse proxy stands in between."""
    remote = request.remote
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_loopback:
        return False
    return not any(name in request.headers for name in PROXY_HEADERS)


def metrics_handler(
    get_hub: Callable[[], Hub | None],
    *,
    lag: LoopLagMonitor | None = None,
    drivers: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
    version: str | None = None,
    authenticate: Callable[[web.Request], Awaitable[Any]] | None = None,
    backup: Callable[[], Any] | None = None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A `GET /metrics` handler: loopback, or a valid bearer token / dashboard session.

    `get_hub` returns the hub (None while it is not built yet: 503). `drivers` defaults to the
    WebContext's running drivers; `authenticate(request)` defaults to hub.web.auth.authenticate
    with the app's WebContext (it returns a principal or None); `backup()` returns the nightly
    backup's status (None: no `[backup]`, no backup metrics).
    """

    async def check(request: web.Request) -> bool:
        if is_loopback(request):
            return True
        if authenticate is not None:
            return await authenticate(request) is not None
        ctx = request.app.get(CONTEXT)
        if ctx is None:
            return False
        return await web_authenticate(ctx, request) is not None

    def running_drivers(request: web.Request) -> Mapping[str, Any]:
        if callable(drivers):
            return drivers()
        if drivers is not None:
            return drivers
        ctx = request.app.get(CONTEXT)
        return ctx.drivers if ctx is not None else {}

    async def handler(request: web.Request) -> web.StreamResponse:
        if not await check(request):
            return web.json_response(
                {"error": "unauthorized", "message": "metrics: from this machine, or with a bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="casahub"'},
            )
        hub = get_hub()
        if hub is None:
            return web.json_response({"error": "starting", "message": "the hub is starting"}, status=503)
        text = await render_metrics(
            hub,
            drivers=running_drivers(request),
            dispatcher=hub.dispatcher,
            loop_lag=lag.value if lag is not None else 0.0,
            version=version,
            backup=backup() if backup is not None else None,
        )
        response = web.Response(body=text.encode())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    return handler


__all__ = ["CONTENT_TYPE", "LoopLagMonitor", "is_loopback", "metrics_handler", "render_metrics"]
