"""Sirens, water valves and relays: the engine's output rules (alarms/output_rules.py, issue 16)."""

from __future__ import annotations

import msgspec
import pytest

from alarms.engine import handle, initial_state, next_deadline, readiness, replay
from alarms.messages import render
from alarms.model import (
    EVENT_DECODER,
    EVENT_ENCODER,
    STATE_DECODER,
    AlarmSettings,
    AnomalyCleared,
    AnomalyRaised,
    AnyEffect,
    AnyEvent,
    ArmRefused,
    ArmRequest,
    ClockStep,
    Configure,
    DeviceHealth,
    DisarmRequest,
    IncidentOpened,
    LogEvent,
    Notify,
    OutputCommand,
    OutputFailed,
    OutputOpen,
    OutputRemove,
    OutputReported,
    OutputTest,
    OutputUpsert,
    Report,
    SensorChanged,
    Siren,
    Tick,
    WalkTestStart,
    ZoneRemove,
    ZoneUpsert,
)
from alarms.output_rules import BEEP_SECONDS, TEST_SECONDS, VALVE_TEST_SECONDS
from alarms.outputs import ACTIONS_FOR_KIND, Command
from alarms.policy import Contact, Escalation, plan_notify

SETTINGS = AlarmSettings(exit_delay=30, entry_delay=30, siren_time=180, offline_grace=600)
ANNA = Contact(name="Anna", phone="+39333", email="anna@example.org")


class Hub:
    """Keeps the state and the journal; every step's output commands must name an output whose
    kind takes the action, and every command comes with its LogEvent."""

    def __init__(self, settings: AlarmSettings = SETTINGS) -> None:
        self.state = initial_state(settings)
        self.start = self.state
        self.journal: list[tuple[AnyEvent, float]] = []
        self.now = 1000.0

    def feed(self, event: AnyEvent, at: float | None = None) -> list[AnyEffect]:
        if at is not None:
            self.now = at
        step = handle(self.state, event, self.now)
        self.journal.append((event, self.now))
        self.state = step.state
        effects = list(step.effects)
        for command in (e for e in effects if isinstance(e, OutputCommand)):
            output = self.state.outputs[command.output]
            assert command.command.action in ACTIONS_FOR_KIND[output.kind], command
            log = f"{command.output}: {command.command.action} ({command.reason})"
            assert any(isinstance(e, LogEvent) and e.kind == "output_command" and e.detail == log for e in effects)
        return effects

    def after(self, seconds: float) -> list[AnyEffect]:
        return self.feed(Tick(), self.now + seconds)


def mode_of(hub: Hub) -> str:
    """The mode now (a plain str: mypy would keep the Literal an earlier assert narrowed it to)."""
    return hub.state.mode


def commands(effects: list[AnyEffect]) -> list[tuple[str, str, str]]:
    """(output, action, reason) of every OutputCommand, in order."""
    return [(e.output, e.command.action, e.reason) for e in effects if isinstance(e, OutputCommand)]


def command_of(effects: list[AnyEffect], output: str) -> Command:
    found = [e.command for e in effects if isinstance(e, OutputCommand) and e.output == output]
    assert len(found) == 1, effects
    return found[0]


def home(settings: AlarmSettings = SETTINGS) -> Hub:
    """A door (entry, chime), a hall PIR, smoke, water and panic zones; an indoor siren (squawk,
    chime), a street siren, a water valve and a relay for a wired bell (on intrusion)."""
    hub = Hub(settings)
    # No sensor watch here: these tests count every other deadline (tests/unit/test_sensor_watch.py has it).
    hub.feed(
        ZoneUpsert(
            id="door", name="Porta", kind="contact", behaviour="entry", device="d-door", chime=True, watch_days=0
        )
    )
    hub.feed(ZoneUpsert(id="pir", name="Ingresso", kind="motion", behaviour="instant", device="d-pir", watch_days=0))
    hub.feed(ZoneUpsert(id="smoke", name="Cucina", kind="smoke", behaviour="24h", device="d-smoke"))
    hub.feed(ZoneUpsert(id="water", name="Bagno", kind="water", behaviour="24h", device="d-water"))
    hub.feed(ZoneUpsert(id="panic", name="Panico", kind="panic", behaviour="24h", device="d-panic"))
    hub.feed(OutputUpsert(id="indoor", name="Sirena", kind="siren", device="d-siren", squawk=True, chime=True))
    hub.feed(OutputUpsert(id="street", name="Esterna", kind="siren", device="d-street"))
    hub.feed(OutputUpsert(id="valve", name="Valvola", kind="valve", device="d-valve", room="Cantina"))
    hub.feed(OutputUpsert(id="bell", name="Campana", kind="switch", device="d-bell", on=("intrusion",)))
    return hub


