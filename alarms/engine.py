"""The alarm engine: a pure, deterministic state machine (no clock, no I/O, no asyncio).

Theory of operation
===================

The shell feeds the engine one input at a time: ``handle(state, event, now)`` returns a
``Step`` (the new ``State`` and a tuple of effects). The engine never reads a clock;
``now`` comes from the caller, and ``next_deadline(state)`` tells the caller when to
feed a ``Tick`` next. The same journal of ``(event, now)`` pairs always gives the same
states, effects and ids (``replay``), so the shell can recover after ``kill -9``.

Three machines live in the state and interact only through the rules below:

1. The *intrusion mode* (``state.mode``): disarmed, arming_<target> (exit delay),
   armed_<target>, pending (entry delay), triggered (siren), where the target is one of
   the armed modes home, night, away and vacation. Its moves are the table
   ``MODE_TRANSITIONS``; the few moves that depend on more than (mode, trigger) are
   listed in the comment right below the table. Only intrusion zones (behaviour
   instant, entry or follower) that are *armed in the target mode* feed it: zones whose
   ``modes`` hold the target, and never an excluded zone (see *Exclusions* below). Each
   target has its own exit and entry delays (``AlarmSettings.modes``, else the common ones).
2. *Incidents* (``state.incidents``, open ones only): at most one open incident per
   kind, except ``duress``. An alarm of a kind that already has an open incident adds
   activations to it. 24h zones (water, smoke, power, panic) and device tamper raise
   incidents in every mode and never move the intrusion mode.
3. *Anomalies* (``state.anomalies``, active ones only): faults, never alarms. One per
   (kind, device) for device faults, one per (kind, subject) for system faults.
   A device that goes offline only becomes an anomaly after ``offline_grace``.

Rules that hold everywhere:

- Time: every input first fires the deadlines that are due at ``now`` (a ``Tick`` is
  just an input that does nothing else). Deadlines fire in time order, each *at its own
  time*: the exit delay that ended while the hub was down arms at its deadline, an entry
  delay that ran out opens its incident with ``opened_at`` = the deadline, an offline
  anomaly opens at ``offline_since + offline_grace``. So a late Tick, or a restart, gives
  exactly what a punctual Tick would have.
- A zone alarms once until it restores: the ``alarmed`` flag is set when a zone is
  reported in alarm, and cleared (with a restore report) when it goes inactive. A zone
  that is alarmed and still active never retriggers; an "active" reading of a zone that is
  not alarmed counts as an opening even if the zone was already active (a motion sensor
  that reports again, a zone un-bypassed while open).
- A zone's behaviour decides *when* it alarms, its kind decides *what* it raises
  (``INCIDENT_FOR_ZONE``): a ``24h`` motion zone is a 24h burglary zone (an intrusion
  incident in every mode, no siren, no mode change).
- Every non-duress incident produces an ``IncidentOpened``, at least one ``Report`` and
  one ``Notify`` in the same step. Duress is silent: ``Report`` to the centre only.
- Swinger shutdown: every intrusion activation counts a trip on its zone; the opening
  that would exceed ``swinger_limit`` bypasses the zone until disarm instead of alarming.
- Disarming clears the armed period: every exclusion but isolations, trips, alarmed flags
  of intrusion zones. An intrusion incident still ``active`` and opened within
  ``abort_window`` is cancelled (and the cancel is reported).
- Domain mistakes (unknown zone, unknown incident, unknown device) never raise: they
  leave the state alone and emit a ``LogEvent``. ``EngineError`` means a bug in this
  module (an impossible transition), never bad input.
- Ids ``inc-<n>`` / ``ano-<n>`` come from ``state.next_id`` so replays give the same ids.

Exclusions (``zone.excluded``)
------------------------------

One model for every way a zone stops protecting, so that nothing silences a zone without the
household knowing. ``how`` says which, and each has one way to end:

    how              who                        zones              ends
    ---------------  -------------------------  -----------------  ------------------------------------
    inhibit          a user (ZoneExclude)       intrusion only     the next return to disarmed
    open_at_arming   a forced arm               intrusion (armed)  the zone closes (reason "open"), or
                                                                   disarm (reason "offline"/"tamper")
    isolate          the owner (ZoneExclude)    any; 24h <= 24 h   ``until`` (a deadline), renewable
    auto             swinger shutdown           intrusion          disarm

``ZoneInclude`` ends any of them at once. Exclusions only start while disarmed (a forced arm
and a swinger shutdown are the hub's own, during arming); a refused one is a
``exclusion_refused`` LogEvent whose detail says why (``24h_zone``, ``not_disarmed``,
``too_long``, ``isolated``). Every start and every end, whoever or whatever caused it, emits
the same three effects: a LogEvent (``zone_excluded`` / ``zone_included``), a centre Report
(``bypass``, restore on the end) and a Notify (event ``zone_excluded`` / ``zone_included``).
A 24h zone that comes back while still active alarms at once: the leak is still there.

Walk test (``state.walk_test``)
-------------------------------

An installer proves every sensor works by opening it. ``WalkTestStart`` is taken only when
disarmed and no walk test runs (else a ``walk_test_refused`` LogEvent whose detail is
``not_disarmed`` or ``walk_test_active``). While it runs the hub is a tester, not an alarm:
an opening of *any* zone (24h ones too: smoke and water sensors have test buttons) and a
device tamper only record the zone (``walk_test.tested``, ``walk_tested_at``,
``tamper_tested_at``) and emit ``WalkTestActivation``; no incident, notification, report
or siren. Arming is refused (``walk_test``). The centre hears ``walk_test`` when it starts
and ``walk_test`` restore when it ends, and nothing new in between: a fault raised during
the test (an installer pulling a battery) is notified to the household as usual, but its
centre report waits for the end of the test and is only sent if the fault is still there;
restores of alarms and faults the centre already had are sent at once. A duress disarm is
never a test. The walk test ends at ``ends_at`` (a deadline like the others, moved by
``ClockStep``) or on ``WalkTestStop``. Zones still open at the end do not alarm then: they
alarm on their next opening.

Outputs (``state.outputs``)
---------------------------

Sirens, water valves and relays act in the home; ``alarms/output_rules.py`` holds their rules
(its header has the table) and this module calls them where the moves happen: ``trigger``
(intrusion), ``raise_incident`` (fire, panic, water...), ``disarm`` (stop, squawk),
``arrived_armed`` (squawk), ``sensor_changed`` (chime) and the deadlines (``wanted_until``, a
deadline like the others, moved by ``ClockStep``). Each command is an ``OutputCommand`` and a
``LogEvent``; a valve closed by water and opened again is a ``Notify`` (``valve_closed``,
``valve_opened``). Outputs are devices: ``DeviceHealth`` of a device with outputs and no zone
raises the same faults as a sensor's (offline after the grace, low battery, a tamper incident
naming the output's id), and an offline siren makes arming not ready (``siren_offline``,
forceable). ``OutputFailed`` (the shell gave up) raises ``output_failure`` (one per output,
``device`` its device, ``subject`` its id); the first ``OutputReported`` that confirms what the
output was last asked clears it. ``OutputTest`` runs only while disarmed (walk test included),
else ``output_test_refused`` (``not_disarmed``, ``sounding``, ``water_closed``); an unknown output
is an ``unknown_output`` LogEvent, as for zones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from alarms import output_rules
from alarms.areas import (
    ARMED_MODE,
    ARMED_MODES,
    ARMING,
    ARMING_MODES,
    AreaRun,
    armed_like,
    house_of,
    led_for,
    load_areas,
    others_watch,
    zone_areas,
)
from alarms.errors import AlarmsError
from alarms.model import (
    ARM_TARGETS,
    INCIDENT_FOR_ZONE,
    ISOLATE_MAX_HOURS,
    ISOLATE_MAX_HOURS_24H,
    STAY_TARGETS,
    Ack,
    Activation,
    ActivationAdded,
    AlarmSettings,
    Anomaly,
    AnomalyCleared,
    AnomalyKind,
    AnomalyRaised,
    AnyEffect,
    AnyEvent,
    AreaState,
    ArmRefused,
    ArmRequest,
    ArmTarget,
    CancelEscalation,
    ClockStep,
    Configure,
    DeviceHealth,
    DisarmRequest,
    Exclusion,
    Incident,
    IncidentChanged,
    IncidentKind,
    IncidentOpened,
    Led,
    LedPattern,
    LogEvent,
    Mode,
    ModeChanged,
    Notify,
    Output,
    OutputFailed,
    OutputOpen,
    OutputRemove,
    OutputReported,
    OutputTest,
    OutputUpsert,
    Report,
    ReportCode,
    Resolve,
    SensorChanged,
    Siren,
    State,
    Step,
    SystemFault,
    Tick,
    WalkTest,
    WalkTestActivation,
    WalkTestStart,
    WalkTestStop,
    WrongCodes,
    Zone,
    ZoneExclude,
    ZoneInclude,
    ZoneRemove,
    ZoneUpsert,
)
from alarms.output_rules import OutputRules
from alarms.zone_config import DEFAULT_MODES, DEFAULT_WATCH_DAYS, modes_from_home, ordered_modes

__all__ = [
    "ARMED_MODE",
    "ARMED_MODES",
    "ARMING",
    "ARMING_MODES",
    "MODE_TRANSITIONS",
    "EngineError",
    "handle",
    "initial_state",
    "next_deadline",
    "readiness",
    "replay",
]


class EngineError(AlarmsError):
    """A bug in the engine: a transition the rules never make. Bad input never raises this."""


# --------------------------------------------------------------------------- the mode table

Trigger = Literal[
    "arm_home",  # ArmRequest(mode="home") that passed readiness
    "arm_away",
    "arm_night",
    "arm_vacation",
    "exit_delay_over",  # Tick at the exit deadline
    "entry_opened",  # an armed entry zone opened
    "alarm",  # an armed instant zone, or a follower without a running entry delay
    "entry_delay_over",  # Tick at the entry deadline
    "siren_over",  # Tick at the end of siren_time
    "arm_failed",  # an instant zone opened during the exit delay
    "disarm",
]

# "armed" stands for armed_<target>: the armed mode we came from or are going to.
ARMED: Literal["armed"] = "armed"

ARM_TRIGGER: dict[ArmTarget, Trigger] = {
    "home": "arm_home",
    "away": "arm_away",
    "night": "arm_night",
    "vacation": "arm_vacation",
}


def _mode_table() -> dict[Mode, dict[Trigger, Mode | Literal["armed"]]]:
    """Every armed mode moves alike: from disarmed or another target's arming_/armed_ mode an
    arm_<target> starts that target's exit delay."""
    table: dict[Mode, dict[Trigger, Mode | Literal["armed"]]] = {
        "disarmed": {ARM_TRIGGER[t]: ARMING[t] for t in ARM_TARGETS},
    }
    for target in ARM_TARGETS:
        others: dict[Trigger, Mode | Literal["armed"]] = {ARM_TRIGGER[t]: ARMING[t] for t in ARM_TARGETS if t != target}
        table[ARMING[target]] = {
            **others,
            "exit_delay_over": ARMED_MODE[target],
            "arm_failed": "disarmed",
            "disarm": "disarmed",
        }
        table[ARMED_MODE[target]] = {**others, "entry_opened": "pending", "alarm": "triggered", "disarm": "disarmed"}
    table["pending"] = {"entry_delay_over": "triggered", "alarm": "triggered", "disarm": "disarmed"}
    table["triggered"] = {"siren_over": ARMED, "disarm": "disarmed"}
    return table


