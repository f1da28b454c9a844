"""Exclusions in the engine and the policy: inhibit, open_at_arming, isolate, auto."""

from __future__ import annotations

from alarms.engine import next_deadline
from alarms.model import (
    Exclusion,
    IncidentOpened,
    LogEvent,
    Notify,
    Report,
    ZoneExclude,
    ZoneInclude,
    ZoneUpsert,
)
from alarms.policy import Contact, Escalation, plan_notify
from tests.unit.test_engine import kit, of

HOUR = 3600.0
CONTACTS = (Contact(name="Anna", phone="+393331234567", email="anna@example.org"),)


def test_a_smoke_zone_cannot_be_inhibited() -> None:
    hub = kit()
    effects = hub.feed(ZoneExclude(zone="smoke", how="inhibit", by="luca"))
    assert effects == [LogEvent(kind="exclusion_refused", zone="smoke", by="luca", detail="24h_zone")]
    assert hub.state.zones["smoke"].excluded is None
    assert of(hub.open("smoke", at=10), IncidentOpened)


def test_an_inhibit_lasts_one_armed_period() -> None:
    hub = kit()
    hub.feed(ZoneExclude(zone="cam", how="inhibit", by="luca"), at=0)
    hub.arm("away", at=10)
    hub.tick(40)
    assert hub.open("cam", at=50) == []  # inhibited: no alarm
    effects = hub.disarm(at=60)
    assert LogEvent(kind="zone_included", zone="cam", detail="disarm") in effects
    assert Report(code="bypass", restore=True, zone="cam") in effects
    assert Notify(subject="event", event="zone_included", zone="cam", detail="disarm") in effects
    assert hub.state.zones["cam"].excluded is None


def test_nothing_is_excluded_while_armed() -> None:
    hub = kit()
    hub.arm("away", at=0)
    for how, hours in (("inhibit", None), ("isolate", 2.0)):
        effects = hub.feed(ZoneExclude(zone="cam", how=how, by="anna", reason="x", hours=hours))  # type: ignore[arg-type]
        assert effects == [LogEvent(kind="exclusion_refused", zone="cam", by="anna", detail="not_disarmed")]


def test_an_isolated_smoke_zone_raises_nothing_and_comes_back_by_itself() -> None:
    hub = kit()
    effects = hub.feed(ZoneExclude(zone="smoke", how="isolate", by="anna", reason="works", hours=2), at=100)
    assert hub.state.zones["smoke"].excluded == Exclusion(
        how="isolate", by="anna", reason="works", until=100 + 2 * HOUR
    )
    assert Report(code="bypass", zone="smoke", user="anna") in effects
    assert Notify(subject="event", event="zone_excluded", zone="smoke", by="anna", detail="isolate") in effects
    assert next_deadline(hub.state) == 100 + 2 * HOUR
    hub.arm("away", at=200)
    hub.disarm(at=300)
    assert hub.state.zones["smoke"].excluded is not None  # an isolation survives disarm
    assert hub.open("smoke", at=400) == []
    effects = hub.tick(100 + 2 * HOUR)
    assert LogEvent(kind="zone_included", zone="smoke", detail="expired") in effects
    assert Report(code="bypass", restore=True, zone="smoke") in effects
    # the smoke is still there when the isolation ends: the fire alarm goes off now
    (opened,) = of(effects, IncidentOpened)
    assert opened.incident.kind == "fire"


def test_a_24h_zone_is_isolated_for_at_most_a_day_and_others_for_30_days() -> None:
    hub = kit()
    effects = hub.feed(ZoneExclude(zone="water", how="isolate", by="anna", reason="x", hours=25))
    assert effects == [LogEvent(kind="exclusion_refused", zone="water", by="anna", detail="too_long")]
    hub.feed(ZoneExclude(zone="cam", how="isolate", by="anna", reason="broken", hours=720), at=0)
    assert hub.state.zones["cam"].excluded is not None


