"""Notification routing: which messages a Notify or Report effect becomes, on which channel, to whom, when.

Theory of operation. The engine says *that* the household or the centre must be told
(`Notify`, `Report`); this module decides *how*, following the README's "Notifications and the assistance centre":

    subject           step 0 (now)                                  later steps
    ----------------  --------------------------------------------  ------------------------------------
    incident          sms + push + email to every contact, ntfy     1: reminder SMS at ack_timeout
                                                                    2: voice call at 2 * ack_timeout
    incident_update   push to every contact, ntfy                   -
    anomaly           sms + push + email to every contact, ntfy     -
    anomaly_cleared   push + email to every contact, ntfy           -
    event             push to every contact, ntfy                   -
    event wrong_codes sms + push + email to every contact, ntfy     -
    event valve_*     sms + push + email to every contact, ntfy     -

A channel is planned for a contact only when the contact has it (a phone for sms and voice,
an email address, `push`, `voice`). ntfy is one household topic, planned once. The centre is
not a contact: `plan_report` turns each `Report` into one message on the `centre` channel.

A duress incident never reaches the household, on any step: whoever typed the duress code may
be next to the intruder and their phone must stay quiet. Only the centre hears of it.

Escalation steps are planned up front with their delay; the shell stores them as scheduled
messages and drops the ones still pending when the engine emits `CancelEscalation` for the
incident (an acknowledgement). Nothing here reads a clock or does I/O: the same inputs always
give the same plan, so it can be tested exhaustively and replayed.

Templates are keys of `alarms.messages.TEMPLATES`; parameters are strings. The shell adds
`params["time"]`, already formatted in the household's time zone, before rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, assert_never, get_args

from alarms.messages import EVENT_NAMES, Language
from alarms.model import ARM_TARGETS, Anomaly, Incident, Notify, Report, State, Struct

ARMED_EVENTS = frozenset(f"armed_{target}" for target in ARM_TARGETS)

Channel = Literal["sms", "email", "push", "ntfy", "voice", "gsm", "centre"]
# Every channel in the Literal's order: the order the registry, /metrics, the commissioning
# report and `casahub doctor --send-test` list them in.
CHANNELS: tuple[Channel, ...] = get_args(Channel)

HOUSEHOLD = "household"  # the recipient of the one ntfy message per notification
CENTRE = "centre"
# Events told on every channel, like an anomaly: someone guessing the alarm code (hub/core/throttle.py
# raises it); a water alarm shutting the water off, or the owner opening it again, like the water
# alarm they follow (alarms/output_rules.py).
EVERY_CHANNEL_EVENTS = frozenset({"wrong_codes", "valve_closed", "valve_opened"})
CODE_GUESSING_EVENTS = EVERY_CHANNEL_EVENTS  # its older name, kept for importers


class Contact(Struct, frozen=True):
    """A member of the household (or a neighbour) to be notified; from the `[[contacts]]` config."""

    name: str
    phone: str | None = None  # E.164, for sms and voice
    email: str | None = None
    language: Language = "it"
    push: bool = True  # has the dashboard app with push notifications
    voice: bool = False  # wants a voice call as the last escalation step


class Escalation(Struct, frozen=True):
    """The `[escalation]` config: how long the household has to acknowledge before the next step."""

    ack_timeout: float = 120

    def __post_init__(self) -> None:
        if not self.ack_timeout > 0:
            raise ValueError(f"escalation.ack_timeout must be a positive number of seconds, got {self.ack_timeout}")


class PlannedMessage(Struct, frozen=True):
    """One message to send: now (`delay` 0) or as escalation step `step` after `delay` seconds."""

    channel: Channel
    recipient: str  # contact name, "household" (ntfy) or "centre"
    address: str | None  # phone or email address; None for push, ntfy and centre
    language: str
    template: str
    params: dict[str, str]
    delay: float = 0
    step: int = 0
    incident: str | None = None
    anomaly: str | None = None


STEP_NOW = 0
STEP_REMINDER = 1
STEP_VOICE = 2


def plan_notify(
    n: Notify,
    state: State,
    contacts: Sequence[Contact],
    escalation: Escalation,
    *,
    ntfy: bool = False,
    incident: Incident | None = None,
    anomaly: Anomaly | None = None,
) -> list[PlannedMessage]:
    """The messages that tell the household about `n`, in sending order.

    `state` is the engine state after the step that produced `n`. `incident` / `anomaly` may be
    passed when they are no longer in `state` (an anomaly that was just cleared is removed from
    `state.anomalies`; the shell has it from the `AnomalyCleared` effect of the same step).
    """
    found = incident or _incident(state, n.incident)
    if found is not None and found.kind == "duress":
        return []  # whatever the subject: the household's phones stay quiet about a duress code
    match n.subject:
        case "incident":
            params = _incident_params(n, state, found)
            template = f"incident.{found.kind}" if found is not None else "incident.alarm"
            plan = _plan(contacts, template, params, n, ntfy, sms=True, push=True, email=True)
            delay = escalation.ack_timeout
            plan += [
                _message(contact, "sms", contact.phone, "incident.reminder", params, n, delay, STEP_REMINDER)
                for contact in contacts
                if contact.phone
            ]
            plan += [
                _message(contact, "voice", contact.phone, "incident.voice", params, n, 2 * delay, STEP_VOICE)
                for contact in contacts
                if contact.voice and contact.phone
            ]
            return plan
        case "incident_update":
            params = _incident_params(n, state, found)
            return _plan(contacts, "incident.update", params, n, ntfy, push=True)
        case "anomaly":
            found_anomaly = anomaly or _anomaly(state, n.anomaly)
            params = _anomaly_params(n, state, found_anomaly)
            template = f"anomaly.{found_anomaly.kind}" if found_anomaly is not None else "anomaly.other"
            return _plan(contacts, template, params, n, ntfy, sms=True, push=True, email=True)
        case "anomaly_cleared":
            found_anomaly = anomaly or _anomaly(state, n.anomaly)
            params = _anomaly_params(n, state, found_anomaly)
            kind = found_anomaly.kind if found_anomaly is not None else "other"
            template = f"anomaly.{kind}.cleared"
            return _plan(contacts, template, params, n, ntfy, push=True, email=True)
        case "event" if n.event in EXCLUSION_EVENTS:
            return _plan_exclusion(n, state, contacts, ntfy)
        case "event":
            params = _event_params(n, state, found)
            template = f"event.{n.event}" if n.event in EVENT_NAMES else "event.other"
            excluded = sorted(z.name or z.id for z in state.zones.values() if z.excluded is not None)
            if n.event in ARMED_EVENTS and excluded:
                # "All zones are active" would be a lie: name the ones that are not.
                template = f"event.{n.event}.excluded"
                params["excluded"] = ", ".join(excluded)
            if n.event in EVERY_CHANNEL_EVENTS:
                return _plan(contacts, template, params, n, ntfy, sms=True, push=True, email=True)
            return _plan(contacts, template, params, n, ntfy, push=True)
        case _:
            assert_never(n.subject)


def plan_report(r: Report, state: State, account_language: str = "it") -> PlannedMessage:
    """The message for the assistance centre; its text is the one-line log of the report.

    The centre transport (DC-09 or webhook) encodes `params["code"]` and the rest itself; the
    rendered text is for the `log` transport and the event log.
    """
    params: dict[str, str] = {"code": r.code, "restore": "yes" if r.restore else "no"}
    params.update(_zone_params(state, r.zone))
    if r.incident is not None:
        params["incident"] = r.incident
        found = state.incidents.get(r.incident)
        if found is not None:
            params["incident_kind"] = found.kind
    if r.user is not None:
        params["user"] = r.user
    return PlannedMessage(
        channel="centre",
        recipient=CENTRE,
        address=None,
        language=account_language,
        template=f"centre.{r.code}",
        params=params,
        incident=r.incident,
    )


def plan_photos(
    incident: Incident, photos: int, contacts: Sequence[Contact], *, centre: bool, account_language: str = "it"
) -> list[PlannedMessage]:
    """The follow-up with the camera frames after an alarm: an email to every contact that has an
    address, and (`centre`: a webhook centre, which can carry pictures) one message to the centre.
    A duress incident's pictures go to the centre only, like everything else about it."""
    params = {"incident": incident.id, "incident_kind": incident.kind, "photos": str(photos)}
    n = Notify(subject="incident", incident=incident.id)
    plan: list[PlannedMessage] = []
    if incident.kind != "duress":
        plan += [
            _message(contact, "email", contact.email, "incident.photos", params, n)
            for contact in contacts
            if contact.email
        ]
    if centre:
        plan.append(
            PlannedMessage(
                channel="centre",
                recipient=CENTRE,
                address=None,
                language=account_language,
                template="incident.photos",
                params=dict(params),
                incident=incident.id,
            )
        )
    return plan


