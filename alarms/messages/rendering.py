"""Rendering: a template key, a language and the parameters in; subject, body and SMS text out.

Parameters (all strings, all optional) come from `alarms.policy`: zone (name), zone_id, room,
device, user, incident, incident_kind, confirmed ("yes"/"no"), zones (count), anomaly,
anomaly_kind, channel, event, code, restore ("yes"/"no"); the shell adds `time`, already
formatted. Phrases such as "{where}" or "{at}" are derived here from those parameters so that an
absent room or time leaves no empty brackets.
"""

from __future__ import annotations

from collections.abc import Mapping

from alarms.manual import manual_entry, manual_steps
from alarms.messages.centre import CENTRE_TEMPLATES
from alarms.messages.events import EVENT_TEMPLATES, TEST_TEMPLATES
from alarms.messages.faults import ANOMALY_TEMPLATES, TEMPLATE_ANOMALY
from alarms.messages.gsm7 import to_gsm7
from alarms.messages.incidents import ALARMS, INCIDENT_TEMPLATES
from alarms.messages.schedules import SCHEDULE_TEMPLATES, schedule_phrases
from alarms.messages.text import DEFAULT_LANGUAGE, LANGUAGES, MISSING, Text
from alarms.messages.words import CHANNEL_LABEL, INCIDENT_LABEL, WORDS, Words
from alarms.model import ANOMALY_KINDS, INCIDENT_KINDS, AnomalyKind, IncidentKind, Struct


class Rendered(Struct, frozen=True):
    subject: str
    body: str
    short: str


TEMPLATES: dict[str, dict[str, Text]] = {
    **INCIDENT_TEMPLATES,
    **ANOMALY_TEMPLATES,
    **EVENT_TEMPLATES,
    **SCHEDULE_TEMPLATES,
    **TEST_TEMPLATES,
    **CENTRE_TEMPLATES,
}
TEMPLATE_KEYS: frozenset[str] = frozenset(TEMPLATES)


class _Values(dict[str, str]):
    """Template values where a missing name reads as "?" instead of raising."""

    def __missing__(self, key: str) -> str:
        return MISSING


def normalise_language(language: str) -> str:
    """Language code of a contact or account ("en", "EN", "en-GB" -> "en"); one without texts -> Italian."""
    code = language.strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def render(template: str, language: str, params: Mapping[str, str]) -> Rendered:
    """The message `template` in `language` with `params` filled in.

    Raises KeyError for a template key that does not exist (a bug in the caller, not bad data).
    """
    texts = TEMPLATES.get(template)
    if texts is None:
        raise KeyError(f"unknown message template {template!r}: it is not one of alarms.messages.TEMPLATE_KEYS")
    language = normalise_language(language)
    text = texts[language]
    values = _Values(_derived(template, language, params))
    values.update({key: str(value) for key, value in params.items()})
    return Rendered(
        subject=text.subject.format_map(values),
        body=text.body.format_map(values),
        short=to_gsm7(text.short.format_map(values)),
    )


def _derived(template: str, language: str, params: Mapping[str, str]) -> dict[str, str]:
    """The phrases built from the raw parameters (a given parameter of the same name wins)."""
    words = WORDS[language]
    zone = params.get("zone") or ""
    room = params.get("room") or ""
    time = params.get("time") or ""
    user = params.get("user") or ""
    if zone and room and room.casefold() != zone.casefold():
        where, where_spoken = f"{zone} ({room})", f"{zone}, {room}"
    else:
        where = where_spoken = zone or room or MISSING

    values = {
        "where": where,
        "where_spoken": f", {words.zone} {where_spoken}" if where_spoken != MISSING else "",
        "at": f" {words.at} {time}" if time else "",
        # Arming and disarming one area of several name it before who did it.
        "by_user": (f" {words.in_area} {area}" if (area := params.get("area_name")) else "")
        + (f" {words.by} {user}" if user else ""),
        "confirmed_note": words.confirmed if params.get("confirmed") == "yes" else "",
        "restore_label": words.restore if params.get("restore") == "yes" else "",
        "centre_detail": _centre_detail(words, params, where),
    }

    incident_kind = _incident_kind(params.get("incident_kind"))
    if incident_kind is not None:
        values["incident_label"] = INCIDENT_LABEL[incident_kind][language]
        values["incident_title"] = values["incident_label"].capitalize()
        alarm = ALARMS.get(incident_kind, {}).get(language)
        values["advice"] = "\n".join(f"- {step}" for step in alarm.steps) if alarm else ""
    else:
        values["advice"] = ""

    channel = params.get("channel")
    if channel:
        values["channel_name"] = CHANNEL_LABEL.get(channel, {}).get(language, channel)

    anomaly_kind = TEMPLATE_ANOMALY.get(template) or _anomaly_kind(params.get("anomaly_kind"))
    if anomaly_kind is not None:
        values["anomaly_label"] = manual_entry(anomaly_kind, language).title
        values["manual"] = manual_steps(anomaly_kind, language)
    if template in SCHEDULE_TEMPLATES:
        values.update(schedule_phrases(language, params))
    return values


def _centre_detail(words: Words, params: Mapping[str, str], where: str) -> str:
    parts: list[str] = []
    zone_id = params.get("zone_id")
    if zone_id and where != MISSING and where != zone_id:
        parts.append(f"{words.zone} {zone_id} {where}")
    elif zone_id or where != MISSING:
        parts.append(f"{words.zone} {zone_id or where}")
    if params.get("user"):
        parts.append(f"{words.user} {params['user']}")
    if params.get("incident"):
        parts.append(f"{words.incident} {params['incident']}")
    return "".join(f" - {part}" for part in parts)


def _incident_kind(value: str | None) -> IncidentKind | None:
    for kind in INCIDENT_KINDS:
        if kind == value:
            return kind
    return None


def _anomaly_kind(value: str | None) -> AnomalyKind | None:
    for kind in ANOMALY_KINDS:
        if kind == value:
            return kind
    return None
