"""Walk-test mode in the alarm engine: sensors prove they work, nobody is alarmed."""

from __future__ import annotations

from typing import TypeVar

from alarms.engine import handle, initial_state, next_deadline, replay
from alarms.model import (
    EVENT_ENCODER,
    STATE_DECODER,
    ActivationAdded,
    AlarmSettings,
    AnomalyCleared,
    AnomalyRaised,
    AnyEffect,
    AnyEvent,
    ArmRefused,
    ArmRequest,
    Behaviour,
    ClockStep,
    DeviceHealth,
    DisarmRequest,
    IncidentOpened,
    LogEvent,
    Notify,
    Report,
    SensorChanged,
    Siren,
    Tick,
    WalkTestActivation,
    WalkTestStart,
    WalkTestStop,
    ZoneKind,
    ZoneUpsert,
)

E = TypeVar("E")
SETTINGS = AlarmSettings(exit_delay=30, entry_delay=30, siren_time=180, offline_grace=600)
KIT: tuple[tuple[str, ZoneKind, Behaviour, str], ...] = (
    ("door", "contact", "entry", "d-door"),
    ("hall", "motion", "follower", "d-hall"),
    ("smoke", "smoke", "24h", "d-smoke"),
    ("water", "water", "24h", "d-water"),
    ("panic", "panic", "24h", "d-panic"),
)


class Hub:
    def __init__(self) -> None:
        self.state = initial_state(SETTINGS)
        self.journal: list[tuple[AnyEvent, float]] = []
        self.now = 1000.0
        for zone_id, kind, behaviour, device in KIT:
            # No sensor watch here: these tests count every other deadline (tests/unit/test_sensor_watch.py).
            self.feed(
                ZoneUpsert(
                    id=zone_id, name=zone_id.title(), kind=kind, behaviour=behaviour, device=device, watch_days=0
                )
            )

    def feed(self, event: AnyEvent, at: float | None = None) -> list[AnyEffect]:
        if at is not None:
            self.now = at
        step = handle(self.state, event, self.now)
        self.journal.append((event, self.now))
        self.state = step.state
        return list(step.effects)

    def start(self, duration: float = 1800, by: str = "mario") -> list[AnyEffect]:
        return self.feed(WalkTestStart(by=by, duration=duration))


def of(effects: list[AnyEffect], kind: type[E]) -> list[E]:
    return [e for e in effects if isinstance(e, kind)]


def alarms(effects: list[AnyEffect]) -> list[AnyEffect]:
    return [e for e in effects if isinstance(e, IncidentOpened | ActivationAdded | Notify | Siren)]


def logs(effects: list[AnyEffect], kind: str) -> list[LogEvent]:
    return [e for e in effects if isinstance(e, LogEvent) and e.kind == kind]


def test_start_reports_to_the_centre_and_sets_the_deadline() -> None:
    hub = Hub()
    effects = hub.start(duration=600)
    assert Report(code="walk_test", user="mario") in effects
    assert logs(effects, "walk_test_started")[0].by == "mario"
    walk = hub.state.walk_test
    assert walk is not None and (walk.started_at, walk.ends_at, walk.by, walk.tested) == (1000.0, 1600.0, "mario", ())
    assert next_deadline(hub.state) == 1600.0
    assert hub.state.mode == "disarmed"


def test_start_is_refused_when_not_disarmed_or_already_running() -> None:
    hub = Hub()
    hub.feed(ArmRequest(mode="away", by="anna"))
    before = hub.state
    effects = hub.start()
    assert [e.detail for e in logs(effects, "walk_test_refused")] == ["not_disarmed"]
    assert hub.state == before and not of(effects, Report)

    hub.feed(DisarmRequest(by="anna"))
    hub.start()
    running = hub.state
    effects = hub.start(duration=60)
    assert [e.detail for e in logs(effects, "walk_test_refused")] == ["walk_test_active"]
    assert hub.state == running and not of(effects, Report)