# --------------------------------------------------------------------------- planning

EXCLUSION_EVENTS = frozenset({"zone_excluded", "zone_included"})


def _plan_exclusion(n: Notify, state: State, contacts: Sequence[Contact], ntfy: bool) -> list[PlannedMessage]:
    """A zone left or rejoined protection: push and email, and SMS too for a 24h zone (smoke,
    water, power, panic), whose exclusion means a fire or a leak there would raise nothing."""
    params = _event_params(n, state, None)
    zone = state.zones.get(n.zone or "")
    detail = n.detail or ("user" if n.event == "zone_included" else "inhibit")
    if zone is not None and zone.excluded is not None and n.event == "zone_excluded":
        if zone.excluded.how == "open_at_arming" and zone.excluded.reason != "open":
            detail = "open_at_arming_fault"
        if zone.excluded.reason:
            params["reason"] = zone.excluded.reason
        if zone.excluded.until is not None:
            params["until_ts"] = f"{zone.excluded.until:.0f}"  # the shell formats it in the hub's time zone
    template = f"event.{n.event}.{detail}"
    if template.removeprefix("event.") not in EVENT_NAMES:
        template = "event.other"
    sms = zone is not None and zone.behaviour == "24h"
    return _plan(contacts, template, params, n, ntfy, sms=sms, push=True, email=True)


