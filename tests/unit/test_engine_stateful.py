"""Random journals through the alarm engine: the invariants that must hold after any sequence."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from alarms.engine import REPORT_FOR_ANOMALY, handle, initial_state, next_deadline, replay
from alarms.model import (
    ARM_TARGETS,
    DEFAULT_BEHAVIOUR,
    EVENT_DECODER,
    EVENT_ENCODER,
    INCIDENT_FOR_ZONE,
    STATE_DECODER,
    ZONE_KINDS,
    Ack,
    ActivationAdded,
    AlarmSettings,
    AnomalyRaised,
    AnyEffect,
    AnyEvent,
    AreaConfig,
    ArmRequest,
    Behaviour,
    Configure,
    DeviceHealth,
    DisarmRequest,
    IncidentOpened,
    LogEvent,
    ModeChanged,
    ModeDelays,
    Notify,
    OutputCommand,
    OutputFailed,
    OutputOpen,
    OutputRemove,
    OutputReported,
    OutputTest,
    OutputUpsert,
    Report,
    Resolve,
    SensorChanged,
    Siren,
    State,
    SystemFault,
    Tick,
    WalkTestStart,
    WalkTestStop,
    ZoneExclude,
    ZoneInclude,
    ZoneKind,
    ZoneRemove,
    ZoneUpsert,
)
from alarms.output_rules import is_sounding
from alarms.outputs import ACTIONS, ACTIONS_FOR_KIND, OUTPUT_KINDS, OUTPUT_STATUSES

ZONE_IDS = ("z1", "z2", "z3", "z4", "z5", "z6")
DEVICES = ("d1", "d2", "d3", "d4")
INTRUSION_KINDS: tuple[ZoneKind, ...] = ("motion", "contact", "camera")
DELAY_MODES = {*(f"arming_{t}" for t in ARM_TARGETS), "pending", "triggered"}
OUTPUT_IDS = ("o1", "o2", "o3", "o4")
OUTPUT_DEVICES = ("s1", "s2")  # devices with outputs only (the others may have zones too)
# The reasons a command may have while a walk test runs: the test of an output, the end of a
# sound (one from before the test, or the test's), a disarm stopping a sound, the owner's open.
WALK_TEST_REASONS = {"test", "time_over", "test_over", "disarm", "owner"}


@st.composite
def zone_upserts(draw: Any, zone_id: str | None = None) -> ZoneUpsert:
    kind: ZoneKind = draw(st.sampled_from(ZONE_KINDS) | st.sampled_from(INTRUSION_KINDS))
    behaviour: Behaviour = (
        "24h" if DEFAULT_BEHAVIOUR[kind] == "24h" else draw(st.sampled_from(("instant", "entry", "follower")))
    )
    return ZoneUpsert(
        id=zone_id if zone_id is not None else draw(st.sampled_from(ZONE_IDS)),
        name="zone",
        kind=kind,
        behaviour=behaviour,
        # The first release's flag, the kind's default, or the installer's choice of modes.
        home=draw(st.none() | st.booleans()),
        modes=draw(st.none() | st.lists(st.sampled_from(ARM_TARGETS), max_size=4).map(tuple)),
        device=draw(st.sampled_from((*DEVICES, None))),
        by="installer",
        # Its areas: none (the first), one, a shared hall, or one that is not configured.
        areas=draw(st.lists(st.sampled_from(AREA_IDS), max_size=2).map(tuple)),
    )


AREA_IDS = ("casa", "garage", "lab")
AREA_LISTS = (
    (AreaConfig(id="casa", name="Casa"),),
    (AreaConfig(id="casa", name="Casa"), AreaConfig(id="garage", name="Garage", entry_delay=0)),
    (
        AreaConfig(id="casa", name="Casa"),
        AreaConfig(id="garage", name="Garage", exit_delay=10),
        AreaConfig(id="lab", name="Lab"),
    ),
)
area_choice = st.none() | st.lists(st.sampled_from(AREA_IDS), min_size=1, max_size=3).map(
    lambda a: tuple(sorted(set(a)))
)


def area_state(state: State, area: str) -> Any:
    """An area's machine as the state holds it (one area: the top-level fields)."""
    return state.areas.get(area) if state.areas else (state if area == state.settings.areas[0].id else None)