MODE_TRANSITIONS: dict[Mode, dict[Trigger, Mode | Literal["armed"]]] = _mode_table()

# Special cases, the moves the table cannot say on its own:
# - arm_* with exit_delay == 0 goes straight to armed_<mode> (one ModeChanged).
# - Arming to the mode we are in or arming towards is a no-op (LogEvent "arm_noop"): no
#   delay restarts. Arming from pending or triggered is refused ("alarm_active").
# - exit_delay_over with an armed instant zone open is arm_failed instead; with an armed
#   entry zone open it is exit_delay_over immediately followed by entry_opened (the system
#   arms, sees the door open and starts the entry delay at the exit deadline).
# - siren_over returns to armed_<target> (the "armed" placeholder above).
# - disarm in disarmed is a no-op (LogEvent "disarm_noop"); a duress disarm still raises
#   its silent incident.
# - Alarms inside `pending` (entry or follower) only record an activation for the incident
#   the entry delay will open; inside `triggered` every alarm is an activation of the open
#   incident. Neither moves the mode.

REPORT_FOR_INCIDENT: dict[IncidentKind, ReportCode] = {
    "fire": "fire",
    "water": "water",
    "intrusion": "burglary",
    "power": "ac_loss",
    "panic": "panic",
    "tamper": "tamper",
    "duress": "duress",
}
REPORT_FOR_ANOMALY: dict[AnomalyKind, ReportCode] = {
    "sensor_offline": "supervision_loss",
    "low_battery": "low_battery",
}  # every other anomaly kind is reported as "trouble"

# A zone's live fields that ZoneUpsert keeps: what the armed period knows, what the device said.
_ARMED_PERIOD_FIELDS = ("active", "excluded", "trips", "alarmed")
_DEVICE_FIELDS = ("online", "offline_since", "tamper", "battery_low", "changed_at")
# Walk-test results belong to the sensor: kept across renames, dropped with a new device.
_WALK_TEST_FIELDS = ("walk_tested_at", "tamper_tested_at")

# Bounds the Tick loop; each firing strictly advances, so hitting it is a bug.
_MAX_FIRINGS = 10_000


# --------------------------------------------------------------------------- public API


def initial_state(settings: AlarmSettings | None = None) -> State:
    """A disarmed system with no zones."""
    return State(settings=settings if settings is not None else AlarmSettings())


def handle(state: State, event: AnyEvent, now: float) -> Step:
    """Apply one input at time `now`: fire due deadlines first, then the input itself."""
    run = _Run(state)
    if isinstance(event, ClockStep):
        # Shift before firing: a clock that jumped an hour ahead must not end an entry delay early.
        run.shift_clock(event.delta)
    run.start_watches(now)
    run.fire_due(now)
    match event:
        case Tick() | ClockStep():
            pass
        case SensorChanged():
            run.sensor_changed(event, now)
        case ArmRequest():
            run.arm(event, now)
        case DisarmRequest():
            run.disarm(event, now)
        case DeviceHealth():
            run.device_health(event, now)
        case Ack():
            run.ack(event, now)
        case Resolve():
            run.resolve(event, now)
        case SystemFault():
            run.system_fault(event, now)
        case ZoneUpsert():
            run.zone_upsert(event, now)
        case ZoneRemove():
            run.zone_remove(event, now)
        case ZoneExclude():
            run.zone_exclude(event, now)
        case ZoneInclude():
            run.zone_include(event, now)
        case WalkTestStart():
            run.start_walk_test(event, now)
        case WalkTestStop():
            run.stop_walk_test(event, now)
        case WrongCodes():
            run.wrong_codes(event)
        case OutputUpsert():
            run.output_upsert(event, now)
        case OutputRemove():
            run.output_remove(event, now)
        case OutputReported():
            run.output_reported(event, now)
        case OutputOpen():
            run.output_open(event)
        case OutputTest():
            run.output_test(event, now)
        case OutputFailed():
            run.output_failed(event, now)
        case Configure():
            run.settings = event.settings
            run.sync_areas()
            run.emit(LogEvent(kind="settings_changed"))
        case _:
            raise EngineError(f"not an engine input: {event!r} (mode {state.mode})")
    return Step(state=run.freeze(), effects=tuple(run.effects))


def next_deadline(state: State) -> float | None:
    """The earliest time at which a Tick must be fed, or None when nothing is waiting."""
    running = [a.deadline for a in state.areas.values() if a.deadline is not None]
    deadline = (min(running) if running else None) if state.areas else state.deadline
    return _next_deadline(deadline, state.zones, state.anomalies, state.settings, state.walk_test, state.outputs)