def armed_away(hub: Hub) -> None:
    hub.feed(ArmRequest(mode="away", by="anna"))
    hub.after(SETTINGS.exit_delay)
    assert mode_of(hub) == "armed_away"


# --------------------------------------------------------------------------- the model


def test_outputs_take_their_kinds_default_incidents() -> None:
    hub = home()
    outputs = hub.state.outputs
    assert outputs["indoor"].on == ("intrusion", "fire") and outputs["valve"].on == ("water",)
    assert outputs["bell"].on == ("intrusion",)
    hub.feed(OutputUpsert(id="relay", name="Luce", kind="switch"))
    assert hub.state.outputs["relay"].on == ()
    assert hub.state.zones["door"].chime and not hub.state.zones["pir"].chime


def test_an_old_snapshot_without_outputs_decodes() -> None:
    old = b'{"settings":{"exit_delay":30,"entry_delay":30,"siren_time":180,"abort_window":60,'
    old += b'"confirmation_window":1800,"swinger_limit":3,"offline_grace":600},"mode":"disarmed",'
    old += b'"zones":{"z1":{"id":"z1","name":"Porta","kind":"contact","behaviour":"entry"}},"next_id":3}'
    state = STATE_DECODER.decode(old)
    assert state.outputs == {} and not state.settings.panic_audible and not state.zones["z1"].chime
    # ... and old journal rows too.
    row = b'{"type":"zone_upsert","id":"z1","name":"Porta","kind":"contact","behaviour":"entry"}'
    assert EVENT_DECODER.decode(row) == ZoneUpsert(id="z1", name="Porta", kind="contact", behaviour="entry")


def test_the_output_events_go_through_the_journal() -> None:
    events: list[AnyEvent] = [
        OutputUpsert(id="s", name="Sirena", kind="siren", on=("fire",), chime=True, squawk=True, by="mario"),
        OutputRemove(id="s", by="mario"),
        OutputReported(output="s", status="sounding", at=12.5),
        OutputOpen(output="v", by="anna"),
        OutputTest(output="s", by="mario"),
        OutputFailed(output="s", action="burglar", detail="no answer in 30 s"),
    ]
    for event in events:
        assert EVENT_DECODER.decode(EVENT_ENCODER.encode(event)) == event


def test_a_journal_with_outputs_replays_to_the_same_state() -> None:
    hub = home()
    armed_away(hub)
    hub.feed(SensorChanged(zone="pir", active=True), hub.now + 5)
    hub.feed(OutputReported(output="indoor", status="sounding"), hub.now + 1)
    hub.feed(OutputFailed(output="street", action="burglar"), hub.now + 30)
    hub.feed(SensorChanged(zone="water", active=True), hub.now + 1)
    hub.after(200)
    hub.feed(DisarmRequest(by="anna"), hub.now + 1)
    hub.feed(OutputOpen(output="valve", by="anna"), hub.now + 1)
    assert replay(hub.journal, hub.start) == hub.state
    assert STATE_DECODER.decode(EVENT_ENCODER.encode(hub.state)) == hub.state


# --------------------------------------------------------------------------- intrusion


def test_intrusion_sounds_the_sirens_for_siren_time_then_stops_them() -> None:
    hub = home()
    armed_away(hub)
    effects = hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    assert mode_of(hub) == "triggered"
    assert Siren(on=True) in effects  # the old effect stays, for the LED and the event log
    assert commands(effects) == [
        ("bell", "on", "intrusion"),
        ("indoor", "burglar", "intrusion"),
        ("street", "burglar", "intrusion"),
    ]
    assert command_of(effects, "indoor") == Command(action="burglar", seconds=180)
    siren = hub.state.outputs["indoor"]
    assert siren.wanted == "burglar" and siren.wanted_until == hub.now + 180
    assert next_deadline(hub.state) == hub.now + 180
    assert hub.state.outputs["valve"].wanted is None  # a valve is for water only
    assert not commands(hub.after(179.9))
    effects = hub.after(0.1)
    assert mode_of(hub) == "armed_away"
    assert sorted(commands(effects)) == [
        ("bell", "off", "time_over"),
        ("indoor", "stop", "time_over"),
        ("street", "stop", "time_over"),
    ]
    assert all(o.wanted_until is None for o in hub.state.outputs.values())


