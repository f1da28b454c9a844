"""The hub core: feeds inputs to the pure engine and makes its effects durable and visible.

One lock serialises every engine step. A step's journal row, engine snapshot, incident
and anomaly records and outbox rows commit in one transaction *before* anything is sent
or shown (docs/architecture.md, the durability rule). Then the dashboards hear about it (hub/core/live.py),
the dispatcher is woken and the deadline timer is re-armed from `engine.next_deadline`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
import msgspec

from alarms import engine
from alarms.model import (
    ActivationAdded,
    AlarmSettings,
    AnomalyCleared,
    AnomalyRaised,
    AnyEffect,
    AnyEvent,
    ArmRefused,
    CancelEscalation,
    Configure,
    DeviceHealth,
    Incident,
    IncidentChanged,
    IncidentOpened,
    Led,
    LogEvent,
    ModeChanged,
    Notify,
    Output,
    OutputCommand,
    OutputFailed,
    Report,
    SensorChanged,
    Siren,
    State,
    Step,
    SystemFault,
    Tick,
    WalkTestActivation,
    Zone,
)
from alarms.outputs import Action
from alarms.policy import Contact, Escalation, plan_notify, plan_report
from drivers.base import HealthReading, OutputReading, Reading, SensorReading
from drivers.capabilities import traits_of
from hub.core import outbox, output_link, outputs, views
from hub.core.clock import iso_seconds, wait_set
from hub.core.degraded import DURABLE_REQUIRED, PROBE_INTERVAL, STORAGE_ERRORS, Degraded, NotDurable, Unsaved
from hub.core.devices import DeviceRecord as DeviceRecord  # its old import path (hub/export)
from hub.core.devices import device_from_row
from hub.core.fanout import Fanout
from hub.core.live import LiveMessages
from hub.core.report_payload import report_payload, unsaved_report_payload
from hub.core.supervision import Supervision
from hub.store import journal
from hub.store.db import Database
from hub.store.disk_reserve import DiskReserve, is_disk_full
from hub.store.snapshot import SnapshotStore
from hub.transports.registry import NOT_CONFIGURED, is_real

log = logging.getLogger("hub.runtime")  # the name users' [log] levels know (README)

LOW_BATTERY_PERCENT = 15.0
LAST_SEEN_EVERY = 900.0  # seconds; supervision reads last_seen from memory, this is for restarts
SILENT_REPORTS = 2  # a device is silent after missing this many expected reports
TELEMETRY_FLUSH = 60.0  # seconds between batched writes of battery/signal/last_seen (SD-card wear)
# A received signal strength wobbles by a few dB from one report to the next; the stored value
# only serves restarts (the API shows the live one), so it is rewritten when it moves this much.
SIGNAL_DEADBAND = 6.0  # dB


def _telemetry_moved(stored: tuple[object, ...] | None, values: tuple[object, ...]) -> bool:
    """Whether (battery, signal, online) differs from the stored row enough to rewrite it."""
    if stored is None:
        return True
    if (stored[0], stored[2]) != (values[0], values[2]):
        return True
    old, new = stored[1], values[1]
    if not isinstance(old, int | float) or not isinstance(new, int | float):
        return old != new
    return abs(new - old) >= SIGNAL_DEADBAND


class Hub:
    def __init__(
        self,
        db: Database,
        *,
        settings: AlarmSettings,
        contacts: Sequence[Contact],
        escalation: Escalation,
        transports: Mapping[str, str],
        timezone: str = "Europe/Rome",
        language: str = "it",
        clock: Callable[[], float] = time.time,
        demo: bool = False,
        has_app: Callable[[str], bool] = lambda contact: False,
        reserve: DiskReserve | None = None,
    ) -> None:
        self.db = db
        # Room for the journal when the disk fills (none unless the daemon asks for one).
        self.reserve = reserve if reserve is not None else DiskReserve(db.path.parent, 0)
        self.settings = settings  # what recover() applies: the config's [alarm] plus the dashboard's overrides
        self.config_settings = settings  # the config's [alarm] alone ("installer values")
        self.settings_overrides: dict[str, float] = {}  # field -> value set from the dashboard (settings_api)
        self.contacts = list(contacts)
        self.config_contacts = tuple(contacts)  # [[contacts]]; the dashboard's are added by use_contacts
        self.escalation = escalation
        # channel -> transport name: "none" when not configured ("log" in the demo), hub/transports/registry.py
        self.transports = dict(transports)
        self.demo = demo
        self.has_app = has_app  # contact name -> a dashboard app subscribed for push (blocking store read)
        self.channels_dirty = asyncio.Event()  # set by channels_changed, awaited by hub/core/channel_watch.py
        self.tz = ZoneInfo(timezone)
        self.language = language
        self.clock = clock
        # Start from the defaults; recover() journals a Configure, so replaying the journal from
        # the beginning gives exactly this state.
        self.state: State = engine.initial_state()
        self.devices: dict[str, DeviceRecord] = {}
        self.fanout = Fanout(lambda: {"type": "system", "system": views.system_json(self)})
        self.live = LiveMessages(self)  # what the dashboards hear of each step
        self.ready = False
        self.dispatcher: outbox.OutboxDispatcher | None = None
        # Commands to sirens, valves and relays (hub/core/outputs.py), when the daemon runs them.
        self.outputs: outputs.OutputDispatcher | None = None
        self._new_commands: list[outputs.CommandRow] = []  # this step's, handed over after the commit
        # Photo verification (hub/cameras/snapshots.py), when the daemon runs it: stores a new
        # incident's before-trigger frames and names those its alarm e-mail carries.
        self.photos: Any = None
        self._photos: dict[str, list[str]] = {}  # incident -> frame files, for this step's e-mails
        self.snapshots = SnapshotStore()  # the engine snapshot, only its changed zones rewritten
        self._lock = asyncio.Lock()
        self._timer_wake = asyncio.Event()
        self._dirty_devices: set[str] = set()
        self._ingested = asyncio.Event()
        self._by_address: dict[tuple[str, str], DeviceRecord] = {}
        self._zones_index: dict[str, list[Zone]] = {}
        self._zones_index_state: State | None = None
        self._outputs_index: dict[str, list[Output]] = {}
        self._outputs_index_state: State | None = None
        self.degraded = Degraded()
        self._zone_numbers: dict[str, int] = {}
        self._hub_battery_low: set[str] = set()
        self._stored_telemetry: dict[str, tuple[tuple[object, ...], float | None]] = {}
        self.started_at = clock()
        # driver, address -> seconds between reports; set by the daemon from the running drivers.
        self.expected_interval: Callable[[str, str], float | None] = lambda driver, address: None
        self.supervision = Supervision(
            submit=self.submit,
            devices_of=lambda driver: [d.id for d in self.devices.values() if d.driver == driver],
            silent_devices=self.silent_devices,
            grace=lambda: self.state.settings.offline_grace,
            clock=clock,
        )

    # ------------------------------------------------------------------ start-up
    async def recover(self) -> None:
        """Load the engine snapshot and devices; apply the configured settings."""
        conn = self.db.conn
        state = await self.snapshots.load(conn)
        if state is not None:
            self.state = state
        for row in await self.db.fetchall("SELECT * FROM devices"):
            self.devices[row["id"]] = device_from_row(row)
        if self.outputs is not None:
            await self.outputs.resume()  # commands a crash left unsent or unconfirmed
        if self.state.settings != self.settings:
            await self.submit(Configure(settings=self.settings), actor="config")
        # Deadlines that passed while the hub was down fire now, at their original times (a
        # siren whose siren time ended meanwhile is commanded to stop here).
        await self.submit(Tick())
        await output_link.reassert_outputs(self)

    # ------------------------------------------------------------------ the engine step
    async def submit(self, event: AnyEvent, *, actor: str | None = None) -> Step:
        """Run one engine step and commit it. A person's change (`DURABLE_REQUIRED`) that cannot
        be committed is not made: `NotDurable`. Anything else goes on in memory (hub/core/degraded.py)."""
        released = refused = False
        async with self._lock:
            now = self.clock()
            step = engine.handle(self.state, event, now)
            if isinstance(event, Tick) and not step.effects and step.state == self.state:
                return step
            notifications: list[dict[str, Any]] = []
            steps = [step]
            durable = DURABLE_REQUIRED.get()
            failure: Exception | None = None
            if not self.degraded.active:
                try:
                    notifications = await self._commit(event, step, now, actor)
                except STORAGE_ERRORS as exc:
                    failure = exc
                if failure is not None and is_disk_full(failure) and self.reserve.release():
                    released = True
                    try:
                        notifications = await self._commit(event, step, now, actor)
                        failure = None
                    except STORAGE_ERRORS as exc:
                        failure = exc
                if failure is not None:
                    self.degraded.enter(failure)
                    if durable:
                        steps = []  # not written, not made: the caller answers 503
                    else:
                        self._apply_in_memory(event, step, now, actor)
                    # The household must hear that the hub cannot record: raise storage_error now.
                    fault = SystemFault(kind="storage_error", active=True, subject="database")
                    fault_step = engine.handle(steps[-1].state if steps else self.state, fault, now)
                    self._apply_in_memory(fault, fault_step, now, "hub")
                    steps.append(fault_step)
                    notifications.append({})
            elif durable:
                refused, steps = True, []  # answered "not made" (503): it must not be made in memory either
            else:
                self._apply_in_memory(event, step, now, actor)
                notifications.append({})
            if steps:
                self.state = steps[-1].state
            commands, self._new_commands = self._new_commands, []
            if commands and self.outputs is not None:
                self.outputs.add(commands)  # first: a siren must not wait for the dashboards
        for done in steps:
            self._after_commit(done, notifications)
        if released:
            # The reserve gave the journal room for a while: the household must free some.
            await self.submit(SystemFault(kind="storage_error", active=True, subject="disk"), actor="hub")
        if refused or (durable and failure is not None):
            raise NotDurable(f"the change could not be written ({failure or 'storage is failing'}): it was not made")
        return step

    async def _commit(self, event: AnyEvent, step: Step, now: float, actor: str | None) -> list[dict[str, Any]]:
        """Journal `event` and write what its step caused, in one transaction."""
        notifications: list[dict[str, Any]] = []
        self._new_commands = []
        try:
            async with self.db.step_transaction() as conn:
                event_id = await journal.append_input(conn, event, now, actor)
                for effect in step.effects:
                    await self._persist(conn, effect, step.state, now, actor, notifications)
                self._photos.clear()
                await self.snapshots.save(conn, step.state, event_id)
        except BaseException:
            self._new_commands = []  # rolled back: those rows do not exist
            self.snapshots.rolled_back()
            raise
        self.snapshots.committed()
        return notifications

    async def keep_reserve(self) -> None:
        """Make the disk reserve again once there is room, and then clear "disk almost full"."""
        if self.degraded.active or not await asyncio.to_thread(self.reserve.ensure):
            return
        if any(a.kind == "storage_error" and a.subject == "disk" for a in self.state.anomalies.values()):
            await self.submit(SystemFault(kind="storage_error", active=False, subject="disk"), actor="hub")

    def _apply_in_memory(self, event: AnyEvent, step: Step, now: float, actor: str | None) -> None:
        """The database failed: keep the step and send its messages from memory."""
        self.degraded.steps.append(Unsaved(event=event, at=now, actor=actor, step=step))
        extra = {"time": self.format_time(now)}
        for effect in step.effects:
            match effect:
                case Notify():
                    for message in plan_notify(
                        effect, step.state, self.contacts, self.escalation, ntfy=self._has("ntfy")
                    ):
                        transport = self._transport(message.channel)
                        self.degraded.queue(message, transport=transport, now=now, params=extra, payload=None)
                case Report():
                    message = plan_report(effect, step.state, self.language)
                    payload = unsaved_report_payload(effect, self._zone_numbers, self.state.settings)
                    transport = self._transport("centre")
                    if transport != NOT_CONFIGURED:  # no centre, no report (as enqueue)
                        self.degraded.queue(message, transport=transport, now=now, params=extra, payload=payload)
                case CancelEscalation(incident=incident_id):
                    self.degraded.cancel_escalation(incident_id)
                case OutputCommand():
                    # A full disk must not silence a siren: sent from memory, written when it can be.
                    row = output_link.command_row(self, effect.output, effect.command, effect.reason, step.state, now)
                    self.degraded.commands.append(row)
                    self._new_commands.append(row)
                case _:
                    pass

    async def run_storage_probe(self, interval: float = PROBE_INTERVAL) -> None:
        """While storage fails, retry it; on success write everything kept in memory, in order.
        Keep the disk reserve too (hub/store/disk_reserve.py)."""
        while True:
            await asyncio.sleep(interval)
            try:
                if self.degraded.active:
                    await self.flush_degraded()
                await self.keep_reserve()
            except Exception:
                log.exception("writing the in-memory backlog failed")

    async def flush_degraded(self) -> bool:
        async with self._lock:
            kept = self.degraded
            try:
                async with self.db.transaction() as conn:
                    last_event = 0
                    for unsaved in kept.steps:
                        last_event = await journal.append_input(conn, unsaved.event, unsaved.at, unsaved.actor)
                        for effect in unsaved.step.effects:
                            # Messages are in kept.outbox, output commands in kept.commands.
                            if not isinstance(effect, Notify | Report | OutputCommand):
                                await self._persist(conn, effect, unsaved.step.state, unsaved.at, unsaved.actor, [])
                    for row in kept.outbox:
                        await outbox.insert_memory_row(conn, row)
                    command_ids = [await outputs.insert(conn, command) for command in kept.commands]
                    await self.snapshots.save(conn, self.state, last_event)
            except STORAGE_ERRORS as exc:
                self.snapshots.rolled_back()
                log.info("storage still failing: %s", exc)
                return False
            self.snapshots.committed()
            for command, command_id in zip(kept.commands, command_ids, strict=True):
                command.id = command_id
            self.degraded = Degraded()
            log.warning("storage works again: %d steps and %d messages written", len(kept.steps), len(kept.outbox))
        if self.outputs is not None:
            await self.outputs.record_all(kept.commands)  # what they did while being written
        await self.submit(SystemFault(kind="storage_error", active=False, subject="database"), actor="hub")
        await self.keep_reserve()
        if self.dispatcher is not None:
            self.dispatcher.wake()
        return True

    async def _persist(
        self,
        conn: aiosqlite.Connection,
        effect: AnyEffect,
        state: State,
        now: float,
        actor: str | None,
        notifications: list[dict[str, Any]],
    ) -> None:
        match effect:
            case IncidentOpened(incident=inc) | ActivationAdded(incident=inc) | IncidentChanged(incident=inc):
                await journal.save_incident(conn, inc)
                if isinstance(effect, IncidentOpened):
                    self._photos[inc.id] = self._before_photos(inc)
                kind = {IncidentOpened: "incident_opened", ActivationAdded: "activation_added"}.get(
                    type(effect), f"incident_{inc.state}"
                )
                zone = effect.zone if isinstance(effect, ActivationAdded) else None
                await journal.append_event(
                    conn,
                    now,
                    kind,
                    actor=inc.by or actor,
                    zone=zone,
                    incident=inc.id,
                    data={"kind": inc.kind, "state": inc.state, "confirmed": inc.confirmed},
                )
            case AnomalyRaised(anomaly=ano) | AnomalyCleared(anomaly=ano):
                await journal.save_anomaly(conn, ano)
                kind = "anomaly_raised" if isinstance(effect, AnomalyRaised) else "anomaly_cleared"
                await journal.append_event(
                    conn,
                    now,
                    kind,
                    anomaly=ano.id,
                    data={"kind": ano.kind, "device": ano.device, "subject": ano.subject},
                )
            case Notify():
                photos = self._photos.get(effect.incident or "") if effect.subject == "incident" else None
                for message in plan_notify(effect, state, self.contacts, self.escalation, ntfy=self._has("ntfy")):
                    # The e-mail names the frame files; the channel reads them when it sends.
                    payload = {"photos": photos} if photos and message.channel == "email" else None
                    notifications.append(await self.enqueue(conn, message, now, payload=payload))
            case Report():
                message = plan_report(effect, state, self.language)
                payload = await report_payload(conn, effect, self._zone_numbers, self.state.settings)
                notifications.append(await self.enqueue(conn, message, now, payload=payload))
            case CancelEscalation(incident=incident_id):
                await outbox.cancel_escalation(conn, incident_id)
            case ModeChanged():
                await journal.append_event(
                    conn,
                    now,
                    "mode_changed",
                    actor=effect.by or actor,
                    data={"old": effect.old, "new": effect.new, "deadline": effect.deadline},
                )
            case ArmRefused():
                await journal.append_event(
                    conn,
                    now,
                    "arm_refused",
                    actor=actor,
                    data={"reason": effect.reason, "not_ready": [list(z) for z in effect.not_ready]},
                )
            case LogEvent():
                await journal.append_event(
                    conn,
                    now,
                    effect.kind,
                    actor=effect.by or actor,
                    zone=effect.zone,
                    data={"detail": effect.detail} if effect.detail else None,
                )
            case Siren(on=on):
                await journal.append_event(conn, now, "siren_on" if on else "siren_off")
            case OutputCommand():
                # Its LogEvent (output_command) is journaled beside it; this is the row the
                # output dispatcher sends and follows (hub/core/outputs.py).
                row = output_link.command_row(self, effect.output, effect.command, effect.reason, state, now)
                await outputs.supersede(conn, row, now)
                row.id = await outputs.insert(conn, row)
                self._new_commands.append(row)
            case WalkTestActivation():
                signal = views.walk_test_signal(self, effect)
                await journal.append_event(
                    conn, now, "walk_test_activation", actor=actor, zone=effect.zone, data=signal
                )
            case Led():
                pass  # the LED driver (production issue) follows the state; nothing to store

    def _before_photos(self, incident: Incident) -> list[str]:
        """The frames the alarm e-mail carries; a camera or disk problem never holds up the alarm."""
        if self.photos is None:
            return []
        try:
            return [str(path) for path in self.photos.incident_opened(incident)]
        except Exception:
            log.exception("incident %s: no photos for the alarm e-mail", incident.id)
            return []

    async def output_failed(self, output: str, action: Action, detail: str) -> None:
        """The output dispatcher gave up a command: the engine raises `output_failure`."""
        await self.submit(OutputFailed(output=output, action=action, detail=detail or None), actor="hub")

    def _has(self, channel: str) -> bool:
        return is_real(self.transports.get(channel))

    def _transport(self, channel: str) -> str:
        return self.transports.get(channel, NOT_CONFIGURED)

    async def enqueue(
        self, conn: aiosqlite.Connection, message: Any, now: float, payload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write a planned message into the outbox, in the caller's transaction (pairing too)."""
        transport = self._transport(message.channel)
        if transport == NOT_CONFIGURED and message.channel == "centre":
            return {"id": 0}  # a hub without [centre] reports to nobody; doctor and the report say so
        # A household message with no transport is written `dead`, "not_configured" (hub/core/outbox.py).
        extra = {"time": self.format_time(now)}
        until = message.params.get("until_ts")
        if until is not None:  # an isolation's end, in the household's time zone
            extra["until"] = self.format_time(float(until))
        row_id = await outbox.enqueue(conn, message, now=now, transport=transport, extra_params=extra, payload=payload)
        return {"id": row_id}

    def publish_notification(self, row: dict[str, Any]) -> None:
        """A delivery result for live dashboards (the outbox dispatcher's `on_change`)."""
        self.live.notification(row)

    def format_time(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.tz).strftime("%d/%m/%Y %H:%M:%S")

    def iso(self, ts: float | None) -> str | None:
        return None if ts is None else iso_seconds(ts, self.tz)

    def _after_commit(self, step: Step, notifications: list[dict[str, Any]]) -> None:
        self._timer_wake.set()
        if notifications and self.dispatcher is not None:
            self.dispatcher.wake()
        self.live.step(step)

    # ------------------------------------------------------------------ timers
    async def run_timers(self) -> None:
        """Sleeps until the engine's next deadline (or a state change) and feeds a Tick."""
        while True:
            self._timer_wake.clear()
            deadline = engine.next_deadline(self.state)
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            if timeout is None or timeout > 0:
                try:
                    await wait_set(self._timer_wake, timeout)
                    continue  # state changed: recompute the deadline
                except TimeoutError:
                    pass
            try:
                await self.submit(Tick())
            except Exception:
                log.exception("timer step failed; retrying in 1 s")
                await asyncio.sleep(1)

    # ------------------------------------------------------------------ drivers
    async def ingest(self, driver: str, reading: Reading) -> None:
        """A driver's reading: de-duplicate, coalesce telemetry, feed changes to the engine."""
        try:
            await self._ingest(driver, reading)
        finally:
            # An output's report comes by itself, a moment after a command (the demo's siren
            # answering): it is not what `settle` waits for.
            if not isinstance(reading, OutputReading):
                self._ingested.set()

    async def _ingest(self, driver: str, reading: Reading) -> None:
        device = self.device_by_address(driver, reading.address)
        if device is None:
            return  # not paired: it may be a pairing candidate, never an alarm
        device.last_seen = reading.at
        self._dirty_devices.add(device.id)
        zones = self.zones_of(device.id)
        mine = self.outputs_of(device.id)
        actor = f"device:{device.id}"
        was_online = device.online
        if isinstance(reading, HealthReading) and reading.online is False:
            device.online = False
            self.supervision.note_offline(driver, device.id, reading.at)
        else:
            # Anything heard from a device means it is there: back online before its news applies,
            # so a door opened "while we were away" is judged as a door opening now.
            device.online = True
            was_offline = await self.supervision.heard(driver, device.id)
            if was_offline or any(not z.online for z in zones) or any(not o.online for o in mine):
                await self.submit(DeviceHealth(device=device.id, online=True), actor=actor)
                zones = self.zones_of(device.id)
                mine = self.outputs_of(device.id)
        if device.online != was_online:  # a zone's `online` follows its device's before any engine step
            self.live.zones(self.state.zones, only=[z.id for z in zones])
        if isinstance(reading, SensorReading):
            for zone in zones:
                if zone.kind == reading.kind and zone.active != reading.active:
                    await self.submit(SensorChanged(zone=zone.id, active=reading.active), actor=actor)
            return
        if isinstance(reading, OutputReading):
            await output_link.output_reading(self, reading, mine, actor)
            return
        if reading.battery is not None:
            device.battery = reading.battery
        if reading.signal is not None:
            device.signal = reading.signal
        low = reading.battery_low
        if low is None and reading.battery is not None:
            low = reading.battery < LOW_BATTERY_PERCENT
        if traits_of(driver).powers_hub:
            # The UPS behind the hub itself: its low battery is the hub's, not a sensor's.
            if low is not None and low != (f"hub:{device.id}" in self._hub_battery_low):
                if low:
                    self._hub_battery_low.add(f"hub:{device.id}")
                else:
                    self._hub_battery_low.discard(f"hub:{device.id}")
                await self.submit(SystemFault(kind="hub_battery_low", active=low, subject=device.id), actor=actor)
            low = None
        if not zones and not mine:
            return
        ref: Zone | Output = zones[0] if zones else mine[0]  # a device with only outputs: as the engine
        change = DeviceHealth(
            device=device.id,
            battery_low=low if low is not None and low != ref.battery_low else None,
            tamper=reading.tamper if reading.tamper is not None and reading.tamper != ref.tamper else None,
        )
        if change.battery_low is not None or change.tamper is not None:
            await self.submit(change, actor=actor)

    def silent_devices(self, now: float) -> list[tuple[str, str]]:
        """Devices heard from longer ago than their expected interval (supervision)."""
        silent = []
        for d in self.devices.values():
            interval = self.expected_interval(d.driver, d.address)
            if interval is None or not d.online:
                continue
            last = d.last_seen if d.last_seen is not None else max(d.created_at, self.started_at)
            if now - last > SILENT_REPORTS * interval:  # one report may get lost in the air
                silent.append((d.driver, d.id))
        return silent

    def device_by_address(self, driver: str, address: str) -> DeviceRecord | None:
        device = self._by_address.get((driver, address))
        if device is None or self.devices.get(device.id) is not device:
            # The index is rebuilt whenever devices were added or removed behind its back.
            self._by_address = {(d.driver, d.address): d for d in self.devices.values()}
            device = self._by_address.get((driver, address))
        return device

    def zones_of(self, device_id: str) -> list[Zone]:
        """The zones of a device, from an index rebuilt only when the engine state changes
        (telemetry, 99 % of readings, does not change it: a reading costs two dict lookups)."""
        if self._zones_index_state is not self.state:
            index: dict[str, list[Zone]] = {}
            for zone in self.state.zones.values():
                if zone.device is not None:
                    index.setdefault(zone.device, []).append(zone)
            self._zones_index = index
            self._zones_index_state = self.state
        return self._zones_index.get(device_id, [])

    def outputs_of(self, device_id: str) -> list[Output]:
        """The outputs of a device, indexed like `zones_of`."""
        if self._outputs_index_state is not self.state:
            index: dict[str, list[Output]] = {}
            for output in sorted(self.state.outputs.values(), key=lambda o: o.id):
                if output.device is not None:
                    index.setdefault(output.device, []).append(output)
            self._outputs_index = index
            self._outputs_index_state = self.state
        return self._outputs_index.get(device_id, [])

    async def flush_telemetry(self) -> None:
        """Write telemetry that changed. `last_seen` alone is written at most every LAST_SEEN_EVERY
        seconds per device: it changes with every report and would otherwise rewrite every row
        every minute (most of the SD card's daily writes)."""
        dirty, self._dirty_devices = self._dirty_devices, set()
        rows = []
        for device_id in dirty:
            d = self.devices.get(device_id)
            if d is None:
                continue
            values = (d.battery, d.signal, int(d.online))
            stored, stored_seen = self._stored_telemetry.get(device_id, (None, None))
            seen_due = d.last_seen is not None and (stored_seen is None or d.last_seen - stored_seen >= LAST_SEEN_EVERY)
            if _telemetry_moved(stored, values) or seen_due:
                rows.append((d.battery, d.signal, d.last_seen, int(d.online), d.id))
                self._stored_telemetry[device_id] = (values, d.last_seen)
        if not rows:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE devices SET battery = ?, signal = ?, last_seen = ?, online = ? WHERE id = ?", rows
            )

    async def run_telemetry_flush(self) -> None:
        while True:
            await asyncio.sleep(TELEMETRY_FLUSH)
            try:
                await self.flush_telemetry()
            except Exception:
                log.exception("telemetry flush failed")

    async def raise_fault(self, kind: str, subject: str | None, active: bool = True) -> None:
        await self.submit(SystemFault(kind=kind, active=active, subject=subject), actor="hub")  # type: ignore[arg-type]

    # ------------------------------------------------------------------ contacts
    def use_contacts(self, dashboard: Sequence[Contact]) -> None:
        """The config's contacts plus the dashboard's. The list is changed in place: whatever
        holds it sees the change, and the next alarm is planned with these contacts."""
        self.contacts[:] = [*self.config_contacts, *dashboard]
        self.channels_changed()

    # ------------------------------------------------------------------ can anybody be told?
    def channels_changed(self) -> None:
        """Contacts or push subscriptions changed: look again at once whether anybody can be told
        (hub/core/channel_watch.py)."""
        self.channels_dirty.set()

    async def audit(
        self, kind: str, *, actor: str | None = None, data: dict[str, Any] | None = None, notify: bool = False
    ) -> None:
        """An audit-trail entry that is not an engine input (logins, wrong codes, pairing).

        With `notify`, the household's app hears of it too (hub started, device paired),
        through the same outbox rows, written in the same transaction.
        """
        now = self.clock()
        queued = False
        if self.degraded.active:
            log.warning("not recorded (storage failing): %s by %s", kind, actor)
            return
        async with self.db.transaction() as conn:
            await journal.append_event(conn, now, kind, actor=actor, data=data)
            if notify:
                event = Notify(subject="event", event=kind, by=actor)
                for message in plan_notify(event, self.state, self.contacts, self.escalation, ntfy=self._has("ntfy")):
                    params = {**message.params, **{k: str(v) for k, v in (data or {}).items()}}
                    await self.enqueue(conn, msgspec.structs.replace(message, params=params), now)
                    queued = True
        if queued and self.dispatcher is not None:
            self.dispatcher.wake()
        self.fanout.publish({"type": "event", "kind": kind, "by": actor})

    def forget_device(self, device_id: str) -> None:
        """An unpaired device (hub/core/pairing.py): no telemetry of it is written any more."""
        self.devices.pop(device_id, None)
        self._dirty_devices.discard(device_id)

    async def settle(self, timeout: float = 1.0) -> None:
        """Wait until the readings a driver just produced have gone through the engine (demo API);
        outputs' reports do not count."""
        self._ingested.clear()
        try:
            await wait_set(self._ingested, timeout)
        except TimeoutError:
            pass
