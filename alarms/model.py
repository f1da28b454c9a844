"""The alarm domain's vocabulary: zones, incidents, anomalies, the engine's inputs and effects.

Everything here is an immutable msgspec Struct so that the engine stays pure and every
value can be written to the journal as JSON and read back identically (replay).
Times are POSIX seconds (float) handed in by the shell; this module never reads a clock.
The names are a contract (docs/architecture.md section 7): extend them, never rename one.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from alarms.outputs import Action, Command, OutputKind, OutputStatus

Mode = Literal[
    "disarmed",
    "arming_home",
    "arming_away",
    "armed_home",
    "armed_away",
    "pending",
    "triggered",
    "arming_night",
    "armed_night",
    "arming_vacation",
    "armed_vacation",
]
# The armed modes, with Home Assistant's names: home (people awake at home), night (asleep: the
# perimeter and the night paths), away (nobody home), vacation (away for days).
ArmTarget = Literal["home", "away", "night", "vacation"]
ZoneKind = Literal["water", "smoke", "motion", "contact", "power", "panic", "camera"]
Behaviour = Literal["24h", "instant", "entry", "follower"]
IncidentKind = Literal["fire", "water", "intrusion", "power", "panic", "tamper", "duress"]
IncidentState = Literal["active", "acknowledged", "resolved", "cancelled"]
AnomalyKind = Literal[
    "sensor_offline",
    "low_battery",
    "centre_unreachable",
    "channel_failure",
    "hub_battery_low",
    "storage_error",
    "clock_unsynced",
    "backup_failed",
    "no_notification_channel",
    "output_failure",  # a siren, valve or relay did not do what it was asked (the shell gave up retrying)
    "sensor_inactive",  # a zone in daily use has not changed for its watch_days: a dead PIR, a stuck contact
]
AnomalyState = Literal["active", "resolved"]
# How a zone stops protecting (EN 50131-1's inhibit and isolate, plus the two the hub decides):
# inhibit: a user, intrusion zones only, until disarm; open_at_arming: a forced arm, only while
# the zone stays open (offline or tampered: until disarm); isolate: the owner, with a reason and
# an end, the only way for a 24h zone; auto: swinger shutdown, until disarm.
ExclusionHow = Literal["inhibit", "open_at_arming", "isolate", "auto"]
EXCLUSION_HOWS: tuple[ExclusionHow, ...] = get_args(ExclusionHow)

# Each list is its Literal's values in the Literal's order, so a value added to the Literal is in
# every list (tests/unit/test_vocabulary_lists.py).
MODES: tuple[Mode, ...] = get_args(Mode)
ARM_TARGETS: tuple[ArmTarget, ...] = get_args(ArmTarget)
# The armed modes in which somebody is at home: the centre hears them as "armed stay".
STAY_TARGETS: frozenset[ArmTarget] = frozenset({"home", "night"})
ZONE_KINDS: tuple[ZoneKind, ...] = get_args(ZoneKind)
BEHAVIOURS: tuple[Behaviour, ...] = get_args(Behaviour)
INCIDENT_KINDS: tuple[IncidentKind, ...] = get_args(IncidentKind)
INCIDENT_STATES: tuple[IncidentState, ...] = get_args(IncidentState)
ANOMALY_KINDS: tuple[AnomalyKind, ...] = get_args(AnomalyKind)

# Which incident a zone of each kind raises when it fires.
INCIDENT_FOR_ZONE: dict[ZoneKind, IncidentKind] = {
    "water": "water",
    "smoke": "fire",
    "power": "power",
    "panic": "panic",
    "motion": "intrusion",
    "contact": "intrusion",
    "camera": "intrusion",
}

# The behaviour a zone gets when the installer does not choose one.
DEFAULT_BEHAVIOUR: dict[ZoneKind, Behaviour] = {
    "water": "24h",
    "smoke": "24h",
    "power": "24h",
    "panic": "24h",
    "motion": "follower",
    "contact": "entry",
    "camera": "instant",
}


WatchDays = Annotated[int, msgspec.Meta(ge=0, le=365)]


# Durations as decoded from the journal or an API: bounded, so no deadline can become inf.
Seconds = Annotated[float, msgspec.Meta(ge=0, le=1e8)]


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base for every domain value: immutable, keyword-only, strict on decode."""