def test_a_late_tick_stops_the_sirens_at_their_deadline() -> None:
    hub = home()
    armed_away(hub)
    hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    effects = hub.after(5000)  # the hub was down: the stop is due, and goes at once
    assert ("indoor", "stop", "time_over") in commands(effects)
    assert hub.state.outputs["indoor"].wanted == "stop"


def test_disarm_stops_every_sounding_siren_at_once_and_squawks() -> None:
    hub = home()
    armed_away(hub)
    hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    effects = hub.feed(DisarmRequest(by="anna"), hub.now + 20)
    assert commands(effects) == [
        ("bell", "off", "disarm"),
        ("indoor", "stop", "disarm"),
        ("street", "stop", "disarm"),
        ("indoor", "squawk_disarmed", "disarmed"),
    ]
    assert all(o.wanted_until is None for o in hub.state.outputs.values())
    assert next_deadline(hub.state) is None
    log = [e for e in effects if isinstance(e, LogEvent) and e.kind == "output_command"]
    assert {e.by for e in log} == {"anna"}


def test_the_entry_delay_sounds_nothing_until_it_runs_out() -> None:
    hub = home()
    armed_away(hub)
    effects = hub.feed(SensorChanged(zone="door", active=True), hub.now + 10)
    assert mode_of(hub) == "pending" and not commands(effects)  # no chime while armed either
    effects = hub.after(SETTINGS.entry_delay)
    assert mode_of(hub) == "triggered"
    assert ("indoor", "burglar", "intrusion") in commands(effects)


def test_siren_time_zero_is_a_silent_alarm() -> None:
    hub = home(msgspec.structs.replace(SETTINGS, siren_time=0))
    armed_away(hub)
    effects = hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    assert mode_of(hub) == "triggered" and not commands(effects)


def test_a_very_long_siren_time_is_capped_in_the_command() -> None:
    hub = home(msgspec.structs.replace(SETTINGS, siren_time=1e6))
    armed_away(hub)
    effects = hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    command = command_of(effects, "indoor")
    # The journaled command decodes again: Command.seconds is at most a day.
    assert msgspec.json.decode(msgspec.json.encode(command), type=Command) == command
    assert command.seconds == 86_400


def test_a_clock_step_moves_a_sirens_end() -> None:
    hub = home()
    armed_away(hub)
    hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    end = hub.state.outputs["indoor"].wanted_until
    assert end is not None
    hub.feed(ClockStep(delta=3600), hub.now + 3600)
    assert hub.state.outputs["indoor"].wanted_until == end + 3600
    assert hub.state.outputs["indoor"].wanted == "burglar"


# --------------------------------------------------------------------------- fire, panic, duress


def test_fire_sounds_the_fire_pattern_while_disarmed() -> None:
    hub = home()
    effects = hub.feed(SensorChanged(zone="smoke", active=True), hub.now + 1)
    assert mode_of(hub) == "disarmed"
    assert commands(effects) == [("indoor", "fire", "fire"), ("street", "fire", "fire")]
    assert command_of(effects, "indoor").seconds == 180
    effects = hub.after(180)
    assert commands(effects) == [("indoor", "stop", "time_over"), ("street", "stop", "time_over")]