def _plan(
    contacts: Sequence[Contact],
    template: str,
    params: dict[str, str],
    n: Notify,
    ntfy: bool,
    *,
    sms: bool = False,
    push: bool = False,
    email: bool = False,
) -> list[PlannedMessage]:
    """Step 0 for every contact: sms, push, email (those asked for and that the contact has), then ntfy."""
    plan: list[PlannedMessage] = []
    for contact in contacts:
        if sms and contact.phone:
            plan.append(_message(contact, "sms", contact.phone, template, params, n))
        if push and contact.push:
            plan.append(_message(contact, "push", None, template, params, n))
        if email and contact.email:
            plan.append(_message(contact, "email", contact.email, template, params, n))
    if ntfy:
        language = contacts[0].language if contacts else "it"
        plan.append(
            PlannedMessage(
                channel="ntfy",
                recipient=HOUSEHOLD,
                address=None,
                language=language,
                template=template,
                params=dict(params),
                incident=n.incident,
                anomaly=n.anomaly,
            )
        )
    return plan


def _message(
    contact: Contact,
    channel: Channel,
    address: str | None,
    template: str,
    params: dict[str, str],
    n: Notify,
    delay: float = 0,
    step: int = STEP_NOW,
) -> PlannedMessage:
    return PlannedMessage(
        channel=channel,
        recipient=contact.name,
        address=address,
        language=contact.language,
        template=template,
        params={**params, "contact": contact.name},  # each message owns its params: the shell adds "time"
        delay=delay,
        step=step,
        incident=n.incident,
        anomaly=n.anomaly,
    )


