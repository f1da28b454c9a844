"""Notification routing: channels, recipients and escalation steps for each Notify subject and Report."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest

from alarms.messages import EVENT_NAMES, SMS_LIMIT, TEMPLATE_KEYS, gsm7_length, gsm7_ok, render
from alarms.model import (
    ANOMALY_KINDS,
    INCIDENT_KINDS,
    Activation,
    Anomaly,
    AnomalyKind,
    Incident,
    IncidentKind,
    Notify,
    NotifySubject,
    Report,
    ReportCode,
    State,
    Zone,
)
from alarms.policy import CODE_GUESSING_EVENTS, Contact, Escalation, PlannedMessage, plan_notify, plan_report

ANNA = Contact(name="Anna", phone="+393331112222", email="anna@example.org", voice=True)
BEN = Contact(name="Ben", email="ben@example.org", language="en", push=False)
CARLA = Contact(name="Carla", phone="+393334445555")
CONTACTS = (ANNA, BEN, CARLA)
ESCALATION = Escalation(ack_timeout=90)
INCIDENT_SUBJECTS: tuple[NotifySubject, ...] = ("incident", "incident_update")

ZONES = {
    "z1": Zone(id="z1", name="Porta ingresso", kind="contact", behaviour="entry", room="Ingresso", device="zb:01"),
    "z2": Zone(id="z2", name="PIR soggiorno", kind="motion", behaviour="follower", room="Soggiorno", device="zb:02"),
    "z3": Zone(id="z3", name="Sensore lavatrice", kind="water", behaviour="24h", room="Bagno", device="zb:03"),
}


def incident(
    kind: IncidentKind = "intrusion", *, zones: tuple[str, ...] = ("z1",), confirmed: bool = False
) -> Incident:
    return Incident(
        id="i1",
        kind=kind,
        state="active",
        opened_at=1000.0,
        confirmed=confirmed,
        activations=tuple(Activation(zone=zone, at=1000.0 + n) for n, zone in enumerate(zones)),
    )


def state_with(*, incidents: tuple[Incident, ...] = (), anomalies: tuple[Anomaly, ...] = ()) -> State:
    return State(
        zones=ZONES,
        incidents={found.id: found for found in incidents},
        anomalies={found.id: found for found in anomalies},
    )


def channels(plan: list[PlannedMessage], step: int | None = None) -> list[tuple[str, str]]:
    return [(m.recipient, m.channel) for m in plan if step is None or m.step == step]


# --------------------------------------------------------------------------- incident


def test_new_incident_reaches_every_contact_on_every_channel_they_have() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1", zone="z1"), state, CONTACTS, ESCALATION)
    assert channels(plan, step=0) == [
        ("Anna", "sms"),
        ("Anna", "push"),
        ("Anna", "email"),
        ("Ben", "email"),
        ("Carla", "sms"),
        ("Carla", "push"),
    ]
    now = [m for m in plan if m.step == 0]
    assert all(m.delay == 0 and m.template == "incident.intrusion" for m in now)
    assert {m.address for m in now if m.channel == "sms"} == {ANNA.phone, CARLA.phone}
    assert {m.address for m in now if m.channel == "email"} == {ANNA.email, BEN.email}
    assert all(m.address is None for m in now if m.channel == "push")


def test_incident_escalation_ladder() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1", zone="z1"), state, CONTACTS, ESCALATION)
    reminders = [m for m in plan if m.step == 1]
    assert [(m.recipient, m.channel, m.address) for m in reminders] == [
        ("Anna", "sms", ANNA.phone),
        ("Carla", "sms", CARLA.phone),
    ]
    assert all(m.delay == 90 and m.template == "incident.reminder" for m in reminders)
    calls = [m for m in plan if m.step == 2]
    assert [(m.recipient, m.channel, m.address) for m in calls] == [("Anna", "voice", ANNA.phone)]
    assert calls[0].delay == 180 and calls[0].template == "incident.voice"
    assert all(m.incident == "i1" and m.anomaly is None for m in plan)


def test_default_ack_timeout_is_two_minutes() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, CONTACTS, Escalation())
    assert {m.delay for m in plan} == {0, 120, 240}


def test_escalation_templates_are_distinct() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, CONTACTS, ESCALATION)
    templates = {m.step: m.template for m in plan}
    assert len(set(templates.values())) == 3


def test_contact_without_phone_gets_no_sms_and_no_call() -> None:
    state = state_with(incidents=(incident(),))
    no_phone = Contact(name="Dario", email="dario@example.org", voice=True)
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, [no_phone], ESCALATION)
    assert channels(plan) == [("Dario", "push"), ("Dario", "email")]


def test_contact_with_nothing_gets_nothing() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, [Contact(name="X", push=False)], ESCALATION)
    assert plan == []


def test_ntfy_is_sent_once_to_the_household() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, CONTACTS, ESCALATION, ntfy=True)
    ntfy = [m for m in plan if m.channel == "ntfy"]
    assert len(ntfy) == 1
    assert ntfy[0].recipient == "household" and ntfy[0].address is None and ntfy[0].step == 0
    assert ntfy[0].template == "incident.intrusion"


def test_ntfy_without_contacts() -> None:
    state = state_with(incidents=(incident("water", zones=("z3",)),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, [], ESCALATION, ntfy=True)
    assert channels(plan) == [("household", "ntfy")]
    assert plan[0].language == "it"


@pytest.mark.parametrize("subject", INCIDENT_SUBJECTS)
def test_duress_never_reaches_the_household(subject: NotifySubject) -> None:
    state = state_with(incidents=(incident("duress", zones=()),))
    notify = Notify(subject=subject, incident="i1", by="user:anna")
    assert plan_notify(notify, state, CONTACTS, ESCALATION, ntfy=True) == []
    duress = incident("duress", zones=())
    assert plan_notify(notify, State(), CONTACTS, ESCALATION, ntfy=True, incident=duress) == []


def test_no_event_about_a_duress_incident_reaches_the_household() -> None:
    state = state_with(incidents=(incident("duress", zones=()),))
    for event in ("incident_acknowledged", "incident_resolved", "incident_cancelled"):
        notify = Notify(subject="event", event=event, incident="i1", by="user:anna")
        assert plan_notify(notify, state, CONTACTS, ESCALATION, ntfy=True) == []


def test_the_disarm_after_a_duress_code_looks_normal() -> None:
    state = state_with(incidents=(incident("duress", zones=()),))
    plan = plan_notify(Notify(subject="event", event="disarmed", by="user:anna"), state, CONTACTS, ESCALATION)
    assert {m.template for m in plan} == {"event.disarmed"}


def test_incident_params_name_the_zone_and_room() -> None:
    state = state_with(incidents=(incident("water", zones=("z3",)),))
    plan = plan_notify(Notify(subject="incident", incident="i1", zone="z3"), state, [ANNA], ESCALATION)
    params = plan[0].params
    assert params["zone"] == "Sensore lavatrice"
    assert params["room"] == "Bagno"
    assert params["zone_id"] == "z3"
    assert params["incident"] == "i1"
    assert params["incident_kind"] == "water"
    assert params["device"] == "zb:03"
    assert params["contact"] == "Anna"
    assert "time" not in params  # the shell adds it
    assert plan[0].template == "incident.water"


def test_incident_zone_defaults_to_the_first_activation() -> None:
    state = state_with(incidents=(incident(zones=("z2", "z1")),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, [ANNA], ESCALATION)
    assert plan[0].params["zone"] == "PIR soggiorno"


def test_removed_zone_shows_its_id() -> None:
    state = state_with(incidents=(incident(zones=("gone",)),))
    plan = plan_notify(Notify(subject="incident", incident="i1", zone="gone"), state, [ANNA], ESCALATION)
    assert plan[0].params["zone"] == "gone"


def test_unknown_incident_still_alerts_with_a_generic_text() -> None:
    plan = plan_notify(Notify(subject="incident", incident="i9"), State(), [ANNA], ESCALATION)
    assert channels(plan, step=0) == [("Anna", "sms"), ("Anna", "push"), ("Anna", "email")]
    assert plan[0].template == "incident.alarm"
    assert plan[0].params["incident"] == "i9"


def test_each_message_owns_its_params() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, CONTACTS, ESCALATION, ntfy=True)
    plan[0].params["time"] = "14:32"
    assert all("time" not in m.params for m in plan[1:])


def test_message_language_is_the_contacts() -> None:
    state = state_with(incidents=(incident(),))
    plan = plan_notify(Notify(subject="incident", incident="i1"), state, CONTACTS, ESCALATION)
    assert {m.recipient: m.language for m in plan} == {"Anna": "it", "Ben": "en", "Carla": "it"}


def test_plan_is_deterministic() -> None:
    state = state_with(incidents=(incident(),))
    notify = Notify(subject="incident", incident="i1", zone="z1")
    assert plan_notify(notify, state, CONTACTS, ESCALATION) == plan_notify(notify, state, CONTACTS, ESCALATION)


# --------------------------------------------------------------------------- incident update


def test_incident_update_is_push_only() -> None:
    state = state_with(incidents=(incident(zones=("z1", "z2"), confirmed=True),))
    plan = plan_notify(Notify(subject="incident_update", incident="i1", zone="z2"), state, CONTACTS, ESCALATION)
    assert channels(plan) == [("Anna", "push"), ("Carla", "push")]
    assert all(m.template == "incident.update" and m.step == 0 for m in plan)
    assert plan[0].params["zone"] == "PIR soggiorno"
    assert plan[0].params["zones"] == "2"
    assert plan[0].params["confirmed"] == "yes"
    with_ntfy = plan_notify(
        Notify(subject="incident_update", incident="i1", zone="z2"), state, CONTACTS, ESCALATION, ntfy=True
    )
    assert channels(with_ntfy)[-1] == ("household", "ntfy")


# --------------------------------------------------------------------------- anomalies


def anomaly(kind: AnomalyKind = "low_battery", *, device: str | None = None, subject: str | None = None) -> Anomaly:
    return Anomaly(id="a1", kind=kind, state="active", opened_at=1000.0, device=device, subject=subject)


def test_anomaly_goes_by_sms_push_and_email() -> None:
    state = state_with(anomalies=(anomaly(device="zb:02"),))
    plan = plan_notify(Notify(subject="anomaly", anomaly="a1"), state, CONTACTS, ESCALATION)
    assert channels(plan) == [
        ("Anna", "sms"),
        ("Anna", "push"),
        ("Anna", "email"),
        ("Ben", "email"),
        ("Carla", "sms"),
        ("Carla", "push"),
    ]
    assert all(m.step == 0 and m.delay == 0 and m.anomaly == "a1" for m in plan)
    assert plan[0].template == "anomaly.low_battery"
    params = plan[0].params
    assert params["anomaly_kind"] == "low_battery"
    assert params["device"] == "zb:02"
    assert params["zone"] == "PIR soggiorno"  # found through the device
    assert params["room"] == "Soggiorno"


def test_anomaly_of_unknown_device_names_the_device() -> None:
    state = state_with(anomalies=(anomaly("sensor_offline", device="zw:77"),))
    plan = plan_notify(Notify(subject="anomaly", anomaly="a1"), state, [ANNA], ESCALATION)
    assert plan[0].params["zone"] == "zw:77"


def test_channel_failure_names_the_channel() -> None:
    state = state_with(anomalies=(anomaly("channel_failure", subject="email"),))
    plan = plan_notify(Notify(subject="anomaly", anomaly="a1"), state, [ANNA], ESCALATION)
    assert plan[0].params["channel"] == "email"
    assert "email" in render(plan[0].template, plan[0].language, plan[0].params).subject


def test_cleared_anomaly_goes_by_push_and_email() -> None:
    cleared = anomaly("sensor_offline", device="zb:01")
    plan = plan_notify(
        Notify(subject="anomaly_cleared", anomaly="a1"), State(zones=ZONES), CONTACTS, ESCALATION, anomaly=cleared
    )
    assert channels(plan) == [("Anna", "push"), ("Anna", "email"), ("Ben", "email"), ("Carla", "push")]
    assert all(m.template == "anomaly.sensor_offline.cleared" for m in plan)
    assert plan[0].params["zone"] == "Porta ingresso"


def test_anomaly_no_longer_known_gets_a_generic_text() -> None:
    raised = plan_notify(Notify(subject="anomaly", anomaly="a9"), State(), [ANNA], ESCALATION)
    assert {m.template for m in raised} == {"anomaly.other"}
    cleared = plan_notify(Notify(subject="anomaly_cleared", anomaly="a9"), State(), [ANNA], ESCALATION)
    assert {m.template for m in cleared} == {"anomaly.other.cleared"}


# --------------------------------------------------------------------------- events


@pytest.mark.parametrize("event", sorted(EVENT_NAMES - CODE_GUESSING_EVENTS))
def test_events_are_push_only(event: str) -> None:
    plan = plan_notify(Notify(subject="event", event=event, zone="z1", by="Anna"), state_with(), CONTACTS, ESCALATION)
    assert channels(plan) == [("Anna", "push"), ("Carla", "push")]
    assert all(m.template == f"event.{event}" for m in plan)
    assert plan[0].params["user"] == "Anna"


def test_wrong_codes_go_by_sms_push_and_email() -> None:
    """Someone guessing the alarm code is told like a fault: every channel each contact has."""
    n = Notify(subject="event", event="wrong_codes", by="MQTT (Home Assistant)")
    plan = plan_notify(n, state_with(), CONTACTS, ESCALATION, ntfy=True)
    assert channels(plan) == [
        ("Anna", "sms"),
        ("Anna", "push"),
        ("Anna", "email"),
        ("Ben", "email"),
        ("Carla", "sms"),
        ("Carla", "push"),
        ("household", "ntfy"),
    ]
    assert {m.template for m in plan} == {"event.wrong_codes"} and all(m.step == 0 for m in plan)
    assert plan[0].params["user"] == "MQTT (Home Assistant)"
    text = render("event.wrong_codes", "it", {**plan[0].params, "time": "03:12"}).short
    assert "10 codici" in text and "MQTT (Home Assistant)" in text and "03:12" in text


def test_unknown_event_gets_the_generic_text() -> None:
    plan = plan_notify(Notify(subject="event", event="zone_opened"), state_with(), [ANNA], ESCALATION, ntfy=True)
    assert {m.template for m in plan} == {"event.other"}
    assert plan[0].params["event"] == "zone_opened"
    assert channels(plan) == [("Anna", "push"), ("household", "ntfy")]


# --------------------------------------------------------------------------- centre


def test_report_goes_to_the_centre() -> None:
    state = state_with(incidents=(incident(),))
    message = plan_report(Report(code="burglary", zone="z1", incident="i1", user="Anna"), state)
    assert message.channel == "centre" and message.recipient == "centre" and message.address is None
    assert message.template == "centre.burglary"
    assert message.language == "it"
    assert message.step == 0 and message.delay == 0
    assert message.incident == "i1"
    assert message.params == {
        "code": "burglary",
        "restore": "no",
        "zone_id": "z1",
        "zone": "Porta ingresso",
        "room": "Ingresso",
        "device": "zb:01",
        "incident": "i1",
        "incident_kind": "intrusion",
        "user": "Anna",
    }


def test_restore_report_and_account_language() -> None:
    message = plan_report(Report(code="ac_loss", restore=True), State(), account_language="en")
    assert message.params == {"code": "ac_loss", "restore": "yes"}
    assert message.language == "en"
    assert render(message.template, message.language, message.params).body == "Restore: AC power loss"


def test_duress_is_reported_to_the_centre() -> None:
    state = state_with(incidents=(incident("duress", zones=()),))
    message = plan_report(Report(code="duress", incident="i1", user="user:anna"), state)
    assert message.template == "centre.duress"


# --------------------------------------------------------------------------- every plan renders


def all_plans() -> list[PlannedMessage]:
    everyone = [*CONTACTS, Contact(name="Eve", phone="+3939", email="e@example.org", language="en", voice=True)]
    plans: list[PlannedMessage] = []
    for kind in INCIDENT_KINDS:
        state = state_with(incidents=(incident(kind, zones=("z1", "z2")),))
        for subject in INCIDENT_SUBJECTS:
            notify = Notify(subject=subject, incident="i1", zone="z1")
            plans += plan_notify(notify, state, everyone, ESCALATION, ntfy=True)
        plans += plan_notify(
            Notify(subject="event", event="incident_cancelled", incident="i1"), state, everyone, ESCALATION
        )
    for anomaly_kind in ANOMALY_KINDS:
        device = "zb:03" if anomaly_kind in ("sensor_offline", "low_battery") else None
        found = anomaly(anomaly_kind, device=device)
        state = state_with(anomalies=(found,))
        plans += plan_notify(Notify(subject="anomaly", anomaly="a1"), state, everyone, ESCALATION, ntfy=True)
        plans += plan_notify(
            Notify(subject="anomaly_cleared", anomaly="a1"), State(zones=ZONES), everyone, ESCALATION, anomaly=found
        )
    for event in [*EVENT_NAMES, "something_new"]:
        plans += plan_notify(
            Notify(subject="event", event=event, zone="z2", by="Anna"), state_with(), everyone, ESCALATION, ntfy=True
        )
    state = state_with(incidents=(incident(),))
    for code in get_args(ReportCode):
        for restore in (False, True):
            plans.append(plan_report(Report(code=code, restore=restore, zone="z1", incident="i1"), state))
    return plans


def test_every_template_the_policy_plans_exists() -> None:
    used = {m.template for m in all_plans()}
    assert used <= TEMPLATE_KEYS, sorted(used - TEMPLATE_KEYS)
    assert "incident.duress" not in used  # only the centre speaks of duress


def test_every_planned_message_renders_and_every_sms_fits() -> None:
    for message in all_plans():
        rendered = render(message.template, message.language, {**message.params, "time": "14:32"})
        assert rendered.subject and rendered.body and rendered.short
        if message.channel in ("sms", "gsm"):
            assert gsm7_ok(rendered.short)
            assert gsm7_length(rendered.short) <= SMS_LIMIT, rendered.short


# --------------------------------------------------------------------------- config values


def test_contact_decodes_from_config_and_rejects_typos() -> None:
    contact = msgspec.convert({"name": "Anna", "phone": "+39333", "language": "en", "voice": True}, Contact)
    assert contact == Contact(name="Anna", phone="+39333", language="en", voice=True)
    assert contact.push is True and contact.email is None
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"name": "Anna", "phon": "+39333"}, Contact)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"name": "Anna", "language": "de"}, Contact)


def test_escalation_timeout_must_be_positive() -> None:
    assert msgspec.convert({}, Escalation).ack_timeout == 120
    with pytest.raises(ValueError, match="ack_timeout"):
        Escalation(ack_timeout=0)
    with pytest.raises(msgspec.ValidationError, match="ack_timeout"):
        msgspec.convert({"ack_timeout": -5}, Escalation)
