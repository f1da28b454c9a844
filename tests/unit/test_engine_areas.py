"""Areas (partitions) in the engine (issue 17): each area arms, delays and alarms on its own; a
zone in several areas protects only while all of them are armed in a mode that watches it.

The house: a flat (`casa`: front door, bedroom window, kitchen smoke) and a garage (`garage`:
garage door, no entry delay), with the hall between them in both."""

from __future__ import annotations

from alarms.engine import handle, initial_state, next_deadline, readiness, replay
from alarms.model import (
    ARM_TARGETS,
    AlarmSettings,
    AnyEffect,
    AnyEvent,
    AreaConfig,
    ArmRefused,
    ArmRequest,
    DisarmRequest,
    IncidentOpened,
    ModeChanged,
    Notify,
    Report,
    SensorChanged,
    State,
    Tick,
    ZoneUpsert,
)

AREAS = (AreaConfig(id="casa", name="Casa"), AreaConfig(id="garage", name="Garage", entry_delay=0))
SETTINGS = AlarmSettings(exit_delay=10, entry_delay=20, siren_time=60, areas=AREAS)
KIT = (
    ZoneUpsert(id="door", name="Porta", kind="contact", behaviour="entry", areas=("casa",)),
    ZoneUpsert(id="window", name="Finestra", kind="contact", behaviour="instant", areas=("casa",)),
    ZoneUpsert(id="smoke", name="Fumo", kind="smoke", behaviour="24h", areas=("casa",)),
    ZoneUpsert(id="gdoor", name="Basculante", kind="contact", behaviour="entry", areas=("garage",)),
    ZoneUpsert(id="hall", name="Corridoio", kind="motion", behaviour="instant", areas=("casa", "garage")),
)


class House:
    def __init__(self, settings: AlarmSettings = SETTINGS) -> None:
        self.state: State = initial_state(settings)
        self.now = 1000.0
        self.journal: list[tuple[AnyEvent, float]] = []
        for zone in KIT:
            self.feed(zone)

    def feed(self, event: AnyEvent, after: float = 0.0) -> list[AnyEffect]:
        self.now += after
        self.journal.append((event, self.now))
        step = handle(self.state, event, self.now)
        self.state = step.state
        return list(step.effects)

    def arm(self, mode: str = "away", areas: tuple[str, ...] | None = None, force: bool = False) -> list[AnyEffect]:
        effects = self.feed(ArmRequest(mode=mode, by="anna", areas=areas, force=force))  # type: ignore[arg-type]
        effects += self.feed(Tick(), after=11)  # past the exit delay
        return effects

    def open(self, zone: str, after: float = 1.0) -> list[AnyEffect]:
        effects = self.feed(SensorChanged(zone=zone, active=False), after=after)
        return effects + self.feed(SensorChanged(zone=zone, active=True))

    def mode(self, area: str) -> str:
        return self.state.areas[area].mode


def opened(effects: list[AnyEffect]) -> list[tuple[str, str | None]]:
    return [(e.incident.kind, e.incident.area) for e in effects if isinstance(e, IncidentOpened)]


def test_arming_one_area_leaves_the_other_free() -> None:
    house = House()
    effects = house.arm("away", areas=("garage",))
    assert (house.mode("garage"), house.mode("casa")) == ("armed_away", "disarmed")
    assert house.state.mode == "armed_away"  # the whole house shows its most urgent area
    assert ModeChanged(old="disarmed", new="arming_away", by="anna", deadline=1010.0, area="garage") in effects
    assert Report(code="close", user="anna", area="garage") in effects
    assert Notify(subject="event", event="armed_away", by="anna", area="garage") in effects
    # A zone of the other area, and the shared hall (its flat is disarmed), raise nothing.
    assert opened(house.open("window") + house.open("hall")) == []
    # The garage's own door: no entry delay in the garage, an alarm of the garage alone.
    effects = house.open("gdoor")
    house.feed(Tick())
    assert house.mode("garage") == "triggered" and house.mode("casa") == "disarmed"
    assert [i.area for i in house.state.incidents.values() if i.kind == "intrusion"] == ["garage"]