def zone_area_ids(state: State, zone: Any) -> list[str]:
    known = [a.id for a in state.settings.areas]
    return [a for a in zone.areas if a in known] or [known[0]]


alarm_settings = st.builds(
    AlarmSettings,
    exit_delay=st.sampled_from((0, 10, 30)),
    entry_delay=st.sampled_from((0, 10, 30)),
    siren_time=st.sampled_from((0, 60, 180)),
    abort_window=st.sampled_from((0, 60)),
    confirmation_window=st.sampled_from((0, 100, 1800)),
    swinger_limit=st.integers(1, 3),
    offline_grace=st.sampled_from((0, 60, 600)),
    modes=st.dictionaries(
        st.sampled_from(ARM_TARGETS),
        st.builds(
            ModeDelays,
            exit_delay=st.none() | st.sampled_from((0, 10)),
            entry_delay=st.none() | st.sampled_from((0, 10)),
        ),
        max_size=2,
    ),
    areas=st.sampled_from(AREA_LISTS),
)

output_upserts = st.builds(
    OutputUpsert,
    id=st.sampled_from(OUTPUT_IDS),
    name=st.just("output"),
    kind=st.sampled_from(OUTPUT_KINDS),
    device=st.sampled_from((*OUTPUT_DEVICES, *DEVICES, None)),
    on=st.none() | st.lists(st.sampled_from(("intrusion", "fire", "water", "panic", "tamper", "duress"))).map(tuple),
    chime=st.booleans(),
    squawk=st.booleans(),
    by=st.just("installer"),
)
output_ids = st.sampled_from((*OUTPUT_IDS, "ghost"))

system_faults = st.builds(
    SystemFault,
    kind=st.sampled_from(("centre_unreachable", "channel_failure", "storage_error")),
    active=st.booleans(),
    subject=st.sampled_from((None, "sms")),
)