# --------------------------------------------------------------------------- settings


class ModeDelays(Struct, frozen=True):
    """One armed mode's own exit and entry delays (`[alarm.night] entry_delay = 0`); None: `[alarm]`'s."""

    exit_delay: Seconds | None = None
    entry_delay: Seconds | None = None


AreaId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
DEFAULT_AREA = "casa"


class AreaConfig(Struct, frozen=True):
    """One area (partition) of the house (`[[areas]]`): armed and disarmed on its own, with its own
    delays (None: the common ones) and its own incidents."""

    id: AreaId
    name: str
    exit_delay: Seconds | None = None
    entry_delay: Seconds | None = None


class AlarmSettings(Struct, frozen=True):
    """The `[alarm]` and `[escalation]` timings, in seconds (config/casahub.toml, `[alarm]` and `[escalation]`)."""

    exit_delay: Seconds = 30
    entry_delay: Seconds = 30
    siren_time: Seconds = 180
    abort_window: Seconds = 60
    confirmation_window: Seconds = 1800
    swinger_limit: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 3
    offline_grace: Seconds = 600
    # A panic button sounds the sirens (`emergency`) only when the household wants it: by default
    # a panic alarm is silent, so an intruder does not know help was called.
    panic_audible: bool = False
    modes: dict[ArmTarget, ModeDelays] = {}
    # The areas, in the order the centre numbers them (area n is DC-09 partition n). One area
    # is the whole house: nothing about areas shows until a second one is configured.
    areas: tuple[AreaConfig, ...] = (AreaConfig(id=DEFAULT_AREA, name="Casa"),)

    def area(self, area_id: str | None) -> AreaConfig | None:
        return next((a for a in self.areas if a.id == area_id), None)

    def exit_delay_for(self, target: ArmTarget, area: str | None = None) -> float:
        """The mode's own delay, else the area's, else the common one."""
        own, place = self.modes.get(target), self.area(area)
        if own is not None and own.exit_delay is not None:
            return own.exit_delay
        return place.exit_delay if place is not None and place.exit_delay is not None else self.exit_delay

    def entry_delay_for(self, target: ArmTarget, area: str | None = None) -> float:
        own, place = self.modes.get(target), self.area(area)
        if own is not None and own.entry_delay is not None:
            return own.entry_delay
        return place.entry_delay if place is not None and place.entry_delay is not None else self.entry_delay


# --------------------------------------------------------------------------- state

ISOLATE_MAX_HOURS = 720  # an isolated intrusion zone comes back by itself within 30 days
ISOLATE_MAX_HOURS_24H = 24  # a smoke, water, power or panic zone within a day


class Exclusion(Struct, frozen=True):
    """Why a zone does not protect right now, who decided it and until when."""

    how: ExclusionHow
    by: str | None = None  # None: the hub decided (swinger shutdown)
    # isolate: the owner's words; open_at_arming: "open", "offline" or "tamper"; auto: None
    reason: str | None = None
    until: float | None = None  # isolate only: the isolation ends by itself then


