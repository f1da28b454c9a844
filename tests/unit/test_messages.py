"""Message texts: every template renders in every language, SMS texts fit one GSM-7 SMS, manuals exist."""

from __future__ import annotations

from typing import get_args

import pytest

from alarms.manual import MANUAL, manual_entry, manual_text
from alarms.messages import (
    LANGUAGES,
    MISSING,
    SMS_LIMIT,
    TEMPLATE_KEYS,
    TEMPLATES,
    gsm7_length,
    gsm7_ok,
    render,
    to_gsm7,
)
from alarms.model import ANOMALY_KINDS, INCIDENT_KINDS, AnomalyKind, ReportCode

# Typical values: a 20-character zone name, a 10-character room, the time as the shell formats it.
FULL_PARAMS = {
    "zone": "Finestra camera Luca",
    "zone_id": "z12",
    "room": "Primo piano",
    "device": "zigbee:00158d0001a2b3c4",
    "user": "Giovanna",
    "contact": "Giovanna",
    "incident": "i42",
    "incident_kind": "intrusion",
    "confirmed": "yes",
    "zones": "2",
    "anomaly": "a7",
    "anomaly_kind": "low_battery",
    "channel": "sms",
    "subject": "sms",
    "event": "armed_away",
    "code": "burglary",
    "restore": "no",
    "time": "14:32",
    "until": "08/12/2026 14:32:00",
    "reason": "sensore guasto, tecnico domani",
    "excluded": "Porta ingresso, Telecamera",
}
ALL_KEYS = sorted(TEMPLATE_KEYS)
SPOKEN = {"incident.voice"}  # read out on a call, never sent as an SMS

EVENTS = (
    "armed_home",
    "armed_away",
    "disarmed",
    "arm_failed",
    "hub_started",
    "device_paired",
    "wrong_codes",
    *(f"zone_excluded.{how}" for how in ("inhibit", "open_at_arming", "open_at_arming_fault", "isolate", "auto")),
    *(f"zone_included.{why}" for why in ("user", "closed", "expired", "disarm")),
)


def test_every_required_template_exists() -> None:
    required = {f"incident.{kind}" for kind in INCIDENT_KINDS}
    required |= {"incident.update", "incident.reminder", "incident.voice", "test"}
    required |= {f"anomaly.{kind}" for kind in ANOMALY_KINDS}
    required |= {f"anomaly.{kind}.cleared" for kind in ANOMALY_KINDS}
    required |= {f"event.{name}" for name in EVENTS}
    required |= {f"centre.{code}" for code in get_args(ReportCode)}
    assert required <= TEMPLATE_KEYS, sorted(required - TEMPLATE_KEYS)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_template_has_every_language(key: str) -> None:
    assert set(TEMPLATES[key]) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", ALL_KEYS)
def test_renders_with_full_params(key: str, language: str) -> None:
    rendered = render(key, language, FULL_PARAMS)
    for text in (rendered.subject, rendered.body, rendered.short):
        assert text.strip()
        assert MISSING not in text, f"{key}/{language} has a gap: {text!r}"
        assert "{" not in text and "}" not in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", ALL_KEYS)
def test_renders_with_no_params(key: str, language: str) -> None:
    rendered = render(key, language, {})
    assert rendered.subject.strip() and rendered.body.strip() and rendered.short.strip()
    assert gsm7_ok(rendered.short)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", [key for key in ALL_KEYS if key not in SPOKEN])
def test_short_text_fits_one_gsm7_sms(key: str, language: str) -> None:
    short = render(key, language, FULL_PARAMS).short
    assert gsm7_ok(short), [char for char in short if not gsm7_ok(char)]
    assert gsm7_length(short) <= SMS_LIMIT, f"{key}/{language}: {gsm7_length(short)} septets: {short}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", ALL_KEYS)
def test_template_texts_need_no_conversion_to_gsm7(key: str, language: str) -> None:
    # The SMS is converted anyway, but our own words should already be GSM-7 (no "È", no curly quotes).
    assert gsm7_ok(TEMPLATES[key][language].short)