def test_fire_outranks_burglar_and_burglar_comes_back_while_the_alarm_lasts() -> None:
    settings = msgspec.structs.replace(SETTINGS, siren_time=300)
    hub = home(settings)
    armed_away(hub)
    hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    triggered_at = hub.now
    effects = hub.feed(SensorChanged(zone="smoke", active=True), hub.now + 100)
    assert ("indoor", "fire", "fire") in commands(effects)
    assert hub.state.outputs["indoor"].wanted_until == hub.now + 300
    # The fire sound outlasts the intrusion's siren time: the mode goes back to armed, the fire goes on.
    effects = hub.feed(Tick(), triggered_at + 300)
    assert mode_of(hub) == "armed_away" and not [c for c in commands(effects) if c[0] == "indoor"]
    # An intrusion never turns a fire sound into a burglar one.
    hub.feed(SensorChanged(zone="pir", active=False), hub.now + 1)
    effects = hub.feed(SensorChanged(zone="pir", active=True), hub.now + 1)
    assert mode_of(hub) == "triggered"
    assert ("indoor", "burglar", "intrusion") not in commands(effects)
    assert hub.state.outputs["indoor"].wanted == "fire"
    # The fire sound ends within the new alarm's siren time: back to burglar until it ends.
    fire_end = hub.state.outputs["indoor"].wanted_until
    assert fire_end is not None and hub.state.deadline is not None and fire_end < hub.state.deadline
    effects = hub.feed(Tick(), fire_end)
    assert command_of(effects, "indoor") == Command(action="burglar", seconds=hub.state.deadline - fire_end)
    assert ("indoor", "burglar", "resume") in commands(effects)
    effects = hub.feed(Tick(), hub.state.deadline)
    assert ("indoor", "stop", "time_over") in commands(effects)


def test_panic_is_silent_by_default() -> None:
    hub = home()
    effects = hub.feed(SensorChanged(zone="panic", active=True), hub.now + 1)
    assert any(isinstance(e, IncidentOpened) and e.incident.kind == "panic" for e in effects)
    assert not commands(effects)


def test_panic_audible_sounds_emergency_on_the_intrusion_sirens() -> None:
    hub = home(msgspec.structs.replace(SETTINGS, panic_audible=True))
    effects = hub.feed(SensorChanged(zone="panic", active=True), hub.now + 1)
    assert commands(effects) == [
        ("bell", "on", "panic"),
        ("indoor", "emergency", "panic"),
        ("street", "emergency", "panic"),
    ]
    hub.feed(OutputUpsert(id="fire-only", name="Fuoco", kind="siren", on=("fire",)))
    hub.feed(SensorChanged(zone="panic", active=False), hub.now + 1)
    effects = hub.feed(SensorChanged(zone="panic", active=True), hub.now + 1)
    assert not [c for c in commands(effects) if c[0] == "fire-only"]


def test_a_duress_disarm_sounds_nothing_and_does_what_a_disarm_does() -> None:
    normal, duress = home(), home()
    for hub in (normal, duress):
        armed_away(hub)
        hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    plain = normal.feed(DisarmRequest(by="anna"), normal.now + 5)
    forced = duress.feed(DisarmRequest(by="anna", duress=True), duress.now + 5)
    assert any(isinstance(e, IncidentOpened) and e.incident.kind == "duress" for e in forced)
    # Whoever forces the code must hear the same stop and squawk as ever.
    assert commands(forced) == commands(plain)
    assert all(action in ("stop", "off", "squawk_disarmed") for _, action, _ in commands(forced))
    # While disarmed, a duress code sounds nothing at all.
    hub = home()
    effects = hub.feed(DisarmRequest(by="anna", duress=True), hub.now + 1)
    assert not commands(effects)


def test_a_24h_intrusion_zone_and_a_tamper_sound_nothing() -> None:
    hub = home()
    hub.feed(ZoneUpsert(id="vault", name="Cassaforte", kind="motion", behaviour="24h", device="d-vault"))
    effects = hub.feed(SensorChanged(zone="vault", active=True), hub.now + 1)
    assert any(isinstance(e, IncidentOpened) for e in effects) and not commands(effects)
    effects = hub.feed(DeviceHealth(device="d-pir", tamper=True), hub.now + 1)
    assert any(isinstance(e, IncidentOpened) and e.incident.kind == "tamper" for e in effects)
    assert not commands(effects)


# --------------------------------------------------------------------------- water