class Zone(Struct, frozen=True):
    """A zone's configuration and its live condition as the engine knows it."""

    id: str
    name: str
    kind: ZoneKind
    behaviour: Behaviour
    # The armed modes that watch this zone (ARM_TARGETS order). A 24h zone alarms in every mode
    # whatever this says. The API's `home` is `"home" in modes`.
    modes: tuple[ArmTarget, ...] = ARM_TARGETS
    device: str | None = None
    room: str = ""
    excluded: Exclusion | None = None  # None: the zone protects as its behaviour says
    active: bool = False
    online: bool = True
    offline_since: float | None = None
    tamper: bool = False
    battery_low: bool = False
    trips: int = 0  # alarm activations in the current armed period (swinger count)
    alarmed: bool = False  # reported as in alarm and not yet restored
    # Walk test results (issue 7): when the zone last opened during a walk test, and when its
    # device last reported a tamper during one. Kept across walk tests for the commissioning report.
    walk_tested_at: float | None = None
    tamper_tested_at: float | None = None
    chime: bool = False  # opening while disarmed makes the sirens with `chime` beep (a door chime)
    # Sensor watch: `sensor_inactive` when the zone has not changed for this many days (0: off).
    watch_days: WatchDays = 0
    # The areas it belongs to; () is the first area. A zone in several (a shared hall) is armed
    # only while every one of them is armed in a mode that watches it.
    areas: tuple[str, ...] = ()
    changed_at: float | None = None  # its last report; None: the watch starts at the next input

    @property
    def bypassed(self) -> bool:
        """The API's `bypassed`: excluded in any way."""
        return self.excluded is not None

    @property
    def home(self) -> bool:
        """The first release's flag, kept in the API: watched while armed home."""
        return "home" in self.modes


class Output(Struct, frozen=True):
    """A siren, water valve or relay: its configuration, its device's condition, what the engine
    last asked of it and what it last said it is doing (alarms/outputs.py has the vocabulary)."""

    id: str
    name: str
    kind: OutputKind
    device: str | None = None
    room: str = ""
    on: tuple[IncidentKind, ...] = ()  # the incidents that drive it (DEFAULT_ON[kind] unless paired otherwise)
    chime: bool = False  # a siren that beeps when a chime zone opens while disarmed
    squawk: bool = False  # a siren that beeps on arming and disarming
    # The device's condition, as for a zone's device.
    online: bool = True
    offline_since: float | None = None
    tamper: bool = False
    battery_low: bool = False
    status: OutputStatus | None = None  # what the device last reported; None: never heard
    status_at: float | None = None  # when that status was first reported
    # What the engine last asked for (a short beep is never kept here: nothing can confirm it) and,
    # for a sound, a relay's `on` or a valve test, when it ends by itself (a deadline).
    wanted: Action | None = None
    wanted_until: float | None = None
    closed_by_water: bool = False  # a valve a water alarm closed: only OutputOpen opens it again


class Activation(Struct, frozen=True):
    zone: str
    at: float


class Incident(Struct, frozen=True):
    id: str
    kind: IncidentKind
    state: IncidentState
    opened_at: float
    confirmed: bool = False
    activations: tuple[Activation, ...] = ()
    closed_at: float | None = None
    by: str | None = None  # who acknowledged / resolved / cancelled
    area: str | None = None  # the area it belongs to when the house has several (None: one area)


class Anomaly(Struct, frozen=True):
    id: str
    kind: AnomalyKind
    state: AnomalyState
    opened_at: float
    device: str | None = None
    subject: str | None = None  # what it is about when not a device: channel name, "centre", ...
    closed_at: float | None = None


class WalkTest(Struct, frozen=True):
    """A running walk test: zones open without alarms or centre reports until `ends_at`."""

    started_at: float
    ends_at: float  # a walk test always ends by itself, so the hub can never stay blind
    by: str
    tested: tuple[str, ...] = ()  # zone ids opened during this walk test, in order


class AreaState(Struct, frozen=True):
    """One area's intrusion machine (alarms/engine.py): its mode, delays and entry."""

    mode: Mode = "disarmed"
    target: ArmTarget | None = None
    deadline: float | None = None
    entry_zone: str | None = None
    entry_activations: tuple[Activation, ...] = ()
    armed_by: str | None = None