def test_an_isolation_is_renewable_and_a_restore_ends_it() -> None:
    hub = kit()
    hub.feed(ZoneExclude(zone="water", how="isolate", by="anna", reason="x", hours=1), at=0)
    hub.feed(ZoneExclude(zone="water", how="isolate", by="anna", reason="x", hours=24), at=HOUR / 2)
    assert next_deadline(hub.state) == HOUR / 2 + 24 * HOUR
    effects = hub.feed(ZoneInclude(zone="water", by="anna"), at=HOUR)
    assert LogEvent(kind="zone_included", zone="water", by="anna", detail="user") in effects
    assert hub.state.zones["water"].excluded is None and next_deadline(hub.state) is None


def test_an_isolation_is_never_turned_into_an_inhibit() -> None:
    hub = kit()
    hub.feed(ZoneExclude(zone="cam", how="isolate", by="anna", reason="x", hours=720), at=0)
    effects = hub.feed(ZoneExclude(zone="cam", how="inhibit", by="luca"))
    assert effects == [LogEvent(kind="exclusion_refused", zone="cam", by="luca", detail="already_excluded")]


def test_a_zone_made_24h_keeps_no_inhibit_and_at_most_a_day_of_isolation() -> None:
    hub = kit()
    hub.feed(ZoneExclude(zone="hall", how="inhibit", by="luca"), at=0)
    hub.feed(ZoneUpsert(id="hall", name="hall", kind="motion", behaviour="24h", device="d-hall"), at=10)
    assert hub.state.zones["hall"].excluded is None
    hub.feed(ZoneUpsert(id="cam", name="cam", kind="camera", behaviour="instant", device="d-cam"))
    hub.feed(ZoneExclude(zone="cam", how="isolate", by="anna", reason="x", hours=700), at=20)
    hub.feed(ZoneUpsert(id="cam", name="cam", kind="camera", behaviour="24h", device="d-cam"), at=30)
    excluded = hub.state.zones["cam"].excluded
    assert excluded is not None and excluded.until == 30 + 24 * HOUR


def test_exclusions_of_24h_zones_go_by_sms_too() -> None:
    hub = kit()
    effects = hub.feed(ZoneExclude(zone="smoke", how="isolate", by="anna", reason="Lavori", hours=3), at=0)
    (notify,) = of(effects, Notify)
    plan = plan_notify(notify, hub.state, CONTACTS, Escalation())
    assert sorted(m.channel for m in plan) == ["email", "push", "sms"]
    assert {m.template for m in plan} == {"event.zone_excluded.isolate"}
    assert plan[0].params["reason"] == "Lavori" and plan[0].params["until_ts"] == f"{3 * HOUR:.0f}"


def test_exclusions_of_intrusion_zones_go_by_push_and_email() -> None:
    hub = kit()
    hub.open("door")
    effects = hub.arm("away", force=True, at=0)
    (notify,) = (n for n in of(effects, Notify) if n.event == "zone_excluded")
    plan = plan_notify(notify, hub.state, CONTACTS, Escalation())
    assert sorted(m.channel for m in plan) == ["email", "push"]
    assert {m.template for m in plan} == {"event.zone_excluded.open_at_arming"}
    effects = hub.close("door", at=5)
    (notify,) = of(effects, Notify)
    assert {m.template for m in plan_notify(notify, hub.state, CONTACTS, Escalation())} == {
        "event.zone_included.closed"
    }


def test_the_armed_message_names_the_excluded_zones_instead_of_all_zones_active() -> None:
    hub = kit()
    hub.open("door")
    effects = hub.arm("away", force=True, at=0)
    effects += hub.tick(30)
    (armed,) = (n for n in of(effects, Notify) if n.event == "armed_away")
    (message,) = plan_notify(armed, hub.state, (Contact(name="Anna"),), Escalation())
    assert message.template == "event.armed_away.excluded" and message.params["excluded"] == "door"
    hub.close("door", at=40)
    hub.disarm(at=50)
    effects = hub.arm("away", at=60) + hub.tick(90)
    (armed,) = (n for n in of(effects, Notify) if n.event == "armed_away")
    (message,) = plan_notify(armed, hub.state, (Contact(name="Anna"),), Escalation())
    assert message.template == "event.armed_away"
