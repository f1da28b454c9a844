"""The alarm engine's rules, one test per rule (alarms/engine.py's theory of operation)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from alarms import engine
from alarms.engine import handle, initial_state, next_deadline, readiness, replay
from alarms.model import (
    EVENT_ENCODER,
    STATE_DECODER,
    Ack,
    ActivationAdded,
    AlarmSettings,
    AnomalyCleared,
    AnomalyRaised,
    AnyEffect,
    AnyEvent,
    ArmRefused,
    ArmRequest,
    Behaviour,
    CancelEscalation,
    Configure,
    DeviceHealth,
    DisarmRequest,
    Exclusion,
    IncidentChanged,
    IncidentOpened,
    Led,
    LogEvent,
    ModeChanged,
    Notify,
    Report,
    Resolve,
    SensorChanged,
    Siren,
    State,
    SystemFault,
    Tick,
    ZoneExclude,
    ZoneKind,
    ZoneRemove,
    ZoneUpsert,
)

SETTINGS = AlarmSettings(
    exit_delay=30,
    entry_delay=30,
    siren_time=180,
    abort_window=60,
    confirmation_window=1800,
    swinger_limit=3,
    offline_grace=600,
)


class Hub:
    """A driver for the engine: keeps the state and the journal, returns each step's effects."""

    def __init__(self, settings: AlarmSettings = SETTINGS) -> None:
        self.state = initial_state(settings)
        self.journal: list[tuple[AnyEvent, float]] = []
        self.now = 0.0

    def feed(self, event: AnyEvent, at: float | None = None) -> list[AnyEffect]:
        if at is not None:
            self.now = at
        step = handle(self.state, event, self.now)
        self.journal.append((event, self.now))
        self.state = step.state
        return list(step.effects)

    def zone(
        self,
        zone_id: str,
        kind: ZoneKind,
        behaviour: Behaviour,
        *,
        home: bool = False,
        bypassed: bool = False,
        device: str | None = None,
    ) -> None:
        # No sensor watch here: these tests count every other deadline (tests/unit/test_sensor_watch.py has it).
        self.feed(
            ZoneUpsert(id=zone_id, name=zone_id, kind=kind, behaviour=behaviour, home=home, device=device, watch_days=0)
        )
        if bypassed:  # a 24h zone can only be isolated (for at most a day); the others inhibited
            how: Any = "isolate" if behaviour == "24h" else "inhibit"
            self.feed(
                ZoneExclude(zone=zone_id, how=how, by="anna", reason="test", hours=24 if how == "isolate" else None)
            )
            assert self.state.zones[zone_id].excluded is not None

    def open(self, zone_id: str, at: float | None = None) -> list[AnyEffect]:
        return self.feed(SensorChanged(zone=zone_id, active=True), at)

    def close(self, zone_id: str, at: float | None = None) -> list[AnyEffect]:
        return self.feed(SensorChanged(zone=zone_id, active=False), at)

    def tick(self, at: float) -> list[AnyEffect]:
        return self.feed(Tick(), at)

    def arm(self, mode: Any = "away", at: float | None = None, force: bool = False) -> list[AnyEffect]:
        return self.feed(ArmRequest(mode=mode, by="anna", force=force), at)

    def disarm(self, at: float | None = None, duress: bool = False) -> list[AnyEffect]:
        return self.feed(DisarmRequest(by="anna", duress=duress), at)


def kit(settings: AlarmSettings = SETTINGS) -> Hub:
    """The demo kit: door entry (home), motion follower, camera instant, water/smoke/power/panic 24h."""
    hub = Hub(settings)
    hub.zone("door", "contact", "entry", home=True, device="d-door")
    hub.zone("hall", "motion", "follower", device="d-hall")
    hub.zone("cam", "camera", "instant", device="d-cam")
    hub.zone("window", "contact", "instant", home=True, device="d-window")
    hub.zone("water", "water", "24h", device="d-water")
    hub.zone("smoke", "smoke", "24h", device="d-smoke")
    hub.zone("mains", "power", "24h")
    hub.zone("button", "panic", "24h")
    return hub


def armed(mode: Any = "away", settings: AlarmSettings = SETTINGS) -> Hub:
    hub = kit(settings)
    hub.arm(mode, at=100)
    hub.tick(130)
    assert hub.state.mode == f"armed_{mode}"
    return hub