def test_water_closes_the_valve_beeps_and_tells_the_household() -> None:
    hub = home()
    effects = hub.feed(SensorChanged(zone="water", active=True), hub.now + 1)
    assert commands(effects) == [
        ("valve", "close", "water"),
        ("indoor", "chime", "water"),
        ("street", "chime", "water"),
    ]
    assert command_of(effects, "indoor") == Command(action="chime", seconds=BEEP_SECONDS, level="low", strobe=False)
    valve = hub.state.outputs["valve"]
    assert valve.wanted == "close" and valve.closed_by_water and valve.wanted_until is None
    told = [e for e in effects if isinstance(e, Notify) and e.event == "valve_closed"]
    assert told == [Notify(subject="event", event="valve_closed", output="valve")]
    plan = plan_notify(told[0], hub.state, [ANNA], Escalation())
    assert {m.channel for m in plan} == {"sms", "push", "email"}
    assert all(m.template == "event.valve_closed" for m in plan)
    text = render(plan[0].template, "it", plan[0].params)
    assert "Valvola (Cantina)" in text.short and "acqua chiusa" in text.short


def test_a_valve_closed_by_water_stays_closed_until_the_owner_opens_it() -> None:
    hub = home()
    hub.feed(SensorChanged(zone="water", active=True), hub.now + 1)
    hub.feed(OutputReported(output="valve", status="closed"), hub.now + 5)
    # Nothing opens it: the leak sensor drying, time, arming, disarming, a test, a second leak.
    for event in (
        SensorChanged(zone="water", active=False),
        Tick(),
        ArmRequest(mode="away", by="anna"),
        Tick(),
        DisarmRequest(by="anna"),
        OutputTest(output="valve", by="mario"),
    ):
        effects = hub.feed(event, hub.now + 40)
        assert ("valve", "open", "owner") not in commands(effects)
        assert not [c for c in commands(effects) if c[0] == "valve"], (event, effects)
    assert any(
        e.kind == "output_test_refused" and e.detail == "valve: water_closed"
        for e in effects
        if isinstance(e, LogEvent)
    )
    effects = hub.feed(SensorChanged(zone="water", active=True), hub.now + 1)
    assert not [c for c in commands(effects) if c[0] == "valve"]  # closed and confirmed: nothing to ask again
    assert not [e for e in effects if isinstance(e, Notify) and e.event == "valve_closed"]
    assert hub.state.outputs["valve"].closed_by_water
    effects = hub.feed(OutputOpen(output="valve", by="anna"), hub.now + 60)
    assert commands(effects) == [("valve", "open", "owner")]
    valve = hub.state.outputs["valve"]
    assert valve.wanted == "open" and not valve.closed_by_water
    told = [e for e in effects if isinstance(e, Notify)]
    assert told == [Notify(subject="event", event="valve_opened", output="valve", by="anna")]
    plan = plan_notify(told[0], hub.state, [ANNA], Escalation())
    assert {m.channel for m in plan} == {"sms", "push", "email"}
    assert "by anna" in render("event.valve_opened", "en", plan[0].params).short


def test_open_is_only_for_valves_and_known_outputs() -> None:
    hub = home()
    effects = hub.feed(OutputOpen(output="indoor", by="anna"))
    assert not commands(effects)
    assert LogEvent(kind="output_open_refused", by="anna", detail="indoor: not_a_valve") in effects
    effects = hub.feed(OutputOpen(output="ghost", by="anna"))
    assert effects == [LogEvent(kind="unknown_output", by="anna", detail="ghost")]


# --------------------------------------------------------------------------- squawks and chimes


def test_arming_and_disarming_squawk_the_squawk_sirens() -> None:
    hub = home()
    effects = hub.feed(ArmRequest(mode="away", by="anna"))
    assert not commands(effects)  # the exit delay: not armed yet
    effects = hub.after(SETTINGS.exit_delay)
    assert commands(effects) == [("indoor", "squawk_armed", "armed")]
    assert command_of(effects, "indoor") == Command(action="squawk_armed", level="low", strobe=False)
    assert hub.state.outputs["indoor"].wanted is None  # a beep is never kept: nothing can confirm it
    effects = hub.feed(DisarmRequest(by="anna"), hub.now + 60)
    assert commands(effects) == [("indoor", "squawk_disarmed", "disarmed")]
    effects = hub.feed(DisarmRequest(by="anna"), hub.now + 60)
    assert not commands(effects)  # already disarmed: nothing to confirm