def test_every_kind_of_zone_opening_is_recorded_not_alarmed() -> None:
    hub = Hub()
    hub.start()
    seen: list[AnyEffect] = []
    for zone_id in ("water", "door", "smoke", "water", "panic"):
        hub.now += 5
        effects = hub.feed(SensorChanged(zone=zone_id, active=True))
        assert effects == [WalkTestActivation(zone=zone_id)], effects
        assert hub.state.zones[zone_id].active and hub.state.zones[zone_id].walk_tested_at == hub.now
        hub.feed(SensorChanged(zone=zone_id, active=False))
        seen += effects
    walk = hub.state.walk_test
    assert walk is not None and walk.tested == ("water", "door", "smoke", "panic")  # once each, in order
    assert not hub.state.incidents and not alarms(seen)
    assert hub.state.zones["hall"].walk_tested_at is None


def test_arming_is_refused_while_the_walk_test_runs() -> None:
    hub = Hub()
    hub.start()
    effects = hub.feed(ArmRequest(mode="away", by="anna", force=True))
    assert effects == [ArmRefused(reason="walk_test")]
    assert hub.state.mode == "disarmed"


def test_tamper_is_recorded_on_the_device_zones_and_its_restore_stays_quiet() -> None:
    hub = Hub()
    hub.start()
    effects = hub.feed(DeviceHealth(device="d-hall", tamper=True), at=1010)
    assert effects == [WalkTestActivation(zone="hall", what="tamper")]
    assert hub.state.zones["hall"].tamper_tested_at == 1010 and hub.state.zones["hall"].tamper
    effects = hub.feed(DeviceHealth(device="d-hall", tamper=False), at=1020)
    assert effects == [] and not hub.state.zones["hall"].tamper
    assert not hub.state.incidents


def test_a_tamper_from_before_the_walk_test_is_restored_to_the_centre() -> None:
    hub = Hub()
    hub.feed(DeviceHealth(device="d-door", tamper=True))
    hub.start()
    effects = hub.feed(DeviceHealth(device="d-door", tamper=False), at=1100)
    assert Report(code="tamper", restore=True, zone="door") in effects


def test_faults_raise_anomalies_and_reach_the_centre_only_if_still_there_at_the_end() -> None:
    hub = Hub()
    hub.start(duration=3600)
    # The installer swaps a battery: low, then fine again. The household hears it, the centre does not.
    effects = hub.feed(DeviceHealth(device="d-water", battery_low=True), at=1100)
    assert of(effects, AnomalyRaised)
    assert of(effects, Notify)
    assert not of(effects, Report)
    effects = hub.feed(DeviceHealth(device="d-water", battery_low=False), at=1150)
    assert of(effects, AnomalyCleared) and not of(effects, Report)
    # A sensor taken away goes offline after the grace period, within the test.
    hub.feed(DeviceHealth(device="d-smoke", online=False), at=1200)
    effects = hub.feed(Tick(), at=1800)
    assert [e.anomaly.kind for e in of(effects, AnomalyRaised)] == ["sensor_offline"]
    assert not of(effects, Report)
    effects = hub.feed(WalkTestStop(by="mario"), at=1900)
    assert of(effects, Report) == [
        Report(code="walk_test", restore=True, user="mario"),
        Report(code="supervision_loss", zone="smoke"),
    ]


def test_a_fault_from_before_the_test_clears_to_the_centre_as_usual() -> None:
    hub = Hub()
    hub.feed(DeviceHealth(device="d-water", battery_low=True), at=1000)
    hub.now = 1001
    hub.start()
    effects = hub.feed(DeviceHealth(device="d-water", battery_low=False), at=1100)
    assert Report(code="low_battery", restore=True, zone="water") in effects
    assert of(hub.feed(WalkTestStop(by="mario")), Report) == [Report(code="walk_test", restore=True, user="mario")]