def incident_ids(effects: list[AnyEffect], kind: str) -> set[str]:
    found = {
        e.incident.id for e in effects if isinstance(e, IncidentOpened | ActivationAdded) if e.incident.kind == kind
    }
    return found


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state: State = initial_state(AlarmSettings(exit_delay=10, entry_delay=10, siren_time=60))
        self.start = self.state
        self.journal: list[tuple[AnyEvent, float]] = []
        self.now = 1000.0

    def step(self, event: AnyEvent) -> list[AnyEffect]:
        before = self.state
        effects = list(handle(before, event, self.now).effects)
        after = handle(before, event, self.now).state
        assert handle(before, event, self.now).effects == tuple(effects), "not deterministic"
        self.journal.append((event, self.now))
        self.state = after
        self.check_step(before, event, effects)
        self.check_outputs(before, event, effects)
        return effects

    def check_step(self, before: State, event: AnyEvent, effects: list[AnyEffect]) -> None:
        # Every non-duress IncidentOpened comes with a Report and a Notify in the same step.
        for opened in (e for e in effects if isinstance(e, IncidentOpened)):
            incident = opened.incident
            assert any(isinstance(e, Report) and e.incident == incident.id for e in effects)
            notified = any(isinstance(e, Notify) and e.incident == incident.id for e in effects)
            assert notified == (incident.kind != "duress"), incident
        # Disarmed (and staying disarmed) never produces an intrusion or a siren.
        if before.mode == "disarmed" and self.state.mode == "disarmed":
            assert not incident_ids(effects, "intrusion")
            assert Siren(on=True) not in effects
        # An intrusion zone alarms only when every one of its areas watches it in its armed mode
        # (24h zones in every mode and area: the sensor rule checks those).
        timed = handle(before, Tick(), self.now).state
        for changed in (e for e in effects if isinstance(e, IncidentOpened | ActivationAdded)):
            known = before.incidents.get(changed.incident.id)
            added = set(changed.incident.activations) - set(known.activations if known else ())
            for activation in added:
                zone = before.zones.get(activation.zone)
                if changed.incident.kind != "intrusion" or zone is None or zone.behaviour == "24h":
                    continue
                if activation.at != self.now or isinstance(event, ZoneUpsert | Configure):
                    continue
                for area in zone_area_ids(before, zone):
                    machines = [area_state(s, area) for s in (before, timed, self.state)]
                    targets = {m.target for m in machines if m is not None} - {None}
                    assert targets & set(zone.modes), (zone, area, targets)
                if self.state.areas:  # several areas: the incident is one of the zone's areas'
                    assert changed.incident.area in zone_area_ids(before, zone), changed.incident
        # A mode with a delay always has a deadline, the others never do.
        assert (self.state.deadline is not None) == (self.state.mode in DELAY_MODES)
        # Open incidents and active anomalies only.
        assert all(i.state in ("active", "acknowledged") for i in self.state.incidents.values())
        assert all(a.state == "active" for a in self.state.anomalies.values())
        self.check_exclusions(before, event, effects)
        # The journal's JSON form decodes back to the same input.
        assert EVENT_DECODER.decode(EVENT_ENCODER.encode(event)) == event
        # While a walk test runs nobody is alarmed: no incident but a duress one, no siren, and the
        # centre hears no new alarm or fault (only the walk test's own report, restores of what it
        # already knew, bypasses and duress) until the report that the walk test is over. A fault
        # that began before the test (a shortened offline grace makes one fall due in the past) is
        # not the test's doing: its report goes at once, not an hour later.
        if before.walk_test is not None and before.walk_test.ends_at > self.now:
            end = Report(code="walk_test", restore=True, user="mario")
            during = effects[: effects.index(end)] if end in effects else effects
            assert all(
                e.incident.kind == "duress" for e in during if isinstance(e, IncidentOpened | ActivationAdded)
            ), effects
            assert Siren(on=True) not in during
            allowed = {"walk_test", "bypass", "duress"} | {
                REPORT_FOR_ANOMALY.get(e.anomaly.kind, "trouble")
                for e in during
                if isinstance(e, AnomalyRaised) and e.anomaly.opened_at < before.walk_test.started_at
            }
            assert all(e.code in allowed or e.restore for e in during if isinstance(e, Report)), effects
            assert self.state.mode == "disarmed"

    def check_exclusions(self, before: State, event: AnyEvent, effects: list[AnyEffect]) -> None:
        for zone in self.state.zones.values():
            # A 24h zone is never excluded without an isolation that ends, within a day.
            if zone.behaviour == "24h" and zone.excluded is not None:
                assert zone.excluded.how == "isolate", zone
                assert zone.excluded.until is not None and zone.excluded.until <= self.now + 24 * 3600, zone
        # Nothing excluded survives disarm except isolations (inhibits set while disarmed are for
        # the next armed period: they end at the disarm that ends it).
        disarmed = any(isinstance(e, ModeChanged) and e.new == "disarmed" for e in effects)
        if disarmed and self.state.mode == "disarmed":
            assert all(z.excluded is None or z.excluded.how == "isolate" for z in self.state.zones.values())
        # Every exclusion change yields an event, a report and a notification naming the zone.
        for zone_id, after in self.state.zones.items():
            old = before.zones.get(zone_id)
            if old is None or old.excluded == after.excluded:
                continue
            kind = "zone_excluded" if after.excluded is not None else "zone_included"
            assert any(isinstance(e, LogEvent) and e.kind == kind and e.zone == zone_id for e in effects), effects
            assert any(
                isinstance(e, Report)
                and e.code == "bypass"
                and e.zone == zone_id
                and e.restore == (after.excluded is None)
                for e in effects
            ), effects
            assert any(isinstance(e, Notify) and e.event == kind and e.zone == zone_id for e in effects), effects

    def check_outputs(self, before: State, event: AnyEvent, effects: list[AnyEffect]) -> None:
        after = self.state
        commands = [e for e in effects if isinstance(e, OutputCommand)]
        for command in commands:
            # Every command names an output that is there and whose kind takes the action, and is logged.
            output = after.outputs[command.output]
            assert command.command.action in ACTIONS_FOR_KIND[output.kind], (command, output)
            detail = f"{command.output}: {command.command.action} ({command.reason})"
            assert any(isinstance(e, LogEvent) and e.kind == "output_command" and e.detail == detail for e in effects)
        # While a walk test runs nothing sounds for an alarm, a chime or a squawk: only the tests of
        # outputs, the end of a sound, a disarm's stop and the owner's open.
        if before.walk_test is not None and before.walk_test.ends_at > self.now:
            end = Report(code="walk_test", restore=True, user="mario")
            during = effects[: effects.index(end)] if end in effects else effects
            reasons = {e.reason for e in during if isinstance(e, OutputCommand)}
            assert reasons <= WALK_TEST_REASONS, effects
            assert "test" not in reasons or isinstance(event, OutputTest)
        # Disarmed (and staying disarmed), nothing sounds for an intrusion.
        if before.mode == "disarmed" and after.mode == "disarmed":
            assert not [c for c in commands if c.reason in ("intrusion", "resume")], effects
        if isinstance(event, DisarmRequest) and event.areas is None:
            # After a disarm (of the whole house) no siren sounds and no relay is on.
            assert not [o for o in after.outputs.values() if is_sounding(o)], after.outputs
            # A duress code commands exactly what the same disarm without it does: nothing that
            # gives it away, and never a sound of its own.
            plain = handle(before, msgspec.structs.replace(event, duress=False), self.now).effects
            assert commands == [e for e in plain if isinstance(e, OutputCommand)]
        # A valve a water alarm closed is only ever opened by OutputOpen.
        for output_id, old in before.outputs.items():
            new = after.outputs.get(output_id)
            if old.closed_by_water and new is not None and new.kind == "valve" and not new.closed_by_water:
                assert event == OutputOpen(output=output_id, by="anna"), (event, effects)
            opened = [c for c in commands if c.output == output_id and c.command.action == "open"]
            if old.closed_by_water and opened:
                assert isinstance(event, OutputOpen) and event.output == output_id
        # A water alarm closes every valve that water drives.
        if incident_ids(effects, "water"):
            for output in after.outputs.values():
                if output.kind == "valve" and "water" in output.on:
                    assert output.closed_by_water and output.wanted == "close", output
        for output in after.outputs.values():
            # A sound always has an end (a deadline), a valve test too; a water closing never has one.
            if is_sounding(output):
                assert output.wanted_until is not None, output
            if output.kind == "valve" and output.wanted_until is not None:
                assert output.wanted == "close" and not output.closed_by_water, output
            # What was asked is something this kind does.
            assert output.wanted is None or output.wanted in ACTIONS_FOR_KIND[output.kind], output

    # ----------------------------------------------------------------- rules

    @rule(
        zone=st.sampled_from((*ZONE_IDS, "ghost")),
        how=st.sampled_from(("inhibit", "isolate")),
        hours=st.sampled_from((None, 1, 24, 25, 720)),
    )
    def exclude(self, zone: str, how: Any, hours: float | None) -> None:
        before = handle(self.state, Tick(), self.now).state
        self.step(ZoneExclude(zone=zone, how=how, by="anna", reason="works", hours=hours))
        z = before.zones.get(zone)
        if z is not None and any(area_state(before, a).mode != "disarmed" for a in zone_area_ids(before, z)):
            assert self.state.zones[zone].excluded == z.excluded  # nothing is excluded while its areas are armed

    @rule(zone=st.sampled_from((*ZONE_IDS, "ghost")))
    def include(self, zone: str) -> None:
        self.step(ZoneInclude(zone=zone, by="anna"))
        if zone in self.state.zones:
            z = self.state.zones[zone]
            assert z.excluded is None

    @initialize(data=st.data())
    def install_the_kit(self, data: st.DataObject) -> None:
        for zone_id in ZONE_IDS:
            self.step(data.draw(zone_upserts(zone_id)))

    @rule(event=zone_upserts() | st.builds(ZoneRemove, id=st.sampled_from((*ZONE_IDS, "ghost"))))
    def reconfigure_a_zone(self, event: ZoneUpsert | ZoneRemove) -> None:
        self.step(event)

    # ----------------------------------------------------------------- outputs

    @initialize(events=st.lists(output_upserts, max_size=4))
    def install_the_outputs(self, events: list[OutputUpsert]) -> None:
        for event in events:
            self.step(event)

    @rule(event=zone_upserts())
    def make_a_chime_zone(self, event: ZoneUpsert) -> None:
        self.step(msgspec.structs.replace(event, chime=True))

    @rule(event=output_upserts | st.builds(OutputRemove, id=output_ids))
    def reconfigure_an_output(self, event: OutputUpsert | OutputRemove) -> None:
        self.step(event)

    @rule(output=output_ids, status=st.sampled_from(OUTPUT_STATUSES))
    def output_reports(self, output: str, status: Any) -> None:
        self.step(OutputReported(output=output, status=status))

    @rule(output=output_ids)
    def owner_opens_a_valve(self, output: str) -> None:
        self.step(OutputOpen(output=output, by="anna"))

    @rule(output=output_ids)
    def installer_tests_an_output(self, output: str) -> None:
        before = handle(self.state, Tick(), self.now).state
        effects = self.step(OutputTest(output=output, by="mario"))
        if any(isinstance(e, OutputCommand) and e.reason == "test" for e in effects):
            assert before.mode == "disarmed"

    @rule(output=output_ids, action=st.sampled_from(ACTIONS))
    def shell_gives_up(self, output: str, action: Any) -> None:
        self.step(OutputFailed(output=output, action=action, detail="no answer"))
        found = self.state.outputs.get(output)
        if found is not None:
            assert any(a.kind == "output_failure" and a.subject == output for a in self.state.anomalies.values())

    @rule(
        device=st.sampled_from(OUTPUT_DEVICES),
        online=st.none() | st.booleans(),
        battery_low=st.none() | st.booleans(),
        tamper=st.none() | st.booleans(),
    )
    def output_device_health(
        self, device: str, online: bool | None, battery_low: bool | None, tamper: bool | None
    ) -> None:
        effects = self.step(DeviceHealth(device=device, online=online, battery_low=battery_low, tamper=tamper))
        known = any(o.device == device for o in self.state.outputs.values())
        assert known == (LogEvent(kind="unknown_device", detail=device) not in effects)

    @rule(panic_audible=st.booleans())
    def household_chooses_panic_sound(self, panic_audible: bool) -> None:
        self.step(Configure(settings=msgspec.structs.replace(self.state.settings, panic_audible=panic_audible)))

    @rule(zone=st.sampled_from(ZONE_IDS), active=st.booleans())
    def sensor_again(self, zone: str, active: bool) -> None:
        self.sensor(zone, active)  # sensors are most of a real journal: twice the weight

    @precondition(lambda self: self.state.target is not None and bool(self.state.zones))
    @rule(data=st.data())
    def intruder(self, data: st.DataObject) -> None:
        """Someone walks through the house while it is armed: close then open a zone."""
        target = self.state.target
        watched = [
            z.id for z in self.state.zones.values() if z.behaviour != "24h" and z.excluded is None and target in z.modes
        ]
        zone = data.draw(st.sampled_from(watched or sorted(self.state.zones)))
        if self.state.zones[zone].active:
            self.sensor(zone, False)
        self.sensor(zone, True)

    @rule(zone=st.sampled_from((*ZONE_IDS, "ghost")), active=st.booleans())
    def sensor(self, zone: str, active: bool) -> None:
        before = self.state
        event = SensorChanged(zone=zone, active=active)
        effects = self.step(event)
        z = before.zones.get(zone)
        if z is None or z.behaviour != "24h" or handle(before, Tick(), self.now).state.walk_test is not None:
            return  # in a walk test an opening is a test (check_step)
        # A 24h zone never moves the mode (compare with the same time passing without the zone).
        assert self.state.mode == handle(before, Tick(), self.now).state.mode
        if active and z.excluded is None and not z.alarmed:
            # ... and opening always raises or extends an incident of its kind, in every mode.
            kind = INCIDENT_FOR_ZONE[z.kind]
            assert incident_ids(effects, kind), (before.mode, effects)
            assert any(
                isinstance(e, IncidentOpened | ActivationAdded)
                and e.incident.kind == kind
                and any(a.zone == zone and a.at == self.now for a in e.incident.activations)
                for e in effects
            )

    @rule(
        device=st.sampled_from((*DEVICES, "ghost")),
        online=st.none() | st.booleans(),
        battery_low=st.none() | st.booleans(),
        tamper=st.none() | st.booleans(),
    )
    def device_health(self, device: str, online: bool | None, battery_low: bool | None, tamper: bool | None) -> None:
        before = self.state
        effects = self.step(DeviceHealth(device=device, online=online, battery_low=battery_low, tamper=tamper))
        # Device health is a fault or a tamper, never an intrusion: it moves no mode by itself.
        time_only = handle(before, Tick(), self.now)
        assert self.state.mode == time_only.state.mode
        assert incident_ids(effects, "intrusion") == incident_ids(list(time_only.effects), "intrusion")

    @rule(mode=st.sampled_from(ARM_TARGETS), force=st.booleans(), areas=area_choice)
    def arm_again(self, mode: Any, force: bool, areas: tuple[str, ...] | None) -> None:
        self.arm(mode, force, areas)  # twice the weight: most interesting journals are armed

    @rule(mode=st.sampled_from(ARM_TARGETS), force=st.booleans(), areas=area_choice)
    def arm(self, mode: Any, force: bool, areas: tuple[str, ...] | None = None) -> None:
        self.step(ArmRequest(mode=mode, by="anna", force=force, areas=areas))

    @rule(duress=st.sampled_from((False, False, False, True)), areas=area_choice)
    def disarm(self, duress: bool, areas: tuple[str, ...] | None) -> None:
        effects = self.step(DisarmRequest(by="anna", duress=duress, areas=areas))
        for area in [a.id for a in self.state.settings.areas if areas is None or a.id in areas]:
            assert area_state(self.state, area).mode == "disarmed", area
        if areas is None:
            assert self.state.mode == "disarmed"
        assert any(isinstance(e, IncidentOpened) and e.incident.kind == "duress" for e in effects) == duress

    @rule(data=st.data(), resolve=st.booleans())
    def ack_or_resolve(self, data: st.DataObject, resolve: bool) -> None:
        before = self.state
        incident = data.draw(st.sampled_from((*sorted(self.state.incidents), "inc-999")))
        self.step(Resolve(incident=incident, by="anna") if resolve else Ack(incident=incident, by="anna"))
        if resolve:
            assert incident not in self.state.incidents
        if incident == "inc-999":  # unknown: nothing changes but the time
            assert self.state == handle(before, Tick(), self.now).state

    @rule(duration=st.sampled_from((60, 600, 1800)))
    def start_walk_test(self, duration: float) -> None:
        before = self.state
        self.step(WalkTestStart(by="mario", duration=duration))
        time_only = handle(before, Tick(), self.now).state
        started = time_only.mode == "disarmed" and time_only.walk_test is None
        assert (self.state.walk_test is not None) == (started or time_only.walk_test is not None)

    @rule()
    def stop_walk_test(self) -> None:
        self.step(WalkTestStop(by="mario"))  # what it may emit: check_step
        assert self.state.walk_test is None

    @rule(event=system_faults | st.builds(Configure, settings=alarm_settings))
    def shell_input(self, event: SystemFault | Configure) -> None:
        self.step(event)

    @rule(dt=st.integers(0, 700) | st.floats(0, 5, allow_nan=False))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.step(Tick())
        # No timer lost: after a Tick at `now`, nothing is left due at or before `now`.
        deadline = next_deadline(self.state)
        assert deadline is None or deadline > self.now

    @precondition(lambda self: next_deadline(self.state) is not None)
    @rule()
    def tick_exactly_at_the_deadline(self) -> None:
        deadline = next_deadline(self.state)
        assert deadline is not None
        self.now = max(self.now, deadline)
        self.step(Tick())
        after = next_deadline(self.state)
        assert after is None or after > self.now

    # ----------------------------------------------------------------- invariants

    @invariant()
    def state_round_trips_through_json(self) -> None:
        assert STATE_DECODER.decode(EVENT_ENCODER.encode(self.state)) == self.state

    @invariant()
    def ids_are_unique_and_below_the_counter(self) -> None:
        for ident in (*self.state.incidents, *self.state.anomalies):
            assert int(ident.split("-")[1]) < self.state.next_id

    def teardown(self) -> None:
        assert replay(self.journal, self.start) == self.state


EngineMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineStateful = EngineMachine.TestCase


def test_mode_changes_are_reported() -> None:
    """Smoke check for the helpers above: arming from disarmed emits a ModeChanged."""
    step = handle(initial_state(), ArmRequest(mode="away", by="anna"), 0)
    assert isinstance(step.effects[0], ModeChanged)