def test_the_shared_hall_protects_only_when_both_areas_are_armed() -> None:
    house = House()
    house.arm("away", areas=("casa",))
    assert opened(house.open("hall")) == []  # the garage is still disarmed: someone may walk through
    refused = house.feed(ArmRequest(mode="away", by="anna", areas=("garage",)))
    assert refused == [ArmRefused(reason="not_ready", not_ready=(("hall", "open"),))]  # arming would watch it
    house.feed(SensorChanged(zone="hall", active=False))
    house.arm("away", areas=("garage",))
    effects = house.open("hall")
    assert sorted(opened(effects)) == [("intrusion", "casa"), ("intrusion", "garage")]
    assert (house.mode("casa"), house.mode("garage")) == ("triggered", "triggered")
    # Disarming the flat leaves the garage's alarm and its siren; disarming it too ends it.
    house.feed(DisarmRequest(by="anna", areas=("casa",)))
    assert (house.mode("casa"), house.mode("garage")) == ("disarmed", "triggered")
    house.feed(DisarmRequest(by="anna"))
    assert house.state.mode == "disarmed"


def test_the_hall_is_watched_only_in_the_modes_of_every_area() -> None:
    house = House()
    house.arm("night", areas=("casa",))  # motion is away/vacation by default: not night
    house.arm("away", areas=("garage",))
    assert opened(house.open("hall")) == []


def test_a_24h_zone_alarms_in_every_mode_and_area_in_its_own_area() -> None:
    for areas in (None, ("casa",), ("garage",)):
        for mode in ARM_TARGETS:
            house = House()
            house.arm(mode, areas=areas)
            assert opened(house.open("smoke")) == [("fire", "casa")], (mode, areas)
    house = House()
    assert opened(house.open("smoke")) == [("fire", "casa")]  # disarmed too


def test_readiness_and_refusals_are_per_area() -> None:
    house = House()
    house.open("window")
    assert readiness(house.state, "away", ("garage",)) == []
    assert readiness(house.state, "away", ("casa",)) == [("window", "open")]
    refused = house.feed(ArmRequest(mode="away", by="anna"))
    assert refused == [ArmRefused(reason="not_ready", not_ready=(("window", "open"),))]
    house.arm("away", areas=("garage",))  # the garage arms with the flat's window open
    assert house.mode("garage") == "armed_away"
    house.feed(SensorChanged(zone="window", active=False))
    house.open("hall")  # flat disarmed: nothing
    # An arm of an area in its alarm is refused; arming the rest is fine.
    house.open("gdoor")
    house.feed(Tick())
    assert house.feed(ArmRequest(mode="away", by="anna", areas=("garage",))) == [ArmRefused(reason="alarm_active")]


def test_each_area_keeps_its_own_delays_and_the_deadline_is_the_earliest() -> None:
    house = House(
        AlarmSettings(exit_delay=30, entry_delay=20, areas=(AREAS[0], AreaConfig(id="garage", name="G", exit_delay=5)))
    )
    house.feed(ArmRequest(mode="away", by="anna"))
    assert (house.state.areas["casa"].deadline, house.state.areas["garage"].deadline) == (house.now + 30, house.now + 5)
    assert next_deadline(house.state) == house.now + 5
    house.feed(Tick(), after=6)
    assert (house.mode("casa"), house.mode("garage")) == ("arming_away", "armed_away")


def test_one_area_is_the_house_of_before_areas_and_replay_equals_live() -> None:
    single = House(AlarmSettings(exit_delay=10))
    effects = single.arm("away")
    assert single.state.areas == {}  # one area: the state and effects read as before areas
    assert all(e.area is None for e in effects if isinstance(e, ModeChanged | Report | Notify))
    house = House()
    house.arm("away", areas=("casa",))
    house.open("door")
    house.arm("home", areas=("garage",))
    house.open("hall", after=30)
    house.feed(DisarmRequest(by="anna", areas=("garage",)))
    assert replay(house.journal, initial_state(SETTINGS)) == house.state


def test_a_configured_second_area_starts_disarmed_and_the_first_keeps_its_machine() -> None:
    from alarms.model import Configure

    house = House(AlarmSettings(exit_delay=0))
    house.arm("away")
    assert house.state.mode == "armed_away"
    house.feed(Configure(settings=SETTINGS))
    assert (house.mode("casa"), house.mode("garage")) == ("armed_away", "disarmed")


def test_messages_name_the_area_that_was_armed() -> None:
    from alarms.messages import render
    from alarms.policy import Contact, Escalation, plan_notify

    house = House()
    effects = house.arm("away", areas=("garage",))
    [notify] = [e for e in effects if isinstance(e, Notify) and e.event == "armed_away"]
    contact = Contact(name="Anna", email="anna@example.org", language="it")
    messages = plan_notify(notify, house.state, [contact], Escalation())
    assert messages and all(m.params["area_name"] == "Garage" for m in messages), messages
    body = render(messages[0].template, "it", messages[0].params).body
    assert "nell'area Garage" in body, body