class State(Struct, frozen=True):
    """Everything the engine needs; the shell stores it as a snapshot after every step.

    `mode` ... `armed_by` are the whole house: with one area, that area's machine; with several,
    the most urgent area's (triggered, then pending, arming, armed, disarmed). `areas` holds each
    area's own (empty in a snapshot from before areas: the one area is the house)."""

    settings: AlarmSettings = AlarmSettings()
    mode: Mode = "disarmed"
    target: ArmTarget | None = None  # the armed mode we are in, going to, or return to after an alarm
    deadline: float | None = None  # end of the exit delay, entry delay or siren time
    entry_zone: str | None = None  # the entry zone that started the running entry delay
    # Intrusion zones seen during the running entry delay (entry zone first), with the times they
    # opened: they become the incident's activations if the delay runs out.
    entry_activations: tuple[Activation, ...] = ()
    armed_by: str | None = None  # who asked for the running/last arming: the close report names them
    zones: dict[str, Zone] = {}
    incidents: dict[str, Incident] = {}  # open incidents only (active or acknowledged)
    anomalies: dict[str, Anomaly] = {}  # active anomalies only
    next_id: int = 1  # ids are made from this counter so that replay gives the same ids
    walk_test: WalkTest | None = None
    outputs: dict[str, Output] = {}
    areas: dict[str, AreaState] = {}


# --------------------------------------------------------------------------- inputs (events)


class Event(Struct, frozen=True, tag_field="type", tag=str.lower):
    """Base of the engine's inputs. Every input is journaled before its effects are sent."""


class Configure(Event, frozen=True, tag="configure"):
    settings: AlarmSettings


class ZoneUpsert(Event, frozen=True, tag="zone_upsert"):
    """Create a zone or change its configuration (name, room, behaviour, modes).

    Exclusions are not configuration: they come and go with `ZoneExclude` / `ZoneInclude`.
    `modes` None: from `home` when a journal of the first release set it, else DEFAULT_MODES."""

    id: str
    name: str
    kind: ZoneKind
    behaviour: Behaviour
    home: bool | None = None  # the first release's flag; only old journals and old callers set it
    modes: tuple[ArmTarget, ...] | None = None
    device: str | None = None
    room: str = ""
    by: str | None = None
    chime: bool = False
    watch_days: WatchDays | None = None  # None: DEFAULT_WATCH_DAYS of the kind; 0: not watched
    areas: tuple[str, ...] = ()  # () : the first area


class ZoneExclude(Event, frozen=True, tag="zone_exclude"):
    """A user takes a zone out of protection: `inhibit` (until disarm) or `isolate` (for `hours`)."""

    zone: str
    how: Literal["inhibit", "isolate"]
    by: str
    reason: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    hours: Annotated[float, msgspec.Meta(gt=0, le=ISOLATE_MAX_HOURS)] | None = None  # isolate only


class ZoneInclude(Event, frozen=True, tag="zone_include"):
    """A user puts an excluded zone back into protection, whatever excluded it."""

    zone: str
    by: str


class ZoneRemove(Event, frozen=True, tag="zone_remove"):
    id: str
    by: str | None = None


class SensorChanged(Event, frozen=True, tag="sensor_changed"):
    zone: str
    active: bool


class DeviceHealth(Event, frozen=True, tag="device_health"):
    """A change in a device's health; a field left None is unchanged."""

    device: str
    online: bool | None = None
    battery_low: bool | None = None
    tamper: bool | None = None
    # Offline together with most devices of its bridge (a broker or radio restart): the
    # shell raises one anomaly for the bridge, so this device starts no grace timer of its own.
    grouped: bool = False


class ArmRequest(Event, frozen=True, tag="arm_request"):
    mode: ArmTarget
    by: str
    force: bool = False
    areas: tuple[str, ...] | None = None  # None: every area


class DisarmRequest(Event, frozen=True, tag="disarm_request"):
    by: str
    duress: bool = False  # the shell found a duress code: disarm normally, raise a silent duress incident
    areas: tuple[str, ...] | None = None  # None: every area


class Ack(Event, frozen=True, tag="ack"):
    incident: str
    by: str


class Resolve(Event, frozen=True, tag="resolve"):
    incident: str
    by: str


class SystemFault(Event, frozen=True, tag="system_fault"):
    """A fault the shell detects (centre link, channel, storage, clock, hub battery)."""

    kind: AnomalyKind
    active: bool
    subject: str | None = None