def test_a_chime_zone_opening_while_disarmed_chimes() -> None:
    hub = home()
    effects = hub.feed(SensorChanged(zone="door", active=True), hub.now + 1)
    assert commands(effects) == [("indoor", "chime", "chime")]
    assert not commands(hub.feed(SensorChanged(zone="door", active=True), hub.now + 1))  # still open
    assert not commands(hub.feed(SensorChanged(zone="door", active=False), hub.now + 1))
    assert not commands(hub.feed(SensorChanged(zone="pir", active=True), hub.now + 1))  # not a chime zone


def test_no_chime_while_a_siren_sounds() -> None:
    hub = home()
    hub.feed(SensorChanged(zone="smoke", active=True), hub.now + 1)
    effects = hub.feed(SensorChanged(zone="door", active=True), hub.now + 1)
    assert not commands(effects)  # a beep would cut the fire pattern short


def test_a_walk_test_sounds_nothing() -> None:
    hub = home()
    hub.feed(WalkTestStart(by="mario", duration=600))
    for zone in ("door", "pir", "smoke", "water", "panic"):
        effects = hub.feed(SensorChanged(zone=zone, active=True), hub.now + 1)
        assert not commands(effects), zone
    effects = hub.feed(DeviceHealth(device="d-siren", tamper=True), hub.now + 1)
    assert not commands(effects) and not any(isinstance(e, IncidentOpened | Report) for e in effects)
    assert LogEvent(kind="output_tamper_tested", detail="indoor") in effects
    # ... but an installer may test the outputs (EN 50131: a warning device tested).
    effects = hub.feed(OutputTest(output="indoor", by="mario"), hub.now + 1)
    assert commands(effects) == [("indoor", "emergency", "test")]


# --------------------------------------------------------------------------- tests of the outputs


def test_testing_a_siren_sounds_it_briefly() -> None:
    hub = home()
    effects = hub.feed(OutputTest(output="indoor", by="mario"))
    assert command_of(effects, "indoor") == Command(action="emergency", seconds=TEST_SECONDS, level="low")
    assert hub.state.outputs["indoor"].wanted_until == hub.now + TEST_SECONDS
    effects = hub.after(TEST_SECONDS)
    assert commands(effects) == [("indoor", "stop", "time_over")]


def test_testing_a_valve_closes_it_and_opens_it_again() -> None:
    hub = home()
    effects = hub.feed(OutputTest(output="valve", by="mario"))
    assert commands(effects) == [("valve", "close", "test")]
    assert not hub.state.outputs["valve"].closed_by_water
    effects = hub.after(VALVE_TEST_SECONDS)
    assert commands(effects) == [("valve", "open", "test_over")]


def test_a_leak_during_a_valve_test_keeps_the_valve_closed() -> None:
    hub = home()
    hub.feed(OutputTest(output="valve", by="mario"))
    hub.feed(SensorChanged(zone="water", active=True), hub.now + 5)
    effects = hub.after(VALVE_TEST_SECONDS)
    assert not commands(effects)
    assert hub.state.outputs["valve"].wanted == "close" and hub.state.outputs["valve"].closed_by_water


def test_testing_a_relay_pulses_it() -> None:
    hub = home()
    effects = hub.feed(OutputTest(output="bell", by="mario"))
    assert commands(effects) == [("bell", "on", "test")]
    assert commands(hub.after(TEST_SECONDS)) == [("bell", "off", "time_over")]


@pytest.mark.parametrize("armed", [True, False])
def test_a_test_is_refused_unless_disarmed_and_silent(armed: bool) -> None:
    hub = home()
    if armed:
        armed_away(hub)
        detail = "indoor: not_disarmed"
    else:
        hub.feed(SensorChanged(zone="smoke", active=True), hub.now + 1)
        detail = "indoor: sounding"
    effects = hub.feed(OutputTest(output="indoor", by="mario"), hub.now + 1)
    assert not commands(effects)
    assert LogEvent(kind="output_test_refused", by="mario", detail=detail) in effects


# --------------------------------------------------------------------------- supervision