def test_the_walk_test_ends_by_itself_at_its_deadline() -> None:
    hub = Hub()
    hub.start(duration=60)
    hub.feed(SensorChanged(zone="door", active=True), at=1010)
    hub.feed(SensorChanged(zone="door", active=False), at=1011)
    assert not logs(hub.feed(Tick(), at=1059.9), "walk_test_ended")
    effects = hub.feed(Tick(), at=1075)
    assert Report(code="walk_test", restore=True) in effects
    ended = logs(effects, "walk_test_ended")
    assert [(e.by, e.detail) for e in ended] == [(None, "1 tested, 4 untested, time over")]
    assert hub.state.walk_test is None and next_deadline(hub.state) is None
    assert hub.state.zones["door"].walk_tested_at == 1010  # the result stays for the report


def test_stop_ends_it_and_a_stop_without_a_walk_test_changes_nothing() -> None:
    hub = Hub()
    effects = hub.feed(WalkTestStop(by="mario"))
    assert logs(effects, "walk_test_noop") and not of(effects, Report)
    hub.start()
    hub.feed(SensorChanged(zone="smoke", active=True))
    effects = hub.feed(WalkTestStop(by="mario"))
    assert [(e.by, e.detail) for e in logs(effects, "walk_test_ended")] == [("mario", "1 tested, 4 untested")]
    assert Report(code="walk_test", restore=True, user="mario") in effects
    assert hub.state.walk_test is None


def test_zones_still_open_at_the_end_alarm_only_on_their_next_opening() -> None:
    hub = Hub()
    hub.start(duration=60)
    hub.feed(SensorChanged(zone="water", active=True), at=1010)
    effects = hub.feed(Tick(), at=1100)
    assert not hub.state.incidents and not alarms(effects)
    assert hub.state.zones["water"].active
    hub.feed(SensorChanged(zone="water", active=False), at=1110)
    effects = hub.feed(SensorChanged(zone="water", active=True), at=1120)
    assert [e.incident.kind for e in of(effects, IncidentOpened)] == ["water"]
    assert Report(code="water", zone="water", incident=hub.state.incidents["inc-1"].id) in effects


def test_a_reading_after_the_deadline_ends_the_test_first_then_alarms() -> None:
    hub = Hub()
    hub.start(duration=60)
    effects = hub.feed(SensorChanged(zone="smoke", active=True), at=1061)
    assert logs(effects, "walk_test_ended")
    assert of(effects, IncidentOpened)
    assert effects.index(logs(effects, "walk_test_ended")[0]) < effects.index(of(effects, IncidentOpened)[0])


def test_a_clock_step_moves_the_end_of_the_walk_test() -> None:
    hub = Hub()
    hub.start(duration=600)
    hub.feed(ClockStep(delta=3600), at=4700)  # the clock jumped an hour ahead 100 s into the test
    walk = hub.state.walk_test
    assert walk is not None and walk.ends_at == 5200
    assert next_deadline(hub.state) == 5200


def test_duress_is_never_a_test() -> None:
    hub = Hub()
    hub.start()
    effects = hub.feed(DisarmRequest(by="anna", duress=True))
    assert [e.incident.kind for e in of(effects, IncidentOpened)] == ["duress"]
    assert any(isinstance(e, Report) and e.code == "duress" for e in effects)


def test_renaming_a_zone_keeps_its_results_and_a_new_device_drops_them() -> None:
    hub = Hub()
    hub.start()
    hub.feed(SensorChanged(zone="door", active=True), at=1005)
    hub.feed(DeviceHealth(device="d-door", tamper=True), at=1006)
    hub.feed(ZoneUpsert(id="door", name="Front door", kind="contact", behaviour="entry", device="d-door"))
    door = hub.state.zones["door"]
    assert (door.walk_tested_at, door.tamper_tested_at) == (1005, 1006)
    hub.feed(ZoneUpsert(id="door", name="Front door", kind="contact", behaviour="entry", device="d-new"))
    door = hub.state.zones["door"]
    assert (door.walk_tested_at, door.tamper_tested_at) == (None, None)


def test_state_round_trips_and_replays() -> None:
    hub = Hub()
    hub.start(duration=120)
    hub.feed(SensorChanged(zone="hall", active=True), at=1010)
    assert STATE_DECODER.decode(EVENT_ENCODER.encode(hub.state)) == hub.state
    hub.feed(Tick(), at=1200)
    assert replay(hub.journal, initial_state(SETTINGS)) == hub.state