def test_missing_params_show_a_question_mark() -> None:
    rendered = render("incident.water", "it", {"zone": "Bagno"})
    assert "Incidente: ?" in rendered.body
    assert "Bagno" in rendered.short


def test_unknown_language_falls_back_to_italian() -> None:
    assert render("incident.fire", "de", FULL_PARAMS) == render("incident.fire", "it", FULL_PARAMS)
    assert render("incident.fire", "", FULL_PARAMS) == render("incident.fire", "it", FULL_PARAMS)


def test_language_tags_are_normalised() -> None:
    assert render("event.disarmed", "en-GB", FULL_PARAMS) == render("event.disarmed", "en", FULL_PARAMS)
    assert render("event.disarmed", "EN", FULL_PARAMS) == render("event.disarmed", "en", FULL_PARAMS)


def test_unknown_template_raises_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match=r"incident\.flood"):
        render("incident.flood", "it", {})


def test_where_combines_zone_and_room() -> None:
    assert render("incident.water", "en", {"zone": "Sink", "room": "Kitchen"}).subject == "WATER LEAK - Sink (Kitchen)"
    assert render("incident.water", "en", {"zone": "Kitchen", "room": "kitchen"}).subject == "WATER LEAK - Kitchen"
    assert render("incident.water", "en", {"zone": "Sink"}).subject == "WATER LEAK - Sink"
    assert render("incident.water", "en", {"room": "Kitchen"}).subject == "WATER LEAK - Kitchen"
    assert render("incident.water", "en", {}).subject == "WATER LEAK - ?"


def test_optional_phrases_leave_no_gap() -> None:
    short = render("event.disarmed", "it", {}).short
    assert short == "casahub: Allarme disinserito."
    short = render("event.disarmed", "it", {"user": "Anna", "time": "08:15"}).short
    assert short == "casahub: Allarme disinserito da Anna alle 08:15."


def test_a_given_param_wins_over_the_derived_phrase() -> None:
    assert render("incident.fire", "en", {"where": "the garage"}).subject == "FIRE ALARM - the garage"


def test_param_values_are_not_interpreted_as_placeholders() -> None:
    assert "{at}" in render("incident.fire", "en", {"zone": "{at}"}).subject


def test_advice_says_what_to_do() -> None:
    water_it = render("incident.water", "it", FULL_PARAMS)
    assert "valvola generale" in water_it.short and "valvola generale" in water_it.body
    water_en = render("incident.water", "en", FULL_PARAMS)
    assert "main water valve" in water_en.short
    fire_it = render("incident.fire", "it", FULL_PARAMS)
    assert "115" in fire_it.short and "112" in fire_it.short
    assert "112" in render("incident.fire", "en", FULL_PARAMS).short
    assert "Non entrare" in render("incident.intrusion", "it", FULL_PARAMS).short


def test_confirmed_intrusion_is_said_so() -> None:
    assert "verificato" in render("incident.intrusion", "it", {**FULL_PARAMS, "confirmed": "yes"}).body
    assert "verificato" not in render("incident.intrusion", "it", {**FULL_PARAMS, "confirmed": "no"}).body


def test_reminder_and_voice_name_the_incident_kind() -> None:
    params = {**FULL_PARAMS, "incident_kind": "water"}
    assert "allagamento" in render("incident.reminder", "it", params).short
    assert "Chiudi la valvola generale" in render("incident.reminder", "it", params).body
    voice = render("incident.voice", "en", params)
    assert voice.short.startswith("Attention") and "Water leak alarm, zone Finestra camera Luca" in voice.short


def test_voice_without_params_is_still_a_sentence() -> None:
    assert ", ." not in render("incident.voice", "it", {}).short


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_anomaly_message_carries_the_manual_steps(kind: AnomalyKind, language: str) -> None:
    entry = MANUAL[kind][language]
    body = render(f"anomaly.{kind}", language, FULL_PARAMS).body
    assert entry.title in body
    for number, step in enumerate(entry.steps, start=1):
        assert f"{number}. {step}" in body


def test_channel_failure_names_the_channel_in_words() -> None:
    assert "chiamate vocali" in render("anomaly.channel_failure", "it", {"channel": "voice"}).short
    assert "carrier-pigeon" in render("anomaly.channel_failure", "en", {"channel": "carrier-pigeon"}).short