def test_an_offline_siren_makes_arming_not_ready_unless_forced() -> None:
    hub = home()
    hub.feed(DeviceHealth(device="d-street", online=False), hub.now + 1)
    assert readiness(hub.state, "away") == [("street", "siren_offline")]
    assert readiness(hub.state, "home") == [("street", "siren_offline")]
    effects = hub.feed(ArmRequest(mode="away", by="anna"))
    assert effects == [ArmRefused(reason="not_ready", not_ready=(("street", "siren_offline"),))]
    effects = hub.feed(ArmRequest(mode="away", by="anna", force=True))
    assert mode_of(hub) == "arming_away"
    assert LogEvent(kind="armed_not_ready", by="anna", detail="street: siren_offline") in effects
    assert hub.state.outputs["street"].on == ("intrusion", "fire")  # nothing to exclude: it still gets its commands
    hub.feed(DisarmRequest(by="anna"))
    hub.feed(DeviceHealth(device="d-street", online=True), hub.now + 1)
    assert readiness(hub.state, "away") == []


def test_an_offline_valve_does_not_stop_arming() -> None:
    hub = home()
    hub.feed(DeviceHealth(device="d-valve", online=False), hub.now + 1)
    assert readiness(hub.state, "away") == []


def test_output_devices_have_the_faults_of_sensors() -> None:
    hub = home()
    effects = hub.feed(DeviceHealth(device="d-street", online=False), hub.now + 1)
    assert not any(isinstance(e, LogEvent) and e.kind == "unknown_device" for e in effects)
    assert hub.state.outputs["street"].offline_since == hub.now
    assert next_deadline(hub.state) == hub.now + SETTINGS.offline_grace
    effects = hub.after(SETTINGS.offline_grace)
    raised = [e.anomaly for e in effects if isinstance(e, AnomalyRaised)]
    assert [(a.kind, a.device) for a in raised] == [("sensor_offline", "d-street")]
    assert Report(code="supervision_loss", zone="street") in effects
    notify = next(e for e in effects if isinstance(e, Notify))
    plan = plan_notify(notify, hub.state, [ANNA], Escalation())
    assert plan[0].params["zone"] == "Esterna"
    effects = hub.feed(DeviceHealth(device="d-street", online=True), hub.now + 1)
    assert any(isinstance(e, AnomalyCleared) for e in effects)
    effects = hub.feed(DeviceHealth(device="d-street", battery_low=True), hub.now + 1)
    assert [e.anomaly.kind for e in effects if isinstance(e, AnomalyRaised)] == ["low_battery"]
    assert hub.state.outputs["street"].battery_low
    effects = hub.feed(DeviceHealth(device="d-street", tamper=True), hub.now + 1)
    opened = [e.incident for e in effects if isinstance(e, IncidentOpened)]
    assert [(i.kind, i.activations[0].zone) for i in opened] == [("tamper", "street")]
    effects = hub.feed(DeviceHealth(device="d-street", tamper=False), hub.now + 1)
    assert Report(code="tamper", restore=True, zone="street") in effects
    effects = hub.feed(DeviceHealth(device="ghost", online=False), hub.now + 1)
    assert effects == [LogEvent(kind="unknown_device", detail="ghost")]


def test_removing_the_last_output_of_a_device_ends_its_faults() -> None:
    hub = home()
    hub.feed(DeviceHealth(device="d-street", battery_low=True), hub.now + 1)
    effects = hub.feed(OutputRemove(id="street", by="mario"), hub.now + 1)
    assert [e.anomaly.kind for e in effects if isinstance(e, AnomalyCleared)] == ["low_battery"]
    assert "street" not in hub.state.outputs
    assert hub.feed(OutputRemove(id="street")) == [LogEvent(kind="unknown_output", detail="street")]


def test_a_device_with_a_zone_and_an_output_keeps_its_faults_until_both_are_gone() -> None:
    hub = home()
    hub.feed(OutputUpsert(id="pir-siren", name="Sirena PIR", kind="siren", device="d-pir"))
    hub.feed(DeviceHealth(device="d-pir", battery_low=True), hub.now + 1)
    assert hub.state.outputs["pir-siren"].battery_low and hub.state.zones["pir"].battery_low
    effects = hub.feed(ZoneRemove(id="pir"), hub.now + 1)
    assert not any(isinstance(e, AnomalyCleared) for e in effects)
    effects = hub.feed(OutputRemove(id="pir-siren"), hub.now + 1)
    assert any(isinstance(e, AnomalyCleared) for e in effects)