class ClockStep(Event, tag="clock_step", frozen=True):
    """The wall clock was stepped by `delta` seconds (NTP, a manual change, an RTC-less boot).

    Running delays keep the time they had left: their deadlines move with the clock.
    """

    delta: Annotated[float, msgspec.Meta(ge=-1e10, le=1e10)]  # a decoded journal never holds an absurd step


class WalkTestStart(Event, frozen=True, tag="walk_test_start"):
    """Enter walk-test mode (only from disarmed) for `duration` seconds."""

    by: str
    duration: Annotated[float, msgspec.Meta(ge=60, le=3600)] = 1800  # at most an hour: the alarms are off meanwhile


class WalkTestStop(Event, frozen=True, tag="walk_test_stop"):
    by: str


class WrongCodes(Event, frozen=True, tag="wrong_code_limit"):
    """Too many wrong alarm codes hub-wide: the shell counts them (hub/core/throttle.py), the engine
    has the household and the centre told. Changes no state."""

    count: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    by: str | None = None  # who typed the wrong code that reached the limit


class OutputUpsert(Event, frozen=True, tag="output_upsert"):
    """Create an output or change its configuration; `on` None: the kind's default (DEFAULT_ON)."""

    id: str
    name: str
    kind: OutputKind
    device: str | None = None
    room: str = ""
    on: tuple[IncidentKind, ...] | None = None
    chime: bool = False
    squawk: bool = False
    by: str | None = None


class OutputRemove(Event, frozen=True, tag="output_remove"):
    id: str
    by: str | None = None


class OutputReported(Event, frozen=True, tag="output_reported"):
    """What an output's device says it is doing; `at`: when it said so, if the driver knows."""

    output: str
    status: OutputStatus
    at: float | None = None


class OutputOpen(Event, frozen=True, tag="output_open"):
    """The owner opens a valve (one a water alarm closed, after the leak is seen to); the shell
    checks the code and the role."""

    output: str
    by: str


class OutputTest(Event, frozen=True, tag="output_test"):
    """Try an output while disarmed: a siren sounds for 2 s, a relay closes for 2 s, a valve closes
    and opens again."""

    output: str
    by: str


class OutputFailed(Event, frozen=True, tag="output_failed"):
    """The shell gave up sending `action` to an output (no confirmation before its deadline)."""

    output: str
    action: Action
    detail: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class Tick(Event, frozen=True, tag="tick"):
    """Time passed: fires every deadline at or before `now`."""


AnyEvent = (
    Configure
    | ZoneUpsert
    | ZoneRemove
    | ZoneExclude
    | ZoneInclude
    | SensorChanged
    | DeviceHealth
    | ArmRequest
    | DisarmRequest
    | Ack
    | Resolve
    | SystemFault
    | ClockStep
    | WalkTestStart
    | WalkTestStop
    | WrongCodes
    | OutputUpsert
    | OutputRemove
    | OutputReported
    | OutputOpen
    | OutputTest
    | OutputFailed
    | Tick
)

# --------------------------------------------------------------------------- outputs (effects)


class Effect(Struct, frozen=True, tag_field="type", tag=str.lower):
    """Base of what the engine asks the shell to do."""


class ModeChanged(Effect, frozen=True, tag="mode_changed"):
    old: Mode
    new: Mode
    by: str | None = None
    deadline: float | None = None
    area: str | None = None  # whose mode, when the house has several areas


class ArmRefused(Effect, frozen=True, tag="arm_refused"):
    """Arming refused: `not_ready` lists (zone id, reason) or `reason` says why."""

    reason: Literal["not_ready", "alarm_active", "walk_test", "unknown_area"]
    not_ready: tuple[tuple[str, str], ...] = ()


class IncidentOpened(Effect, frozen=True, tag="incident_opened"):
    incident: Incident


class ActivationAdded(Effect, frozen=True, tag="activation_added"):
    incident: Incident
    zone: str


class IncidentChanged(Effect, frozen=True, tag="incident_changed"):
    """State change of an incident (acknowledged, resolved, cancelled) or confirmation."""

    incident: Incident