def triggered() -> Hub:
    hub = armed()
    hub.open("cam", at=200)
    assert hub.state.mode == "triggered"
    return hub


def of(effects: list[AnyEffect], kind: type[Any]) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def modes(effects: list[AnyEffect]) -> list[tuple[str, str]]:
    return [(e.old, e.new) for e in of(effects, ModeChanged)]


# --------------------------------------------------------------------------- purity


def test_engine_imports_no_clock_or_io_module() -> None:
    tree = ast.parse(Path(engine.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "aiohttp", "aiosqlite", "time", "datetime", "random", "os", "socket"}
    assert "now()" not in Path(engine.__file__).read_text()


def test_initial_state_is_disarmed_without_deadline() -> None:
    state = initial_state()
    assert state.mode == "disarmed"
    assert state.settings == AlarmSettings()
    assert next_deadline(state) is None


# --------------------------------------------------------------------------- 24h zones


@pytest.mark.parametrize(
    ("zone", "incident_kind", "code"),
    [
        ("water", "water", "water"),
        ("smoke", "fire", "fire"),
        ("mains", "power", "ac_loss"),
        ("button", "panic", "panic"),
    ],
)
def test_24h_zone_raises_its_incident_when_disarmed(zone: str, incident_kind: str, code: Any) -> None:
    hub = kit()
    effects = hub.open(zone, at=10)
    (opened,) = of(effects, IncidentOpened)
    assert opened.incident.kind == incident_kind
    assert [(a.zone, a.at) for a in opened.incident.activations] == [(zone, 10)]
    assert Notify(subject="incident", incident=opened.incident.id, zone=zone) in effects
    assert Report(code=code, zone=zone, incident=opened.incident.id) in effects
    assert hub.state.zones[zone].alarmed
    assert hub.state.mode == "disarmed"
    assert not of(effects, ModeChanged)


@pytest.mark.parametrize("mode", ["arming_away", "armed_away", "pending", "triggered"])
def test_24h_zone_raises_in_every_mode_and_never_changes_the_mode(mode: str) -> None:
    hub = armed()
    if mode == "arming_away":
        hub = kit()
        hub.arm("away", at=100)
    elif mode == "pending":
        hub.open("door", at=200)
    elif mode == "triggered":
        hub.open("cam", at=200)
    assert hub.state.mode == mode
    effects = hub.open("water")
    assert of(effects, IncidentOpened)[0].incident.kind == "water"
    assert hub.state.mode == mode
    assert not of(effects, ModeChanged) and not of(effects, Siren)


def test_24h_zone_of_a_kind_with_an_open_incident_adds_an_activation() -> None:
    hub = kit()
    hub.zone("water2", "water", "24h")
    first = of(hub.open("water", at=10), IncidentOpened)[0].incident
    effects = hub.open("water2", at=20)
    (added,) = of(effects, ActivationAdded)
    assert added.incident.id == first.id and added.zone == "water2"
    assert [a.zone for a in hub.state.incidents[first.id].activations] == ["water", "water2"]
    assert Notify(subject="incident_update", incident=first.id, zone="water2") in effects
    assert Report(code="water", zone="water2", incident=first.id) in effects


def test_24h_zone_alarms_once_until_it_restores() -> None:
    hub = kit()
    hub.open("water", at=10)
    assert hub.open("water", at=11) == []
    effects = hub.close("water", at=12)
    assert Report(code="water", restore=True, zone="water") in effects
    assert LogEvent(kind="zone_restored", zone="water") in effects
    assert not hub.state.zones["water"].alarmed
    assert of(hub.open("water", at=13), ActivationAdded)


def test_bypassed_zones_never_alarm_but_track_their_state() -> None:
    hub = kit()
    hub.zone("water", "water", "24h", bypassed=True, device="d-water")
    hub.zone("cam", "camera", "instant", bypassed=True, device="d-cam")
    assert hub.open("water") == []
    hub.arm("away", at=100)
    hub.tick(130)
    assert hub.open("cam", at=140) == []
    assert hub.state.zones["cam"].active and hub.state.zones["water"].active
    assert hub.state.mode == "armed_away" and not hub.state.incidents


# --------------------------------------------------------------------------- zone configuration


def test_zone_upsert_changes_config_and_keeps_live_fields() -> None:
    hub = kit()
    hub.open("hall")
    hub.feed(DeviceHealth(device="d-hall", online=False), at=5)
    effects = hub.feed(ZoneUpsert(id="hall", name="Hallway", kind="motion", behaviour="instant", device="d-hall"))
    zone = hub.state.zones["hall"]
    assert (zone.name, zone.behaviour, zone.active, zone.online, zone.offline_since) == (
        "Hallway",
        "instant",
        True,
        False,
        5,
    )
    assert of(effects, LogEvent)[0].kind == "zone_changed"


def test_user_inhibit_is_logged_reported_and_notified() -> None:
    hub = kit()
    effects = hub.feed(ZoneExclude(zone="cam", how="inhibit", by="anna"))
    assert LogEvent(kind="zone_excluded", zone="cam", by="anna", detail="inhibit") in effects
    assert Report(code="bypass", zone="cam", user="anna") in effects
    assert Notify(subject="event", event="zone_excluded", zone="cam", by="anna", detail="inhibit") in effects
    assert hub.state.zones["cam"].excluded == Exclusion(how="inhibit", by="anna")


def test_zone_remove_deletes_the_zone() -> None:
    hub = kit()
    effects = hub.feed(ZoneRemove(id="cam", by="anna"))
    assert "cam" not in hub.state.zones
    assert effects == [LogEvent(kind="zone_removed", zone="cam", by="anna")]


def test_configure_replaces_settings() -> None:
    hub = kit()
    new = AlarmSettings(exit_delay=0)
    effects = hub.feed(Configure(settings=new))
    assert hub.state.settings == new
    assert effects == [LogEvent(kind="settings_changed")]


def test_unknown_zone_is_logged_and_changes_nothing() -> None:
    hub = armed()
    before = hub.state
    for event in (SensorChanged(zone="ghost", active=True), ZoneRemove(id="ghost")):
        effects = hub.feed(event)
        assert effects == [LogEvent(kind="unknown_zone", zone="ghost")]
        assert hub.state == before


# --------------------------------------------------------------------------- arming


def test_arming_runs_the_exit_delay_then_arms() -> None:
    hub = kit()
    effects = hub.arm("away", at=100)
    assert effects == [ModeChanged(old="disarmed", new="arming_away", by="anna", deadline=130), Led(pattern="arming")]
    assert hub.state.target == "away" and next_deadline(hub.state) == 130
    assert hub.tick(129) == []
    effects = hub.tick(130)
    assert effects == [
        ModeChanged(old="arming_away", new="armed_away", by="anna"),
        Report(code="close", user="anna"),
        Notify(subject="event", event="armed_away", by="anna"),
        Led(pattern="armed"),
    ]
    assert hub.state.deadline is None


def test_zero_exit_delay_arms_at_once() -> None:
    hub = kit(AlarmSettings(exit_delay=0))
    effects = hub.arm("home", at=100)
    assert modes(effects) == [("disarmed", "armed_home")]
    assert Report(code="close_stay", user="anna") in effects  # home is "armed stay" for the centre
    assert Notify(subject="event", event="armed_home", by="anna") in effects


@pytest.mark.parametrize("settle", [False, True])
def test_arming_to_the_current_or_coming_mode_changes_nothing(settle: bool) -> None:
    hub = kit()
    hub.arm("away", at=100)
    if settle:
        hub.tick(130)
    before = hub.state
    effects = hub.arm("away", at=120 if not settle else 140)
    assert effects == [LogEvent(kind="arm_noop", by="anna", detail="away")]
    assert hub.state == before


@pytest.mark.parametrize("make", [triggered, lambda: armed_then_open("door")])
def test_arming_during_an_alarm_is_refused(make: Any) -> None:
    hub = make()
    before = hub.state
    assert hub.arm("home") == [ArmRefused(reason="alarm_active")]
    assert hub.state == before


def armed_then_open(zone: str) -> Hub:
    hub = armed()
    hub.open(zone, at=200)
    return hub


def test_arming_is_refused_with_the_not_ready_zones() -> None:
    hub = kit()
    hub.open("door")
    hub.feed(DeviceHealth(device="d-hall", online=False))
    hub.feed(DeviceHealth(device="d-cam", tamper=True))
    before = hub.state
    effects = hub.arm("away")
    assert effects == [
        ArmRefused(reason="not_ready", not_ready=(("door", "open"), ("hall", "offline"), ("cam", "tamper")))
    ]
    assert hub.state == before


def test_readiness_only_counts_zones_armed_in_the_target_mode() -> None:
    hub = kit()
    for zone in ("hall", "cam", "water"):
        hub.open(zone)
    assert readiness(hub.state, "home") == []
    assert readiness(hub.state, "away") == [("hall", "open"), ("cam", "open")]
    hub.zone("cam", "camera", "instant", bypassed=True)
    assert readiness(hub.state, "away") == [("hall", "open")]


def test_forced_arming_excludes_an_open_zone_only_while_it_stays_open() -> None:
    hub = kit()
    hub.open("window")
    effects = hub.arm("home", force=True, at=100)
    assert LogEvent(kind="zone_excluded", zone="window", by="anna", detail="open_at_arming") in effects
    assert Report(code="bypass", zone="window", user="anna") in effects
    assert hub.state.zones["window"].excluded == Exclusion(how="open_at_arming", by="anna", reason="open")
    hub.tick(130)
    effects = hub.close("window", at=140)
    assert LogEvent(kind="zone_included", zone="window", detail="closed") in effects
    assert Report(code="bypass", restore=True, zone="window") in effects
    assert hub.state.zones["window"].excluded is None
    hub.open("window", at=150)  # back in protection: the instant window alarms
    assert hub.state.mode == "triggered"


def test_a_door_open_at_forced_arming_is_an_entry_door_once_closed() -> None:
    hub = kit()
    hub.open("door")
    hub.arm("away", force=True, at=100)
    hub.close("door", at=110)  # the owner leaves and closes it during the exit delay
    hub.tick(130)
    assert hub.state.mode == "armed_away" and hub.state.zones["door"].excluded is None
    hub.open("door", at=300)  # coming back: the entry delay, not an alarm
    assert hub.state.mode == "pending"
    hub.open("hall", at=305)  # the follower on the way to the keypad
    assert hub.state.mode == "pending"


def test_a_zone_offline_at_forced_arming_stays_excluded_until_disarm() -> None:
    hub = kit()
    hub.feed(DeviceHealth(device="d-hall", online=False), at=50)
    hub.arm("away", force=True, at=100)
    assert hub.state.zones["hall"].excluded == Exclusion(how="open_at_arming", by="anna", reason="offline")
    hub.feed(DeviceHealth(device="d-hall", online=True), at=200)
    hub.close("hall", at=210)
    assert hub.state.zones["hall"].excluded is not None
    effects = hub.disarm(at=300)
    assert LogEvent(kind="zone_included", zone="hall", detail="disarm") in effects
    assert hub.state.zones["hall"].excluded is None


def test_switching_between_home_and_away_runs_the_new_exit_delay() -> None:
    hub = armed("home")
    effects = hub.arm("away", at=200)
    assert effects[0] == ModeChanged(old="armed_home", new="arming_away", by="anna", deadline=230)
    effects = hub.arm("home", at=210)
    assert effects[0] == ModeChanged(old="arming_away", new="arming_home", by="anna", deadline=240)
    hub.tick(240)
    assert hub.state.mode == "armed_home"


def test_entry_and_follower_zones_are_free_during_the_exit_delay() -> None:
    hub = kit()
    hub.arm("away", at=100)
    for zone in ("door", "hall"):
        assert hub.open(zone, at=105) == []
        assert hub.close(zone, at=110) == []
    assert hub.state.mode == "arming_away"


def test_an_instant_zone_during_the_exit_delay_aborts_arming() -> None:
    hub = kit()
    hub.arm("away", at=100)
    effects = hub.open("cam", at=110)
    assert modes(effects) == [("arming_away", "disarmed")]
    assert LogEvent(kind="arm_failed", zone="cam") in effects
    assert Notify(subject="event", event="arm_failed", zone="cam", by="anna") in effects
    assert not of(effects, IncidentOpened) and not of(effects, Siren)
    assert hub.state.deadline is None and hub.state.target is None


def test_exit_deadline_with_the_entry_zone_open_starts_the_entry_delay() -> None:
    hub = kit()
    hub.arm("away", at=100)
    hub.open("door", at=120)
    effects = hub.tick(130)
    assert modes(effects) == [("arming_away", "armed_away"), ("armed_away", "pending")]
    assert hub.state.deadline == 160 and hub.state.entry_zone == "door"
    effects = hub.tick(160)
    incident = of(effects, IncidentOpened)[0].incident
    assert [(a.zone, a.at) for a in incident.activations] == [("door", 130)]


def test_exit_deadline_with_an_instant_zone_open_fails_arming() -> None:
    hub = kit()
    hub.arm("away", at=100)
    # Made instant during the exit delay, so it did not abort when it opened.
    hub.open("hall", at=110)
    hub.zone("hall", "motion", "instant", device="d-hall")
    effects = hub.tick(130)
    assert modes(effects) == [("arming_away", "disarmed")]
    assert LogEvent(kind="arm_failed", zone="hall") in effects


# --------------------------------------------------------------------------- armed, entry delay, trigger


def test_an_entry_zone_starts_the_entry_delay_then_triggers() -> None:
    hub = armed()
    effects = hub.open("door", at=200)
    assert effects == [ModeChanged(old="armed_away", new="pending", deadline=230)]
    assert hub.state.entry_zone == "door"
    effects = hub.tick(230)
    assert modes(effects) == [("pending", "triggered")]
    assert Siren(on=True) in effects and Led(pattern="alarm") in effects
    incident = of(effects, IncidentOpened)[0].incident
    assert incident.opened_at == 230 and [(a.zone, a.at) for a in incident.activations] == [("door", 200)]
    assert Notify(subject="incident", incident=incident.id, zone="door") in effects
    assert Report(code="burglary", zone="door", incident=incident.id) in effects
    assert hub.state.deadline == 230 + 180
    assert hub.state.zones["door"].alarmed


@pytest.mark.parametrize("zone", ["cam", "hall"])
def test_instant_or_follower_without_entry_delay_triggers_at_once(zone: str) -> None:
    hub = armed()
    effects = hub.open(zone, at=200)
    assert modes(effects) == [("armed_away", "triggered")]
    assert of(effects, IncidentOpened)[0].incident.opened_at == 200


def test_home_mode_ignores_zones_without_the_home_flag() -> None:
    hub = armed("home")
    assert hub.open("cam", at=200) == []
    assert hub.open("hall", at=201) == []
    assert modes(hub.open("window", at=202)) == [("armed_home", "triggered")]


def test_intrusion_zones_do_nothing_when_disarmed() -> None:
    hub = kit()
    for zone in ("door", "hall", "cam", "window"):
        assert hub.open(zone) == []
    assert hub.state.mode == "disarmed" and not hub.state.incidents


def test_followers_during_the_entry_delay_become_activations_and_confirm() -> None:
    hub = armed()
    hub.open("door", at=200)
    assert hub.open("hall", at=205) == []
    effects = hub.tick(230)
    incident = hub.state.incidents[of(effects, IncidentOpened)[0].incident.id]
    assert [(a.zone, a.at) for a in incident.activations] == [("door", 200), ("hall", 205)]
    assert incident.confirmed
    assert of(effects, IncidentChanged)[0].incident.confirmed
    assert Report(code="confirmed", incident=incident.id) in effects


def test_an_instant_zone_during_the_entry_delay_triggers_at_once() -> None:
    hub = armed()
    hub.open("door", at=200)
    effects = hub.open("cam", at=210)
    assert modes(effects) == [("pending", "triggered")]
    incident = of(effects, IncidentOpened)[0].incident
    assert [(a.zone, a.at) for a in incident.activations] == [("door", 200), ("cam", 210)]


def test_an_alarm_with_an_open_intrusion_incident_adds_to_it() -> None:
    hub = triggered()
    hub.tick(380)  # siren over
    hub.close("cam", at=390)
    effects = hub.open("cam", at=400)
    assert modes(effects) == [("armed_away", "triggered")]
    assert not of(effects, IncidentOpened)
    (added,) = of(effects, ActivationAdded)
    assert [a.at for a in added.incident.activations] == [200, 400]
    assert Report(code="burglary", zone="cam", incident=added.incident.id) in effects
    assert Notify(subject="incident_update", incident=added.incident.id, zone="cam") in effects


def test_no_confirmation_when_the_second_zone_is_outside_the_window() -> None:
    hub = triggered()
    hub.tick(380)
    effects = hub.open("hall", at=200 + 1800 + 1)
    assert of(effects, ActivationAdded) and not of(effects, IncidentChanged)
    assert not next(iter(hub.state.incidents.values())).confirmed


def test_further_zones_while_triggered_are_activations_of_the_incident() -> None:
    hub = triggered()
    effects = hub.open("hall", at=210)
    assert not of(effects, ModeChanged)
    (added,) = of(effects, ActivationAdded)
    assert added.zone == "hall"
    assert hub.state.deadline == 380  # the siren time does not restart


def test_swinger_zone_is_bypassed_after_the_limit() -> None:
    hub = armed(settings=AlarmSettings(exit_delay=30, siren_time=10, swinger_limit=2))
    t = 200.0
    for _ in range(2):
        hub.open("cam", at=t)
        hub.tick(t + 10)
        hub.close("cam", at=t + 20)
        t += 100
    assert hub.state.zones["cam"].trips == 2
    effects = hub.open("cam", at=t)
    assert LogEvent(kind="zone_excluded", zone="cam", detail="auto") in effects
    assert Report(code="bypass", zone="cam") in effects
    assert not of(effects, ActivationAdded) and hub.state.mode == "armed_away"
    assert hub.state.zones["cam"].excluded == Exclusion(how="auto", reason="2")
    effects = hub.disarm(at=t + 1)
    assert Report(code="bypass", restore=True, zone="cam") in effects
    assert hub.state.zones["cam"].excluded is None and hub.state.zones["cam"].trips == 0


def test_after_the_siren_time_the_mode_returns_to_armed_and_open_zones_wait_for_restore() -> None:
    hub = triggered()
    effects = hub.tick(380)
    assert effects == [ModeChanged(old="triggered", new="armed_away"), Siren(on=False), Led(pattern="armed")]
    assert hub.open("cam", at=390) == []  # still open: not re-reported
    effects = hub.close("cam", at=400)
    assert Report(code="burglary", restore=True, zone="cam") in effects
    assert LogEvent(kind="zone_restored", zone="cam") in effects
    assert not hub.state.zones["cam"].alarmed
    assert hub.state.incidents  # stays open until acknowledged or resolved


# --------------------------------------------------------------------------- disarm


def test_disarm_within_the_abort_window_cancels_the_incident() -> None:
    hub = triggered()
    incident_id = next(iter(hub.state.incidents))
    effects = hub.disarm(at=250)
    assert modes(effects) == [("triggered", "disarmed")]
    assert Siren(on=False) in effects and Led(pattern="ok") in effects
    assert Report(code="open", user="anna") in effects
    assert Notify(subject="event", event="disarmed", by="anna") in effects
    (changed,) = of(effects, IncidentChanged)
    assert (changed.incident.state, changed.incident.closed_at, changed.incident.by) == ("cancelled", 250, "anna")
    assert Report(code="cancel", incident=incident_id, user="anna") in effects
    assert CancelEscalation(incident=incident_id) in effects
    assert not hub.state.incidents
    assert (hub.state.deadline, hub.state.target, hub.state.entry_zone) == (None, None, None)


def test_disarm_after_the_abort_window_keeps_the_incident_open() -> None:
    hub = triggered()
    effects = hub.disarm(at=200 + 61)
    assert not of(effects, IncidentChanged)
    assert len(hub.state.incidents) == 1


def test_disarm_during_the_entry_delay_raises_no_incident() -> None:
    hub = armed()
    hub.open("door", at=200)
    hub.open("hall", at=205)
    effects = hub.disarm(at=220)
    assert modes(effects) == [("pending", "disarmed")]
    assert not of(effects, IncidentOpened) and not of(effects, Siren)
    assert not hub.state.incidents and hub.state.entry_activations == ()


def test_disarm_clears_the_armed_period() -> None:
    hub = triggered()
    hub.disarm(at=300)
    cam = hub.state.zones["cam"]
    assert (cam.alarmed, cam.trips, cam.excluded) == (False, 0, None)


def test_disarm_when_disarmed_is_a_noop() -> None:
    hub = kit()
    before = hub.state
    assert hub.disarm() == [LogEvent(kind="disarm_noop", by="anna")]
    assert hub.state == before


@pytest.mark.parametrize("make", [kit, triggered])
def test_duress_disarms_and_raises_a_silent_incident(make: Any) -> None:
    hub = make()
    effects = hub.disarm(at=250, duress=True)
    duress = [e.incident for e in of(effects, IncidentOpened) if e.incident.kind == "duress"]
    assert len(duress) == 1
    assert Report(code="duress", user="anna", incident=duress[0].id) in effects
    assert all(n.incident != duress[0].id for n in of(effects, Notify))
    assert all("duress" not in repr(e) for e in of(effects, LogEvent))
    assert hub.state.mode == "disarmed"


# --------------------------------------------------------------------------- ack / resolve


def test_ack_then_resolve_an_incident() -> None:
    hub = kit()
    incident_id = of(hub.open("water", at=10), IncidentOpened)[0].incident.id
    effects = hub.feed(Ack(incident=incident_id, by="anna"), at=20)
    assert of(effects, IncidentChanged)[0].incident.state == "acknowledged"
    assert CancelEscalation(incident=incident_id) in effects
    assert of(effects, LogEvent)[0].kind == "incident_acknowledged"
    assert hub.state.incidents[incident_id].state == "acknowledged"
    effects = hub.feed(Resolve(incident=incident_id, by="anna"), at=30)
    changed = of(effects, IncidentChanged)[0].incident
    assert (changed.state, changed.closed_at, changed.by) == ("resolved", 30, "anna")
    assert CancelEscalation(incident=incident_id) in effects
    assert incident_id not in hub.state.incidents


@pytest.mark.parametrize("event", [Ack(incident="inc-99", by="anna"), Resolve(incident="inc-99", by="anna")])
def test_ack_or_resolve_of_an_unknown_incident_is_logged(event: AnyEvent) -> None:
    hub = kit()
    before = hub.state
    assert hub.feed(event) == [LogEvent(kind="unknown_incident", by="anna", detail="inc-99")]
    assert hub.state == before


# --------------------------------------------------------------------------- device health, faults


def test_an_offline_device_is_never_an_intrusion_and_a_fault_after_the_grace() -> None:
    hub = armed()
    effects = hub.feed(DeviceHealth(device="d-cam", online=False), at=200)
    assert effects == [] and hub.state.mode == "armed_away"
    assert hub.state.zones["cam"].offline_since == 200
    assert next_deadline(hub.state) == 800
    assert hub.tick(799) == []
    effects = hub.tick(800)
    (raised,) = of(effects, AnomalyRaised)
    assert (raised.anomaly.kind, raised.anomaly.device, raised.anomaly.opened_at) == ("sensor_offline", "d-cam", 800)
    assert Notify(subject="anomaly", anomaly=raised.anomaly.id, zone="cam") in effects
    assert Report(code="supervision_loss", zone="cam") in effects
    assert next_deadline(hub.state) is None
    assert hub.tick(2000) == []  # one anomaly per device
    effects = hub.feed(DeviceHealth(device="d-cam", online=True), at=2100)
    assert of(effects, AnomalyCleared)[0].anomaly.id == raised.anomaly.id
    assert Notify(subject="anomaly_cleared", anomaly=raised.anomaly.id, zone="cam") in effects
    assert not hub.state.anomalies and hub.state.zones["cam"].online


def test_a_device_back_within_the_grace_raises_nothing() -> None:
    hub = kit()
    hub.feed(DeviceHealth(device="d-door", online=False), at=0)
    assert hub.feed(DeviceHealth(device="d-door", online=True), at=100) == []
    assert hub.tick(1000) == [] and next_deadline(hub.state) is None


def test_low_battery_is_one_anomaly_per_device_until_cleared() -> None:
    hub = kit()
    effects = hub.feed(DeviceHealth(device="d-door", battery_low=True), at=10)
    (raised,) = of(effects, AnomalyRaised)
    assert raised.anomaly.kind == "low_battery"
    assert Report(code="low_battery", zone="door") in effects
    assert of(effects, Notify)[0].subject == "anomaly"
    assert hub.feed(DeviceHealth(device="d-door", battery_low=True), at=20) == []
    effects = hub.feed(DeviceHealth(device="d-door", battery_low=False), at=30)
    assert of(effects, AnomalyCleared) and not hub.state.anomalies


@pytest.mark.parametrize("make", [kit, armed])
def test_tamper_raises_an_incident_in_any_mode_and_restores(make: Any) -> None:
    hub = make()
    mode = hub.state.mode
    effects = hub.feed(DeviceHealth(device="d-hall", tamper=True), at=300)
    incident = of(effects, IncidentOpened)[0].incident
    assert incident.kind == "tamper"
    assert Report(code="tamper", zone="hall", incident=incident.id) in effects
    assert Notify(subject="incident", incident=incident.id, zone="hall") in effects
    assert hub.state.mode == mode
    effects = hub.feed(DeviceHealth(device="d-hall", tamper=False), at=310)
    assert effects == [Report(code="tamper", restore=True, zone="hall")]


def test_device_health_of_an_unknown_device_is_logged() -> None:
    hub = kit()
    before = hub.state
    assert hub.feed(DeviceHealth(device="nope", online=False)) == [LogEvent(kind="unknown_device", detail="nope")]
    assert hub.state == before


def test_system_faults_are_one_anomaly_per_kind_and_subject() -> None:
    hub = kit()
    effects = hub.feed(SystemFault(kind="channel_failure", active=True, subject="sms"), at=10)
    (raised,) = of(effects, AnomalyRaised)
    assert Notify(subject="anomaly", anomaly=raised.anomaly.id) in effects
    assert Report(code="trouble") in effects
    assert hub.feed(SystemFault(kind="channel_failure", active=True, subject="sms"), at=11) == []
    assert of(hub.feed(SystemFault(kind="channel_failure", active=True, subject="email"), at=12), AnomalyRaised)
    effects = hub.feed(SystemFault(kind="channel_failure", active=False, subject="sms"), at=13)
    assert of(effects, AnomalyCleared)[0].anomaly.id == raised.anomaly.id
    assert Notify(subject="anomaly_cleared", anomaly=raised.anomaly.id) in effects
    assert hub.feed(SystemFault(kind="channel_failure", active=False, subject="sms"), at=14) == []
    assert len(hub.state.anomalies) == 1


# --------------------------------------------------------------------------- time, restart, ids


def test_overdue_deadlines_fire_at_their_own_times_after_a_restart() -> None:
    hub = armed()
    hub.open("door", at=200)  # entry deadline 230, siren until 410
    effects = hub.tick(5000)
    assert modes(effects) == [("pending", "triggered"), ("triggered", "armed_away")]
    assert of(effects, IncidentOpened)[0].incident.opened_at == 230
    assert of(effects, ModeChanged)[0].deadline == 410
    assert hub.state.mode == "armed_away" and hub.state.deadline is None


def test_any_input_fires_the_due_deadlines_first() -> None:
    hub = armed()
    hub.open("door", at=200)
    effects = hub.disarm(at=240)  # the entry delay ran out at 230 without a Tick
    assert modes(effects) == [("pending", "triggered"), ("triggered", "disarmed")]
    assert of(effects, IncidentChanged)[-1].incident.state == "cancelled"


def test_ids_come_from_the_counter_and_replay_gives_the_same_state() -> None:
    hub = kit()
    assert of(hub.open("water", at=1), IncidentOpened)[0].incident.id == "inc-1"
    assert of(hub.feed(DeviceHealth(device="d-door", battery_low=True), at=2), AnomalyRaised)[0].anomaly.id == "ano-2"
    hub.arm("away", at=3)
    hub.open("door", at=40)
    hub.tick(100)
    assert replay(hub.journal) == hub.state
    half = len(hub.journal) // 2
    assert replay(hub.journal[half:], replay(hub.journal[:half])) == hub.state


def test_state_round_trips_through_json() -> None:
    hub = triggered()
    hub.feed(DeviceHealth(device="d-door", battery_low=True, online=False))
    assert STATE_DECODER.decode(EVENT_ENCODER.encode(hub.state)) == hub.state
    assert isinstance(hub.state, State)