# --------------------------------------------------------------------------- parameters


def _incident(state: State, incident_id: str | None) -> Incident | None:
    return state.incidents.get(incident_id) if incident_id is not None else None


def _anomaly(state: State, anomaly_id: str | None) -> Anomaly | None:
    return state.anomalies.get(anomaly_id) if anomaly_id is not None else None


def _zone_params(state: State, zone_id: str | None) -> dict[str, str]:
    """zone_id, zone (its name), room and device; a zone no longer configured shows its id. The
    faults of a device with outputs only name an output where a sensor's name a zone."""
    if zone_id is None:
        return {}
    params = {"zone_id": zone_id}
    zone = state.zones.get(zone_id)
    if zone is None and zone_id in state.outputs:
        return {**params, **_output_params(state, zone_id)}
    if zone is None:
        params["zone"] = zone_id
        return params
    params["zone"] = zone.name or zone_id
    if zone.room:
        params["room"] = zone.room
    if zone.device:
        params["device"] = zone.device
    return params


def _output_params(state: State, output_id: str) -> dict[str, str]:
    """output_id, and the output's name, room and device as zone, room and device ("{where}")."""
    params = {"output_id": output_id, "zone": output_id}
    output = state.outputs.get(output_id)
    if output is not None:
        params["zone"] = output.name or output_id
        if output.room:
            params["room"] = output.room
        if output.device:
            params["device"] = output.device
    return params


def _incident_params(n: Notify, state: State, incident: Incident | None) -> dict[str, str]:
    zone_id = n.zone
    if zone_id is None and incident is not None and incident.activations:
        zone_id = incident.activations[0].zone
    params = _zone_params(state, zone_id)
    if n.incident is not None:
        params["incident"] = n.incident
    if incident is not None:
        params["incident"] = incident.id
        params["incident_kind"] = incident.kind
        params["confirmed"] = "yes" if incident.confirmed else "no"
        params["zones"] = str(len({activation.zone for activation in incident.activations}))
    if n.by is not None:
        params["user"] = n.by
    return params


def _anomaly_params(n: Notify, state: State, anomaly: Anomaly | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if anomaly is not None:
        params["anomaly"] = anomaly.id
        params["anomaly_kind"] = anomaly.kind
        if anomaly.kind == "output_failure" and anomaly.subject is not None:
            params.update(_output_params(state, anomaly.subject))
            if anomaly.device is not None:
                params["device"] = anomaly.device
        elif anomaly.device is not None:
            zone_id = n.zone or _zone_of_device(state, anomaly.device)
            params.update(_zone_params(state, zone_id))
            params.setdefault("zone", anomaly.device)
            params["device"] = anomaly.device
        if anomaly.subject is not None:
            params["subject"] = anomaly.subject
            if anomaly.kind == "channel_failure":
                params["channel"] = anomaly.subject
    else:
        params.update(_zone_params(state, n.zone))
        if n.anomaly is not None:
            params["anomaly"] = n.anomaly
    if n.by is not None:
        params["user"] = n.by
    return params


def _event_params(n: Notify, state: State, incident: Incident | None) -> dict[str, str]:
    params = _zone_params(state, n.zone)
    if n.output is not None:
        params.update(_output_params(state, n.output))
    if n.event is not None:
        params["event"] = n.event
    if n.incident is not None:
        params["incident"] = n.incident
    if incident is not None:
        params["incident_kind"] = incident.kind
    if n.by is not None:
        params["user"] = n.by
    if n.area is not None and (area := state.settings.area(n.area)) is not None:
        params["area_name"] = area.name
    return params


def _zone_of_device(state: State, device: str) -> str | None:
    """The device's first zone, else its first output (alarms/engine.py names faults so)."""
    for zone_id, zone in sorted(state.zones.items()):
        if zone.device == device:
            return zone_id
    for output_id, output in sorted(state.outputs.items()):
        if output.device == device:
            return output_id
    return None