class AnomalyRaised(Effect, frozen=True, tag="anomaly_raised"):
    anomaly: Anomaly


class AnomalyCleared(Effect, frozen=True, tag="anomaly_cleared"):
    anomaly: Anomaly


NotifySubject = Literal["incident", "incident_update", "anomaly", "anomaly_cleared", "event"]


class Notify(Effect, frozen=True, tag="notify"):
    """Tell the household; the policy decides channels and escalation."""

    subject: NotifySubject
    incident: str | None = None
    anomaly: str | None = None
    event: str | None = None  # for subject "event": armed_away, disarmed, ...
    zone: str | None = None
    by: str | None = None
    detail: str | None = None  # zone_excluded: how; zone_included: why it ended (closed, expired, disarm, user)
    output: str | None = None  # valve_closed, valve_opened: the output's id
    area: str | None = None  # armed_*, disarmed, arm_failed: which area, when the house has several


ReportCode = Literal[
    "fire",
    "water",
    "burglary",
    "panic",
    "duress",
    "tamper",
    "ac_loss",
    "low_battery",
    "supervision_loss",
    "open",  # disarmed by user (from away or vacation)
    "close",  # armed by user (away or vacation)
    "cancel",
    "confirmed",
    "bypass",
    "trouble",
    "walk_test",  # entering (restore=False) / leaving (restore=True) walk-test mode
    "wrong_code",  # too many wrong alarm codes (an event, no restore)
    "close_stay",  # armed home or night: somebody is inside (CID 441, SIA NL)
    "open_stay",  # disarmed from home or night
]


class Report(Effect, frozen=True, tag="report"):
    """A message to the assistance centre (DC-09 in the notifications issue)."""

    code: ReportCode
    restore: bool = False
    zone: str | None = None
    incident: str | None = None
    user: str | None = None
    area: str | None = None  # the area (DC-09 partition) when the house has several; None: the first


class Siren(Effect, frozen=True, tag="siren"):
    on: bool


class OutputCommand(Effect, frozen=True, tag="output_command"):
    """Ask an output to do something: the shell journals it, sends it and retries it until the
    device's reported status confirms it (CONFIRMED_BY) or gives up (`OutputFailed`).

    `reason`: intrusion, fire, panic, water (an alarm), resume (back to the burglar pattern after
    a fire sound), time_over (siren_time ran out), disarm, armed, disarmed (the squawks), chime,
    owner (OutputOpen), test, test_over."""

    output: str
    command: Command
    reason: str


LedPattern = Literal["ok", "armed", "alarm", "fault", "arming"]


class Led(Effect, frozen=True, tag="led"):
    pattern: LedPattern


class WalkTestActivation(Effect, frozen=True, tag="walk_test_activation"):
    """A zone opened (`what="zone"`) or a device reported tamper (`what="tamper"`) in a walk test."""

    zone: str
    what: Literal["zone", "tamper"] = "zone"


class CancelEscalation(Effect, frozen=True, tag="cancel_escalation"):
    """An acknowledgement made the remaining escalation steps for this incident unnecessary."""

    incident: str


class LogEvent(Effect, frozen=True, tag="log_event"):
    """An entry for the event log / audit trail that is not already one of the effects above."""

    kind: str  # arm_failed, zone_bypassed, swinger_shutdown, zone_opened, zone_restored, ...
    zone: str | None = None
    by: str | None = None
    detail: str | None = None


AnyEffect = (
    ModeChanged
    | ArmRefused
    | IncidentOpened
    | ActivationAdded
    | IncidentChanged
    | AnomalyRaised
    | AnomalyCleared
    | Notify
    | Report
    | Siren
    | OutputCommand
    | Led
    | CancelEscalation
    | WalkTestActivation
    | LogEvent
)


class Step(Struct, frozen=True):
    """What one engine step returns."""

    state: State
    effects: tuple[AnyEffect, ...] = ()


EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER = msgspec.json.Decoder(AnyEvent)
STATE_DECODER = msgspec.json.Decoder(State)