def readiness(state: State, target: ArmTarget, areas: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """(zone id, reason) for every zone that arming `areas` (None: every area) in `target` would
    watch and that is open, offline or tampered, then (output id, "siren_offline") for every
    siren whose device is offline."""
    runs = load_areas(state)
    wanted = [a for a in runs if areas is None or a in areas]
    return _not_ready(state.zones, target, wanted, runs) + output_rules.not_ready(state.outputs)


def replay(events: Iterable[tuple[AnyEvent, float]], state: State | None = None) -> State:
    """Fold a journal of (event, now) into the state it leads to."""
    current = state if state is not None else initial_state()
    for event, now in events:
        current = handle(current, event, now).state
    return current


# --------------------------------------------------------------------------- zone predicates


def _armed_in(zone: Zone, target: ArmTarget | None) -> bool:
    """An intrusion zone that the `target` armed mode watches."""
    if target is None or zone.behaviour == "24h" or zone.excluded is not None:
        return False
    return target in zone.modes


def _zone_modes(event: ZoneUpsert) -> tuple[ArmTarget, ...]:
    if event.modes is not None:
        return ordered_modes(event.modes)
    if event.home is not None:
        return modes_from_home(event.home)
    return DEFAULT_MODES[event.kind]


def _isolation_allowed(zone: Zone, hours: float | None) -> bool:
    """An isolation always ends: within a day for a 24h zone, within 30 days for the others."""
    limit = ISOLATE_MAX_HOURS_24H if zone.behaviour == "24h" else ISOLATE_MAX_HOURS
    return hours is not None and 0 < hours <= limit


def _not_ready(
    zones: dict[str, Zone], target: ArmTarget, arming: list[str], areas: dict[str, AreaRun]
) -> list[tuple[str, str]]:
    """The zones of the areas being armed that the arm would watch: in one of those areas, in
    `target`, and every other area of the zone armed in a mode that watches it or armed with them."""
    known = list(areas)
    out: list[tuple[str, str]] = []
    for zone in zones.values():
        mine = zone_areas(zone, known)
        if not _armed_in(zone, target) or not any(a in arming for a in mine):
            continue
        others = [areas[a] for a in mine if a not in arming]
        if not all(armed_like(o.mode) and o.target is not None and o.target in zone.modes for o in others):
            continue
        if zone.active:
            out.append((zone.id, "open"))
        if not zone.online:
            out.append((zone.id, "offline"))
        if zone.tamper:
            out.append((zone.id, "tamper"))
    return out


def _offline_due(
    zones: dict[str, Zone],
    anomalies: dict[str, Anomaly],
    settings: AlarmSettings,
    outputs: dict[str, Output] | None = None,
) -> dict[str, tuple[float, str]]:
    """device -> (time its sensor_offline anomaly is due, the zone (else the output) that stands for it)."""
    reported = {a.device for a in anomalies.values() if a.kind == "sensor_offline"}
    due: dict[str, tuple[float, str]] = {}
    members: list[Zone | Output] = sorted(zones.values(), key=lambda z: z.id)
    members += sorted((outputs or {}).values(), key=lambda o: o.id)
    for member in members:
        if member.device is None or member.offline_since is None or member.device in reported:
            continue
        at = member.offline_since + settings.offline_grace
        if member.device not in due:
            due[member.device] = (at, member.id)
        elif at < due[member.device][0]:
            due[member.device] = (at, due[member.device][1])
    return due


DAY = 86400.0


def _inactive_due(zones: dict[str, Zone], anomalies: dict[str, Anomaly]) -> list[tuple[float, str]]:
    """(time its sensor_inactive is due, zone id) of every watched zone, soonest first. An offline
    or excluded zone is not watched: its own fault (or the exclusion) already says it is not protecting."""
    reported = {a.subject for a in anomalies.values() if a.kind == "sensor_inactive"}
    return sorted(
        (z.changed_at + z.watch_days * DAY, z.id)
        for z in zones.values()
        if z.watch_days > 0 and z.changed_at is not None and z.online and z.excluded is None and z.id not in reported
    )


def _isolation_ends(zones: dict[str, Zone]) -> list[tuple[float, str]]:
    """(until, zone id) of every isolation, soonest first."""
    return sorted(
        (z.excluded.until, z.id) for z in zones.values() if z.excluded is not None and z.excluded.until is not None
    )


def _next_deadline(
    deadline: float | None,
    zones: dict[str, Zone],
    anomalies: dict[str, Anomaly],
    settings: AlarmSettings,
    walk_test: WalkTest | None,
    outputs: dict[str, Output],
) -> float | None:
    times = [at for at, _ in _offline_due(zones, anomalies, settings, outputs).values()]
    times += [at for at, _ in _isolation_ends(zones)[:1]]
    times += [at for at, _ in _inactive_due(zones, anomalies)[:1]]
    if deadline is not None:
        times.append(deadline)
    if walk_test is not None:
        times.append(walk_test.ends_at)
    if (end := output_rules.earliest_end(outputs)) is not None:
        times.append(end[0])
    return min(times) if times else None


# --------------------------------------------------------------------------- one step


class _Run:
    """The working copy of a State during one `handle` call; only `handle` mutates it."""

    def __init__(self, state: State) -> None:
        self.settings = state.settings
        # Each area's intrusion machine; the methods of the mode machine below work on `cur`,
        # the area in focus (the first one unless a step focuses another: alarms/areas.py).
        self.areas: dict[str, AreaRun] = load_areas(state)
        self.cur: AreaRun = next(iter(self.areas.values()))
        self.zones = dict(state.zones)
        self.incidents = dict(state.incidents)
        self.anomalies = dict(state.anomalies)
        self.next_id = state.next_id
        self.walk_test = state.walk_test
        self.effects: list[AnyEffect] = []
        self.out = OutputRules(state.outputs, self.emit)

    # The area in focus's machine, under the names the single-area engine used.
    @property
    def mode(self) -> Mode:
        return self.cur.mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        self.cur.mode = value

    @property
    def target(self) -> ArmTarget | None:
        return self.cur.target

    @target.setter
    def target(self, value: ArmTarget | None) -> None:
        self.cur.target = value

    @property
    def deadline(self) -> float | None:
        return self.cur.deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self.cur.deadline = value

    @property
    def entry_zone(self) -> str | None:
        return self.cur.entry_zone

    @entry_zone.setter
    def entry_zone(self, value: str | None) -> None:
        self.cur.entry_zone = value

    @property
    def entry_activations(self) -> list[Activation]:
        return self.cur.entry_activations

    @entry_activations.setter
    def entry_activations(self, value: list[Activation]) -> None:
        self.cur.entry_activations = value

    @property
    def armed_by(self) -> str | None:
        return self.cur.armed_by

    @armed_by.setter
    def armed_by(self, value: str | None) -> None:
        self.cur.armed_by = value

    @property
    def several(self) -> bool:
        return len(self.areas) > 1

    def focus(self, area_id: str) -> AreaRun:
        self.cur = self.areas[area_id]
        return self.cur

    def tag(self) -> str | None:
        """The area in focus, for effects: None when the house is one area (as before areas)."""
        return self.cur.id if self.several else None

    def led(self, pattern: LedPattern) -> Led:
        """The LED shows the whole house: with several areas, the most urgent one's pattern."""
        return Led(pattern=led_for(list(self.areas.values())) if self.several else pattern)

    def known_areas(self) -> list[str]:
        return list(self.areas)

    def areas_of(self, zone: Zone) -> list[str]:
        return zone_areas(zone, self.known_areas())

    def zone_disarmed(self, zone: Zone) -> bool:
        return all(self.areas[a].mode == "disarmed" for a in self.areas_of(zone))

    def house_disarmed(self) -> bool:
        return all(a.mode == "disarmed" for a in self.areas.values())

    def watched_here(self, zone: Zone) -> bool:
        """An intrusion zone the area in focus watches: in its target mode, in this area, and
        with every other area of the zone armed in a mode that watches it."""
        return (
            self.cur.id in self.areas_of(zone)
            and _armed_in(zone, self.target)
            and others_watch(zone, self.cur.id, self.areas, self.known_areas())
        )

    def requested(self, wanted: tuple[str, ...] | None) -> list[str]:
        """The areas a request names, in the configured order (None: every area)."""
        return [a for a in self.areas if wanted is None or a in wanted]

    def sync_areas(self) -> None:
        """A new `[[areas]]` list: new areas start disarmed, removed ones are forgotten."""
        ids = [a.id for a in self.settings.areas] or ["casa"]
        kept = {i: self.areas[i] for i in ids if i in self.areas}
        if not kept and self.areas:
            # The one area was renamed: the house keeps its machine.
            first = next(iter(self.areas.values()))
            first.id = ids[0]
            kept = {ids[0]: first}
        self.areas = {i: kept.get(i) or AreaRun(i, AreaState()) for i in ids}
        self.cur = next(iter(self.areas.values()))

    def mode_due(self) -> tuple[float, str] | None:
        """The earliest running delay of any area, with its area (the first on a tie)."""
        found = [(a.deadline, a.id) for a in self.areas.values() if a.deadline is not None]
        return min(found, key=lambda d: d[0]) if found else None

    def freeze(self) -> State:
        house = house_of(list(self.areas.values())).freeze()  # the whole house: its top-level fields
        return State(
            settings=self.settings,
            **msgspec.structs.asdict(house),
            areas={i: a.freeze() for i, a in self.areas.items()} if self.several else {},
            zones=self.zones,
            incidents=self.incidents,
            anomalies=self.anomalies,
            next_id=self.next_id,
            walk_test=self.walk_test,
            outputs=self.out.outputs,
        )

    def shift_clock(self, delta: float) -> None:
        for area in self.areas.values():
            if area.deadline is not None:
                area.deadline += delta
        if self.walk_test is not None:
            self.walk_test = msgspec.structs.replace(self.walk_test, ends_at=self.walk_test.ends_at + delta)
        for zone_id, zone in list(self.zones.items()):
            if zone.offline_since is not None:
                zone = self.update_zone(zone_id, offline_since=zone.offline_since + delta)
            if zone.changed_at is not None:
                self.update_zone(zone_id, changed_at=zone.changed_at + delta)
        self.out.shift(delta)
        self.emit(LogEvent(kind="clock_step", detail=f"{delta:+.1f} s"))

    def start_watches(self, now: float) -> None:
        """A watched zone that has no last report yet (a snapshot from before sensor watch) is
        watched from now: it gets its full watch_days before anyone is told."""
        for zone in list(self.zones.values()):
            if zone.watch_days > 0 and zone.changed_at is None:
                self.update_zone(zone.id, changed_at=now)

    def emit(self, *effects: AnyEffect) -> None:
        self.effects.extend(effects)

    def new_id(self, prefix: str) -> str:
        ident = f"{prefix}-{self.next_id}"
        self.next_id += 1
        return ident

    def update_zone(self, zone_id: str, **changes: object) -> Zone:
        zone = msgspec.structs.replace(self.zones[zone_id], **changes)
        self.zones[zone_id] = zone
        return zone

    # ----------------------------------------------------------------- mode moves

    def lookup(self, trigger: Trigger) -> Mode:
        """The table's answer for `trigger` in the current mode."""
        new = MODE_TRANSITIONS[self.mode].get(trigger)
        if new is None:
            raise EngineError(f"no transition from mode {self.mode!r} on {trigger!r}")
        if new == ARMED:
            if self.target is None:
                raise EngineError(f"{trigger!r} in mode {self.mode!r} without an armed target")
            return ARMED_MODE[self.target]
        return new

    def move(self, trigger: Trigger, *, by: str | None = None, deadline: float | None = None) -> Mode:
        """Take the table's transition for `trigger`; the caller does the entry actions."""
        return self.set_mode(self.lookup(trigger), by=by, deadline=deadline)

    def set_mode(self, new: Mode, *, by: str | None, deadline: float | None) -> Mode:
        old = self.mode
        self.mode = new
        self.deadline = deadline
        self.emit(ModeChanged(old=old, new=new, by=by, deadline=deadline, area=self.tag()))
        return new

    def arrived_armed(self, target: ArmTarget, by: str | None) -> None:
        """Entry actions of armed_* reached by arming (not by the end of the siren)."""
        self.emit(
            Report(code="close_stay" if target in STAY_TARGETS else "close", user=by, area=self.tag()),
            Notify(subject="event", event=ARMED_MODE[target], by=by, area=self.tag()),
            self.led("armed"),
        )
        self.out.squawk("squawk_armed", "armed", by)

    def to_disarmed(self, now: float) -> None:
        """Exit actions of the armed period, shared by disarm and arm_failed."""
        self.target = None
        self.entry_zone = None
        self.entry_activations = []
        for zone in sorted(self.zones.values(), key=lambda z: z.id):
            # A zone's armed period ends with the last of its areas; the whole house disarmed
            # ends every one (a zone that changed areas meanwhile included).
            mine = self.cur.id in self.areas_of(zone) and self.zone_disarmed(zone)
            if not (mine or self.house_disarmed()):
                continue
            intrusion = zone.behaviour != "24h"
            if zone.trips or (intrusion and zone.alarmed):
                self.update_zone(zone.id, trips=0, alarmed=zone.alarmed and not intrusion)
            if zone.excluded is not None and zone.excluded.how != "isolate":
                self.include(zone.id, by=None, why="disarm", now=now)
        self.emit(self.led("ok"))

    # ----------------------------------------------------------------- time

    def fire_due(self, now: float) -> None:
        for _ in range(_MAX_FIRINGS):
            mode_due = self.mode_due()
            due = _next_deadline(
                mode_due[0] if mode_due else None,
                self.zones,
                self.anomalies,
                self.settings,
                self.walk_test,
                self.out.outputs,
            )
            if due is None or due > now:
                return
            if mode_due is not None and mode_due[0] <= due:
                self.focus(mode_due[1])
                self.fire_mode_deadline(mode_due[0])
            elif (end := output_rules.earliest_end(self.out.outputs)) is not None and end[0] <= due:
                # A sound (or a relay, a valve test) ends; within an alarm's siren time a siren
                # that sounded something else goes back to the burglar pattern.
                house = house_of(list(self.areas.values()))
                self.out.end(end[1], end[0], resume_until=house.deadline if house.mode == "triggered" else None)
            elif self.walk_test is not None and self.walk_test.ends_at <= due:
                self.end_walk_test(by=None)
            elif (ends := _isolation_ends(self.zones)) and ends[0][0] <= due:
                self.include(ends[0][1], by=None, why="expired", now=due)
            elif (quiet := _inactive_due(self.zones, self.anomalies)) and quiet[0][0] <= due:
                zone = self.zones[quiet[0][1]]
                self.raise_anomaly("sensor_inactive", due, device=zone.device, subject=zone.id, zone=zone.id)
            else:
                self.fire_offline(due)
        raise EngineError(f"deadlines keep firing at {now} (mode {self.mode})")

    def fire_mode_deadline(self, at: float) -> None:
        if self.mode in ARMING_MODES:
            self.exit_delay_over(at)
        elif self.mode == "pending":
            self.trigger("entry_delay_over", self.entry_activations, at)
        elif self.mode == "triggered":
            self.move("siren_over")
            self.emit(Siren(on=False), self.led("armed"))
        else:
            raise EngineError(f"deadline {at} set in mode {self.mode!r}, which has no delay")

    def exit_delay_over(self, at: float) -> None:
        target = self.target
        if target is None:
            raise EngineError(f"exit delay over in {self.mode!r} without a target")
        open_zones = [z for z in sorted(self.zones.values(), key=lambda z: z.id) if z.active and self.watched_here(z)]
        instant = [z for z in open_zones if z.behaviour == "instant"]
        if instant:
            self.arm_failed(instant[0], at)
            return
        self.move("exit_delay_over", by=self.armed_by)
        self.arrived_armed(target, self.armed_by)
        entry = [z for z in open_zones if z.behaviour == "entry"]
        if entry:
            self.start_entry_delay(entry[0], at)
            self.entry_activations = [Activation(zone=z.id, at=at) for z in entry]

    def fire_offline(self, at: float) -> None:
        for device, (due, zone_id) in _offline_due(self.zones, self.anomalies, self.settings, self.out.outputs).items():
            if due <= at:
                self.raise_anomaly("sensor_offline", at, device=device, zone=zone_id)

    # ----------------------------------------------------------------- arming

    def arm(self, event: ArmRequest, now: float) -> None:
        wanted = self.requested(event.areas)
        if self.walk_test is not None:
            self.emit(ArmRefused(reason="walk_test"))
            return
        if not wanted:
            self.emit(ArmRefused(reason="unknown_area"))
            return
        if any(self.areas[a].mode in ("pending", "triggered") for a in wanted):
            self.emit(ArmRefused(reason="alarm_active"))
            return
        todo = [a for a in wanted if self.areas[a].mode not in (ARMING[event.mode], ARMED_MODE[event.mode])]
        if not todo:
            self.emit(LogEvent(kind="arm_noop", by=event.by, detail=event.mode))
            return
        not_ready = _not_ready(self.zones, event.mode, todo, self.areas)
        sirens = output_rules.not_ready(self.out.outputs)
        if (not_ready or sirens) and not event.force:
            self.emit(ArmRefused(reason="not_ready", not_ready=tuple(not_ready + sirens)))
            return
        for output_id, reason in sirens:
            # Forced: armed knowing this siren will not sound (its offline fault is told already).
            self.emit(LogEvent(kind="armed_not_ready", by=event.by, detail=f"{output_id}: {reason}"))
        reasons: dict[str, str] = {}
        for zone_id, reason in not_ready:
            # offline or tamper outranks open: such a zone stays excluded until disarm
            if reasons.get(zone_id, "open") == "open":
                reasons[zone_id] = reason
        for zone_id, reason in reasons.items():
            self.exclude(zone_id, Exclusion(how="open_at_arming", by=event.by, reason=reason))
        for area_id in todo:
            self.focus(area_id)
            self.arm_area(event, now)

    def arm_area(self, event: ArmRequest, now: float) -> None:
        """Arm the area in focus (readiness already checked for the whole request)."""
        self.target = event.mode
        self.armed_by = event.by
        trigger = ARM_TRIGGER[event.mode]
        exit_delay = self.settings.exit_delay_for(event.mode, self.cur.id)
        if exit_delay > 0:
            self.move(trigger, by=event.by, deadline=now + exit_delay)
            self.emit(self.led("arming"))
        else:
            self.lookup(trigger)  # special case: a zero exit delay skips arming_*
            self.set_mode(ARMED_MODE[event.mode], by=event.by, deadline=None)
            self.arrived_armed(event.mode, event.by)

    def arm_failed(self, zone: Zone, now: float) -> None:
        by = self.armed_by
        self.move("arm_failed")
        self.emit(
            LogEvent(kind="arm_failed", zone=zone.id),
            Notify(subject="event", event="arm_failed", zone=zone.id, by=by),
        )
        self.to_disarmed(now)

    def disarm(self, event: DisarmRequest, now: float) -> None:
        wanted = self.requested(event.areas)
        # Every sound stops, in every mode (a fire siren is silenced with the code too), unless an
        # area this disarm leaves armed is in its alarm. A duress disarm does exactly what a normal
        # one does here: anything else would give it away.
        if not wanted:
            if not event.duress:  # a duress code leaves no trace but the silent incident
                self.emit(LogEvent(kind="unknown_area", by=event.by, detail=",".join(event.areas or ())))
        elif not any(a.mode == "triggered" for a in self.areas.values() if a.id not in wanted):
            self.out.silence(event.by)
        if wanted and all(self.areas[a].mode == "disarmed" for a in wanted):
            self.emit(LogEvent(kind="disarm_noop", by=event.by))
        for area_id in wanted:
            if self.focus(area_id).mode != "disarmed":
                self.disarm_area(event, now)
        if event.duress:
            # Silent on purpose: no Notify, no LogEvent. Only the centre may know.
            area = wanted[0] if self.several and wanted else None
            incident = Incident(id=self.new_id("inc"), kind="duress", state="active", opened_at=now, area=area)
            self.incidents[incident.id] = incident
            self.emit(
                IncidentOpened(incident=incident),
                Report(code="duress", user=event.by, incident=incident.id, area=area),
            )

    def disarm_area(self, event: DisarmRequest, now: float) -> None:
        was_triggered = self.mode == "triggered"
        stay = self.target in STAY_TARGETS
        self.move("disarm", by=event.by)
        if was_triggered:
            self.emit(Siren(on=False))
        self.out.squawk("squawk_disarmed", "disarmed", event.by)
        self.to_disarmed(now)
        self.emit(
            Report(code="open_stay" if stay else "open", user=event.by, area=self.tag()),
            Notify(subject="event", event="disarmed", by=event.by, area=self.tag()),
        )
        for incident in list(self.incidents.values()):
            recent = now - incident.opened_at <= self.settings.abort_window
            mine = incident.area == self.tag()
            if incident.kind == "intrusion" and incident.state == "active" and recent and mine:
                self.close_incident(incident, "cancelled", now, event.by)
                self.emit(Report(code="cancel", incident=incident.id, user=event.by, area=self.tag()))

    # ----------------------------------------------------------------- zones

    def sensor_changed(self, event: SensorChanged, now: float) -> None:
        if event.zone not in self.zones:
            self.emit(LogEvent(kind="unknown_zone", zone=event.zone))
            return
        was_active = self.zones[event.zone].active
        zone = self.update_zone(event.zone, active=event.active, changed_at=now)
        if (quiet := self.find_anomaly("sensor_inactive", zone.device, zone.id)) is not None:
            self.clear_anomaly(quiet, now, zone=zone.id)  # it spoke: the sensor is alive
        if event.active and not was_active and zone.chime and self.zone_disarmed(zone) and self.walk_test is None:
            self.out.chime()
        if not event.active:
            if zone.alarmed:
                self.restore(zone)  # also in a walk test: the centre had this alarm from before it
            if zone.excluded is not None and zone.excluded.how == "open_at_arming" and zone.excluded.reason == "open":
                self.include(zone.id, by=None, why="closed", now=now)  # a closed door is an entry door again
            return
        if self.walk_test is not None:
            self.walk_test_activation(zone, now)
            return
        if zone.alarmed or zone.excluded is not None:
            return
        if zone.behaviour == "24h":
            self.update_zone(zone.id, alarmed=True)
            self.raise_incident(
                INCIDENT_FOR_ZONE[zone.kind], [Activation(zone=zone.id, at=now)], now, self.home_of(zone)
            )
            return
        for area_id in self.areas_of(zone):
            self.focus(area_id)
            self.intrusion_opened(self.zones[zone.id], now)

    def restore(self, zone: Zone) -> None:
        self.update_zone(zone.id, alarmed=False)
        code = REPORT_FOR_INCIDENT[INCIDENT_FOR_ZONE[zone.kind]]
        self.emit(Report(code=code, restore=True, zone=zone.id), LogEvent(kind="zone_restored", zone=zone.id))

    def home_of(self, zone: Zone) -> str | None:
        """The area whose incidents a zone's 24h alarm or tamper joins: its first (None: one area)."""
        return self.areas_of(zone)[0] if self.several else None

    def intrusion_opened(self, zone: Zone, now: float) -> None:
        """An intrusion zone opened: what the area in focus does with it."""
        if self.mode == "disarmed" or not self.watched_here(zone):
            return
        if self.mode in ARMING_MODES:
            if zone.behaviour == "instant":
                self.arm_failed(zone, now)
            return  # entry and follower zones are free during the exit delay
        if self.swinger_shutdown(zone):
            return
        activation = Activation(zone=zone.id, at=now)
        if self.mode in ARMED_MODES:
            if zone.behaviour == "entry":
                self.start_entry_delay(zone, now)
                self.entry_activations = [activation]
            else:
                self.trigger("alarm", [activation], now)
        elif self.mode == "pending":
            if zone.behaviour == "instant":
                self.trigger("alarm", [*self.entry_activations, activation], now)
            elif all(a.zone != zone.id for a in self.entry_activations):
                self.entry_activations.append(activation)
        elif self.mode == "triggered":
            self.intrusion_alarm([activation], now)

    def start_entry_delay(self, zone: Zone, at: float) -> None:
        target = self.target
        entry_delay = (
            self.settings.entry_delay if target is None else self.settings.entry_delay_for(target, self.cur.id)
        )
        self.move("entry_opened", deadline=at + entry_delay)
        self.entry_zone = zone.id

    def trigger(self, trigger: Trigger, activations: list[Activation], at: float) -> None:
        self.move(trigger, deadline=at + self.settings.siren_time)
        self.entry_zone = None
        self.entry_activations = []
        self.emit(Siren(on=True), self.led("alarm"))
        self.out.sound("intrusion", at, self.settings.siren_time)
        self.intrusion_alarm(activations, at)

    def swinger_shutdown(self, zone: Zone) -> bool:
        """Bypass a zone that already alarmed `swinger_limit` times in this armed period."""
        if zone.trips < self.settings.swinger_limit:
            return False
        self.exclude(zone.id, Exclusion(how="auto", reason=f"{zone.trips}"))
        return True

    def intrusion_alarm(self, activations: list[Activation], at: float) -> None:
        counted: list[Activation] = []
        for activation in activations:
            zone = self.zones.get(activation.zone)
            if zone is not None:
                if self.swinger_shutdown(zone):
                    continue
                self.update_zone(zone.id, trips=zone.trips + 1, alarmed=zone.active)
            counted.append(activation)
        if counted:
            self.raise_incident("intrusion", counted, at, self.tag())
        for activation in counted:
            # A zone that closed again during the entry delay is restored at once, so
            # that the centre never keeps a zone in alarm that nobody will restore.
            zone = self.zones.get(activation.zone)
            if zone is not None and not zone.active:
                self.emit(Report(code="burglary", restore=True, zone=zone.id, area=self.tag()))

    # ----------------------------------------------------------------- incidents

    def raise_incident(
        self, kind: IncidentKind, activations: list[Activation], at: float, area: str | None = None
    ) -> None:
        """Open an incident of `kind` in `area` (None: the house of one area), or add the
        activations to the open one there."""
        code = REPORT_FOR_INCIDENT[kind]
        first_zone = activations[0].zone
        incident = next((i for i in self.incidents.values() if i.kind == kind and i.area == area), None)
        if incident is None:
            incident = Incident(
                id=self.new_id("inc"),
                kind=kind,
                state="active",
                opened_at=at,
                activations=tuple(activations),
                area=area,
            )
            self.incidents[incident.id] = incident
            self.emit(
                IncidentOpened(incident=incident), Notify(subject="incident", incident=incident.id, zone=first_zone)
            )
        else:
            for activation in activations:
                incident = msgspec.structs.replace(incident, activations=(*incident.activations, activation))
                self.incidents[incident.id] = incident
                self.emit(ActivationAdded(incident=incident, zone=activation.zone))
            self.emit(Notify(subject="incident_update", incident=incident.id, zone=first_zone))
        for activation in activations:
            self.emit(Report(code=code, zone=activation.zone, incident=incident.id, area=area))
        if kind == "intrusion":
            self.check_confirmation(incident)
        else:
            self.outputs_for(kind, at)

    def outputs_for(self, kind: IncidentKind, at: float) -> None:
        """What an incident other than intrusion makes the outputs do (intrusion: `trigger`,
        since a 24h intrusion zone sounds nothing)."""
        if kind == "water":
            for valve in self.out.close_valves():
                self.emit(Notify(subject="event", event="valve_closed", output=valve))
            self.out.water_beep()
        self.out.sound(kind, at, self.settings.siren_time, panic_audible=self.settings.panic_audible)

    def check_confirmation(self, incident: Incident) -> None:
        """EN 50131-9 sequential confirmation: a second distinct zone within the window."""
        if incident.confirmed or not incident.activations:
            return
        first = incident.activations[0]
        window = self.settings.confirmation_window
        if any(a.zone != first.zone and a.at - first.at <= window for a in incident.activations[1:]):
            confirmed = msgspec.structs.replace(incident, confirmed=True)
            self.incidents[incident.id] = confirmed
            self.emit(IncidentChanged(incident=confirmed), Report(code="confirmed", incident=incident.id))

    def close_incident(
        self, incident: Incident, state: Literal["resolved", "cancelled"], now: float, by: str | None
    ) -> None:
        closed = msgspec.structs.replace(incident, state=state, closed_at=now, by=by)
        del self.incidents[incident.id]
        self.emit(IncidentChanged(incident=closed), CancelEscalation(incident=incident.id))

    def ack(self, event: Ack, now: float) -> None:
        incident = self.incidents.get(event.incident)
        if incident is None:
            self.emit(LogEvent(kind="unknown_incident", by=event.by, detail=event.incident))
        elif incident.state != "active":
            self.emit(LogEvent(kind="ack_noop", by=event.by, detail=event.incident))
        else:
            acked = msgspec.structs.replace(incident, state="acknowledged", by=event.by)
            self.incidents[incident.id] = acked
            self.emit(
                IncidentChanged(incident=acked),
                CancelEscalation(incident=incident.id),
                LogEvent(kind="incident_acknowledged", by=event.by, detail=incident.id),
            )

    def resolve(self, event: Resolve, now: float) -> None:
        incident = self.incidents.get(event.incident)
        if incident is None:
            self.emit(LogEvent(kind="unknown_incident", by=event.by, detail=event.incident))
            return
        self.close_incident(incident, "resolved", now, event.by)
        self.emit(LogEvent(kind="incident_resolved", by=event.by, detail=incident.id))

    # ----------------------------------------------------------------- anomalies

    def find_anomaly(self, kind: AnomalyKind, device: str | None, subject: str | None) -> Anomaly | None:
        for anomaly in self.anomalies.values():
            if anomaly.kind == kind and anomaly.device == device and anomaly.subject == subject:
                return anomaly
        return None

    def raise_anomaly(
        self,
        kind: AnomalyKind,
        at: float,
        *,
        device: str | None = None,
        subject: str | None = None,
        zone: str | None = None,
    ) -> None:
        anomaly = Anomaly(
            id=self.new_id("ano"), kind=kind, state="active", opened_at=at, device=device, subject=subject
        )
        self.anomalies[anomaly.id] = anomaly
        self.emit(AnomalyRaised(anomaly=anomaly), Notify(subject="anomaly", anomaly=anomaly.id, zone=zone))
        if not self.held_for_walk_test(anomaly):
            self.emit(Report(code=REPORT_FOR_ANOMALY.get(kind, "trouble"), zone=zone))

    def clear_anomaly(self, anomaly: Anomaly, now: float, zone: str | None = None) -> None:
        cleared = msgspec.structs.replace(anomaly, state="resolved", closed_at=now)
        del self.anomalies[anomaly.id]
        self.emit(
            AnomalyCleared(anomaly=cleared),
            Notify(subject="anomaly_cleared", anomaly=anomaly.id, zone=zone),
        )
        if not self.held_for_walk_test(anomaly):  # the centre never heard of a fault that came and went in a test
            self.emit(Report(code=REPORT_FOR_ANOMALY.get(anomaly.kind, "trouble"), restore=True, zone=zone))

    def held_for_walk_test(self, anomaly: Anomaly) -> bool:
        """A fault raised during the running walk test: its centre report waits for the end.

        The same test decides what the end catches up on. (A fault that fell due at the very
        instant of the start, in the same step, was reported before it and is reported again
        at the end: a duplicate trouble report, never a lost one.)"""
        return self.walk_test is not None and anomaly.opened_at >= self.walk_test.started_at

    def device_health(self, event: DeviceHealth, now: float) -> None:
        zone_ids = sorted(z.id for z in self.zones.values() if z.device == event.device)
        output_ids = sorted(o.id for o in self.out.outputs.values() if o.device == event.device)
        if not zone_ids and not output_ids:
            self.emit(LogEvent(kind="unknown_device", detail=event.device))
            return
        if not zone_ids:
            self.output_device_health(event, output_ids, now)
            return
        self.out.health(output_ids, event, now)  # a device with zones: its zones stand for its faults
        first = zone_ids[0]  # device-level faults are reported once, naming the device's first zone
        if event.online is not None:
            for zone_id in zone_ids:
                zone = self.zones[zone_id]
                if event.online:
                    self.update_zone(zone_id, online=True, offline_since=None)
                elif zone.online or (event.grouped and zone.offline_since is not None):
                    self.update_zone(zone_id, online=False, offline_since=None if event.grouped else now)
            offline = self.find_anomaly("sensor_offline", event.device, None)
            if event.online and offline is not None:
                self.clear_anomaly(offline, now, first)
        if event.battery_low is not None:
            for zone_id in zone_ids:
                self.update_zone(zone_id, battery_low=event.battery_low)
            low = self.find_anomaly("low_battery", event.device, None)
            if event.battery_low and low is None:
                self.raise_anomaly("low_battery", now, device=event.device, zone=first)
            elif not event.battery_low and low is not None:
                self.clear_anomaly(low, now, first)
        if event.tamper is not None:
            was_tampered = any(self.zones[zone_id].tamper for zone_id in zone_ids)
            for zone_id in zone_ids:
                self.update_zone(zone_id, tamper=event.tamper)
            walk_test = self.walk_test
            if walk_test is not None:
                # Opening a sensor's cover is part of the test: record it, alarm nobody. A
                # tamper that began before the test was reported, so its restore still goes.
                tested_now = [
                    z
                    for z in zone_ids
                    if (at := self.zones[z].tamper_tested_at) is not None and at >= walk_test.started_at
                ]
                if event.tamper:
                    for zone_id in zone_ids:
                        self.update_zone(zone_id, tamper_tested_at=now)
                        self.emit(WalkTestActivation(zone=zone_id, what="tamper"))
                elif was_tampered and not tested_now:
                    self.emit(Report(code="tamper", restore=True, zone=first))
            elif event.tamper and not was_tampered:
                self.raise_incident("tamper", [Activation(zone=first, at=now)], now, self.home_of(self.zones[first]))
            elif not event.tamper and was_tampered:
                self.emit(Report(code="tamper", restore=True, zone=first))

    def output_device_health(self, event: DeviceHealth, output_ids: list[str], now: float) -> None:
        """The health of a device that only has outputs: the same faults as a sensor's, each
        naming its first output where a sensor's names its first zone."""
        first = output_ids[0]
        was_tampered = any(self.out.outputs[o].tamper for o in output_ids)
        self.out.health(output_ids, event, now)
        offline = self.find_anomaly("sensor_offline", event.device, None)
        if event.online and offline is not None:
            self.clear_anomaly(offline, now, first)
        if event.battery_low is not None:
            low = self.find_anomaly("low_battery", event.device, None)
            if event.battery_low and low is None:
                self.raise_anomaly("low_battery", now, device=event.device, zone=first)
            elif not event.battery_low and low is not None:
                self.clear_anomaly(low, now, first)
        if event.tamper and not was_tampered:
            if self.walk_test is not None:
                self.emit(LogEvent(kind="output_tamper_tested", detail=first))  # opening its cover is a test
            else:
                self.raise_incident("tamper", [Activation(zone=first, at=now)], now)
        elif event.tamper is False and was_tampered:
            self.emit(Report(code="tamper", restore=True, zone=first))

    def system_fault(self, event: SystemFault, now: float) -> None:
        anomaly = self.find_anomaly(event.kind, None, event.subject)
        if event.active and anomaly is None:
            self.raise_anomaly(event.kind, now, subject=event.subject)
        elif not event.active and anomaly is not None:
            self.clear_anomaly(anomaly, now)

    # ----------------------------------------------------------------- exclusions

    def zone_exclude(self, event: ZoneExclude, now: float) -> None:
        zone = self.zones.get(event.zone)
        if zone is None:
            self.emit(LogEvent(kind="unknown_zone", zone=event.zone, by=event.by))
            return
        refusal = None
        if not self.zone_disarmed(zone):
            refusal = "not_disarmed"
        elif event.how == "inhibit" and zone.behaviour == "24h":
            refusal = "24h_zone"  # a smoke or water zone is only ever isolated, with an end
        elif event.how == "inhibit" and zone.excluded is not None:
            refusal = "already_excluded"  # an isolation is never shortened to an inhibit
        elif event.how == "isolate" and not _isolation_allowed(zone, event.hours):
            refusal = "too_long"
        if refusal is not None:
            self.emit(LogEvent(kind="exclusion_refused", zone=zone.id, by=event.by, detail=refusal))
            return
        until = None if event.hours is None or event.how != "isolate" else now + event.hours * 3600
        self.exclude(zone.id, Exclusion(how=event.how, by=event.by, reason=event.reason, until=until))

    def zone_include(self, event: ZoneInclude, now: float) -> None:
        zone = self.zones.get(event.zone)
        if zone is None:
            self.emit(LogEvent(kind="unknown_zone", zone=event.zone, by=event.by))
        elif zone.excluded is None:
            self.emit(LogEvent(kind="include_noop", zone=zone.id, by=event.by))
        else:
            self.include(zone.id, by=event.by, why="user", now=now)

    def exclude(self, zone_id: str, exclusion: Exclusion) -> None:
        """Take a zone out of protection (or renew its isolation) and tell everyone who must know."""
        self.update_zone(zone_id, excluded=exclusion)
        self.emit(
            LogEvent(kind="zone_excluded", zone=zone_id, by=exclusion.by, detail=exclusion.how),
            Report(code="bypass", zone=zone_id, user=exclusion.by),
            Notify(subject="event", event="zone_excluded", zone=zone_id, by=exclusion.by, detail=exclusion.how),
        )

    def include(self, zone_id: str, *, by: str | None, why: str, now: float | None) -> None:
        """Put an excluded zone back into protection: `why` is user, closed, expired or disarm."""
        zone = self.update_zone(zone_id, excluded=None)
        self.emit(
            LogEvent(kind="zone_included", zone=zone_id, by=by, detail=why),
            Report(code="bypass", restore=True, zone=zone_id, user=by),
            Notify(subject="event", event="zone_included", zone=zone_id, by=by, detail=why),
        )
        if now is not None and zone.behaviour == "24h" and zone.active and not zone.alarmed and self.walk_test is None:
            self.update_zone(zone_id, alarmed=True)  # still leaking, still smoking: alarm now
            self.raise_incident(INCIDENT_FOR_ZONE[zone.kind], [Activation(zone=zone_id, at=now)], now)

    # ----------------------------------------------------------------- walk test

    def start_walk_test(self, event: WalkTestStart, now: float) -> None:
        refusal = "walk_test_active" if self.walk_test is not None else None
        if refusal is None and not self.house_disarmed():
            refusal = "not_disarmed"
        if refusal is not None:
            self.emit(LogEvent(kind="walk_test_refused", by=event.by, detail=refusal))
            return
        self.walk_test = WalkTest(started_at=now, ends_at=now + event.duration, by=event.by)
        self.emit(
            Report(code="walk_test", user=event.by),
            LogEvent(kind="walk_test_started", by=event.by, detail=f"{event.duration:.0f} s"),
        )

    def stop_walk_test(self, event: WalkTestStop, now: float) -> None:
        if self.walk_test is None:
            self.emit(LogEvent(kind="walk_test_noop", by=event.by))
            return
        self.end_walk_test(by=event.by)

    def walk_test_activation(self, zone: Zone, now: float) -> None:
        walk_test = self.walk_test
        if walk_test is None:
            raise EngineError(f"walk-test activation of {zone.id} without a walk test")
        if zone.id not in walk_test.tested:
            self.walk_test = msgspec.structs.replace(walk_test, tested=(*walk_test.tested, zone.id))
        self.update_zone(zone.id, walk_tested_at=now)
        self.emit(WalkTestActivation(zone=zone.id))

    def end_walk_test(self, by: str | None) -> None:
        """End the running walk test: stopped `by` someone, or time over (None)."""
        walk_test = self.walk_test
        if walk_test is None:
            raise EngineError(f"no walk test to end (mode {self.mode})")
        self.walk_test = None
        tested = sum(1 for zone_id in self.zones if zone_id in walk_test.tested)
        untested = len(self.zones) - tested
        detail = f"{tested} tested, {untested} untested" + ("" if by is not None else ", time over")
        self.emit(
            Report(code="walk_test", restore=True, user=by), LogEvent(kind="walk_test_ended", by=by, detail=detail)
        )
        # The faults that the test held back and that are still there go to the centre now.
        for anomaly in sorted(self.anomalies.values(), key=lambda a: (a.opened_at, a.id)):
            if anomaly.opened_at >= walk_test.started_at:
                zone = None
                if anomaly.device is not None:
                    zone = min((z.id for z in self.zones.values() if z.device == anomaly.device), default=None)
                    if zone is None:
                        outputs = self.out.outputs.values()
                        zone = min((o.id for o in outputs if o.device == anomaly.device), default=None)
                self.emit(Report(code=REPORT_FOR_ANOMALY.get(anomaly.kind, "trouble"), zone=zone))

    # ----------------------------------------------------------------- alarm codes

    def wrong_codes(self, event: WrongCodes) -> None:
        """Someone keeps guessing the alarm code (the shell counts: hub/core/throttle.py). Logged, told to
        the household and to the centre, in every mode (a walk test holds back nothing here)."""
        detail = f"{event.count} wrong codes within an hour"
        self.emit(
            LogEvent(kind="wrong_codes", by=event.by, detail=detail),
            Notify(subject="event", event="wrong_codes", by=event.by),
            Report(code="wrong_code", user=event.by),
        )

    # ----------------------------------------------------------------- configuration

    def zone_upsert(self, event: ZoneUpsert, now: float) -> None:
        old = self.zones.get(event.id)
        config = Zone(
            id=event.id,
            name=event.name,
            kind=event.kind,
            behaviour=event.behaviour,
            modes=_zone_modes(event),
            device=event.device,
            room=event.room,
            chime=event.chime,
            watch_days=DEFAULT_WATCH_DAYS[event.kind] if event.watch_days is None else event.watch_days,
            changed_at=now,
            areas=tuple(dict.fromkeys(event.areas)),
        )
        if old is None or old.device != event.device:
            # A new device's health starts as healthy: the old one's says nothing about it.
            live = {} if old is None else {f: getattr(old, f) for f in _ARMED_PERIOD_FIELDS}
            self.zones[event.id] = msgspec.structs.replace(config, **live)
        else:
            live = {f: getattr(old, f) for f in (*_ARMED_PERIOD_FIELDS, *_DEVICE_FIELDS, *_WALK_TEST_FIELDS)}
            self.zones[event.id] = msgspec.structs.replace(config, **live)
        self.emit(LogEvent(kind="zone_changed", zone=event.id, by=event.by, detail="created" if old is None else None))
        self.end_inactive(event.id, now, unless_watched=True)
        excluded = self.zones[event.id].excluded
        if event.behaviour == "24h" and excluded is not None:
            # Only an isolation of at most a day may keep a 24h zone out of service.
            latest = now + ISOLATE_MAX_HOURS_24H * 3600
            if excluded.how != "isolate" or excluded.until is None:
                self.include(event.id, by=event.by, why="user", now=None)
            elif excluded.until > latest:
                self.exclude(event.id, msgspec.structs.replace(excluded, until=latest))

    def zone_remove(self, event: ZoneRemove, now: float) -> None:
        zone = self.zones.pop(event.id, None)
        if zone is None:
            self.emit(LogEvent(kind="unknown_zone", zone=event.id, by=event.by))
            return
        self.emit(LogEvent(kind="zone_removed", zone=event.id, by=event.by))
        self.end_inactive(event.id, now, unless_watched=False)
        if zone.device is not None and not self.device_in_use(zone.device):
            # The device is gone with its last zone: its faults cannot be resolved any more.
            for anomaly in [a for a in self.anomalies.values() if a.device == zone.device]:
                self.clear_anomaly(anomaly, now)

    def end_inactive(self, zone_id: str, now: float, *, unless_watched: bool) -> None:
        """A zone removed, given another device or no longer watched: its sensor_inactive ends."""
        for anomaly in [a for a in self.anomalies.values() if a.kind == "sensor_inactive" and a.subject == zone_id]:
            zone = self.zones.get(zone_id)
            if unless_watched and zone is not None and zone.watch_days > 0 and zone.device == anomaly.device:
                continue
            self.clear_anomaly(anomaly, now, zone=zone_id)

    def device_in_use(self, device: str) -> bool:
        """A zone or an output still has this device."""
        return any(z.device == device for z in self.zones.values()) or any(
            o.device == device for o in self.out.outputs.values()
        )

    # ----------------------------------------------------------------- outputs

    def known_output(self, output_id: str, by: str | None) -> Output | None:
        output = self.out.outputs.get(output_id)
        if output is None:
            self.emit(LogEvent(kind="unknown_output", by=by, detail=output_id))
        return output

    def output_failure(self, output: Output) -> Anomaly | None:
        return self.find_anomaly("output_failure", output.device, output.id)

    def output_upsert(self, event: OutputUpsert, now: float) -> None:
        old = self.out.upsert(event)
        change = "created" if old is None else "changed"
        self.emit(LogEvent(kind="output_changed", by=event.by, detail=f"{event.id}: {change}"))
        if old is not None and old.device != event.device:
            # A new device: the old one's failure says nothing about it, and the old device's own
            # faults go with its last zone or output.
            failure = self.output_failure(old)
            if failure is not None:
                self.clear_anomaly(failure, now)
            self.forget_device(old.device, now)

    def output_remove(self, event: OutputRemove, now: float) -> None:
        output = self.known_output(event.id, event.by)
        if output is None:
            return
        failure = self.output_failure(output)
        del self.out.outputs[output.id]
        self.emit(LogEvent(kind="output_removed", by=event.by, detail=output.id))
        if failure is not None:
            self.clear_anomaly(failure, now)
        self.forget_device(output.device, now)

    def forget_device(self, device: str | None, now: float) -> None:
        """A device no zone or output has any more: its faults cannot be resolved, they end."""
        if device is not None and not self.device_in_use(device):
            for anomaly in [a for a in self.anomalies.values() if a.device == device]:
                self.clear_anomaly(anomaly, now)

    def output_reported(self, event: OutputReported, now: float) -> None:
        output = self.known_output(event.output, None)
        if output is None:
            return
        if output.status != event.status:
            at = event.at if event.at is not None else now
            self.out.update(output.id, status=event.status, status_at=at)
            self.emit(LogEvent(kind="output_status", detail=f"{output.id}: {event.status}"))
        failure = self.output_failure(output)
        if failure is not None and output_rules.confirms(output, event.status):
            self.clear_anomaly(failure, now)

    def output_open(self, event: OutputOpen) -> None:
        output = self.known_output(event.output, event.by)
        if output is None:
            return
        if output.kind != "valve":
            self.emit(LogEvent(kind="output_open_refused", by=event.by, detail=f"{output.id}: not_a_valve"))
            return
        if self.out.open_valve(output.id, event.by):
            self.emit(Notify(subject="event", event="valve_opened", output=output.id, by=event.by))

    def output_test(self, event: OutputTest, now: float) -> None:
        output = self.known_output(event.output, event.by)
        if output is None:
            return
        refusal = None
        if not self.house_disarmed():
            refusal = "not_disarmed"
        elif output_rules.is_sounding(output):
            refusal = "sounding"
        elif output.closed_by_water:
            refusal = "water_closed"  # a test would open it again, and the leak may still be there
        if refusal is not None:
            self.emit(LogEvent(kind="output_test_refused", by=event.by, detail=f"{output.id}: {refusal}"))
            return
        self.out.test(output.id, now, event.by)

    def output_failed(self, event: OutputFailed, now: float) -> None:
        output = self.known_output(event.output, None)
        if output is None:
            return
        detail = f"{output.id}: {event.action}" + (f" ({event.detail})" if event.detail else "")
        self.emit(LogEvent(kind="output_failed", detail=detail))
        if self.output_failure(output) is None:
            self.raise_anomaly("output_failure", now, device=output.device, subject=output.id)