def test_centre_line_is_one_readable_line() -> None:
    params = {"zone_id": "z3", "zone": "Porta ingresso", "user": "marco", "incident": "i7", "time": "14:32"}
    line = render("centre.burglary", "it", params).body
    assert line == "Allarme intrusione - zona z3 Porta ingresso - utente marco - incidente i7 alle 14:32"
    restore = render("centre.burglary", "en", {**params, "restore": "yes"}).body
    assert restore.startswith("Restore: Burglary alarm - zone z3")
    assert render("centre.open", "en", {"user": "marco"}).body == "Disarmed (opening) - user marco"
    assert "\n" not in render("centre.duress", "it", FULL_PARAMS).body


def test_short_text_is_converted_to_gsm7() -> None:
    params = {"zone": "Èntrata \u201cnuova\u201d \u2014 café \U0001f6aa", "time": "14:32"}
    short = render("incident.intrusion", "it", params).short
    assert gsm7_ok(short)
    assert 'E\'ntrata "nuova" - café ?' in short
    # email and push keep the original text
    assert "Èntrata" in render("incident.intrusion", "it", params).subject


def test_gsm7_alphabet() -> None:
    assert gsm7_ok("Perché è già lì? Sì, però più giù: à è é ì ò ù")
    assert not gsm7_ok("È")
    assert not gsm7_ok("á")
    assert not gsm7_ok("\U0001f525")
    assert not gsm7_ok("\u2019")
    assert gsm7_ok("{prezzo} 10€ [ok] ~ ^ | \\")
    assert gsm7_length("abc") == 3
    assert gsm7_length("10€") == 4
    assert to_gsm7("È l\u2019ora") == "E' l'ora"


# --------------------------------------------------------------------------- manual


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_every_anomaly_kind_has_a_manual_in_both_languages(kind: AnomalyKind) -> None:
    assert set(MANUAL[kind]) == {"it", "en"}
    for language in ("it", "en"):
        entry = MANUAL[kind][language]
        assert entry.title and entry.meaning
        assert len(entry.steps) >= 3
        assert all(step.strip() for step in entry.steps)
    assert len(MANUAL[kind]["it"].steps) == len(MANUAL[kind]["en"].steps)


def test_manual_covers_exactly_the_anomaly_kinds() -> None:
    assert set(MANUAL) == set(ANOMALY_KINDS)


def test_manual_text_numbers_the_steps() -> None:
    text = manual_text("low_battery", "en")
    assert text.startswith("Sensor battery low\n\n")
    assert "\n1. Check the battery type" in text
    assert "CR2032" in text
    assert f"\n{len(MANUAL['low_battery']['en'].steps)}. " in text


def test_manual_language_fallback() -> None:
    assert manual_entry("sensor_offline", "fr") == MANUAL["sensor_offline"]["it"]
    assert manual_entry("sensor_offline", "en-US") == MANUAL["sensor_offline"]["en"]


def test_manual_steps_are_practical() -> None:
    assert "hub" in manual_text("sensor_offline", "en").lower()
    assert "router" in manual_text("centre_unreachable", "it")
    assert "installatore" in manual_text("storage_error", "it")


def test_fit_sms_cuts_on_a_word_boundary_and_never_refuses() -> None:
    from alarms.messages import fit_sms

    short = "casahub: ALLARME allagamento in cucina."
    assert fit_sms(short) == short
    long = "casahub: ALLARME allagamento in " + "Cucina grande " * 30
    cut = fit_sms(long)
    assert gsm7_length(cut) <= SMS_LIMIT and cut.endswith("...")
    assert long.startswith(cut[:-3]) and long[len(cut) - 3] == " "
    # One endless word (a 60 KB name): cut inside it rather than lose the whole text.
    word = fit_sms("casahub: " + "x" * 60_000)
    assert gsm7_length(word) <= SMS_LIMIT and word.startswith("casahub: xxx")
    # Extension characters take two septets each.
    euros = fit_sms("€ " * 200)
    assert gsm7_length(euros) <= SMS_LIMIT
    assert gsm7_length(fit_sms("a " * 1000, 459)) <= 459