# --------------------------------------------------------------------------- failures


def test_a_failed_command_raises_output_failure_and_a_confirmation_clears_it() -> None:
    hub = home()
    armed_away(hub)
    hub.feed(SensorChanged(zone="pir", active=True), hub.now + 10)
    effects = hub.feed(OutputFailed(output="street", action="burglar", detail="no answer"), hub.now + 30)
    raised = [e.anomaly for e in effects if isinstance(e, AnomalyRaised)]
    assert [(a.kind, a.device, a.subject) for a in raised] == [("output_failure", "d-street", "street")]
    assert LogEvent(kind="output_failed", detail="street: burglar (no answer)") in effects
    assert Report(code="trouble") in effects
    notify = next(e for e in effects if isinstance(e, Notify))
    plan = plan_notify(notify, hub.state, [ANNA], Escalation())
    assert {m.channel for m in plan} == {"sms", "push", "email"}
    assert plan[0].template == "anomaly.output_failure" and plan[0].params["zone"] == "Esterna"
    assert "Esterna" in render(plan[0].template, "it", plan[0].params).subject
    # A second failure of the same output adds nothing but the log line.
    effects = hub.feed(OutputFailed(output="street", action="burglar"), hub.now + 30)
    assert not any(isinstance(e, AnomalyRaised) for e in effects)
    # A report that does not confirm what was asked leaves it; one that does clears it.
    effects = hub.feed(OutputReported(output="street", status="silent"), hub.now + 1)
    assert not any(isinstance(e, AnomalyCleared) for e in effects)
    assert hub.state.outputs["street"].status == "silent"
    said_at = hub.now + 0.5  # the device's own time of the report, a little before the hub hears it
    effects = hub.feed(OutputReported(output="street", status="sounding", at=said_at), hub.now + 1)
    assert [e.anomaly.kind for e in effects if isinstance(e, AnomalyCleared)] == ["output_failure"]
    assert hub.state.outputs["street"].status_at == said_at


def test_a_beep_that_failed_clears_when_the_device_answers_at_all() -> None:
    hub = home()
    hub.feed(OutputFailed(output="indoor", action="chime"), hub.now + 1)
    assert [a.kind for a in hub.state.anomalies.values()] == ["output_failure"]
    hub.feed(OutputReported(output="indoor", status="silent"), hub.now + 1)
    assert hub.state.anomalies == {}


def test_an_unchanged_report_changes_nothing() -> None:
    hub = home()
    hub.feed(OutputReported(output="valve", status="open"), hub.now + 1)
    before = hub.state
    step = handle(hub.state, OutputReported(output="valve", status="open"), hub.now + 1)
    assert step.state == before and step.effects == ()
    assert hub.feed(OutputReported(output="ghost", status="open")) == [LogEvent(kind="unknown_output", detail="ghost")]


def test_reconfiguring_an_output_keeps_what_it_was_asked() -> None:
    hub = home()
    hub.feed(SensorChanged(zone="water", active=True), hub.now + 1)
    hub.feed(OutputUpsert(id="valve", name="Valvola generale", kind="valve", device="d-valve", room="Cantina"))
    valve = hub.state.outputs["valve"]
    assert valve.name == "Valvola generale" and valve.closed_by_water and valve.wanted == "close"
    hub.feed(OutputFailed(output="valve", action="close"), hub.now + 1)
    effects = hub.feed(OutputUpsert(id="valve", name="Valvola", kind="valve", device="d-valve2"))
    assert [e.anomaly.kind for e in effects if isinstance(e, AnomalyCleared)] == ["output_failure"]


def test_panic_audible_is_a_setting_like_the_others() -> None:
    hub = Hub()
    hub.feed(ZoneUpsert(id="panic", name="Panico", kind="panic", behaviour="24h"))
    hub.feed(OutputUpsert(id="indoor", name="Sirena", kind="siren"))
    hub.feed(Configure(settings=msgspec.structs.replace(SETTINGS, panic_audible=True)))
    assert hub.state.settings.panic_audible
    effects = hub.feed(SensorChanged(zone="panic", active=True), hub.now + 1)
    assert commands(effects) == [("indoor", "emergency", "panic")]
