"""The commissioning report: the EN 50131 grade-2 checklist, masking, and safe rendering.

Walk-test results come from the real engine (WalkTestStart, a zone opening, a tamper), so the
report reads exactly the fields the engine writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from alarms import engine
from alarms.model import (
    AlarmSettings,
    Behaviour,
    DeviceHealth,
    OutputUpsert,
    SensorChanged,
    State,
    WalkTestStart,
    WalkTestStop,
    ZoneKind,
    ZoneUpsert,
)
from alarms.policy import Contact
from hub import commissioning
from hub.commissioning import ChannelTestResult, DeviceFacts, Facts, UserFacts
from hub.config import CentreConfig, Secret
from hub.store.accounts import code_grade2

NOW = 1_780_000_000.0
ANNA = Contact(name="Anna", phone="+393331234567", email="anna.rossi@example.com", language="it", push=True)
KIT: tuple[tuple[str, ZoneKind, Behaviour, str], ...] = (
    ("door", "contact", "entry", "d-door"),
    ("smoke", "smoke", "24h", "d-smoke"),
)


def _state(settings: AlarmSettings | None = None, *, walk: tuple[str, ...] = (), tamper: tuple[str, ...] = ()) -> State:
    state = engine.initial_state(settings or AlarmSettings())
    for zone_id, kind, behaviour, device in KIT:
        upsert = ZoneUpsert(
            id=zone_id, name=zone_id.title(), kind=kind, behaviour=behaviour, device=device, room="Casa"
        )
        state = engine.handle(state, upsert, NOW - 100).state
    # The warning device EN 50131 asks for (the "warning" line: tested in _facts).
    state = engine.handle(state, OutputUpsert(id="siren", name="Sirena", kind="siren", room="Casa"), NOW - 100).state
    if walk or tamper:
        state = engine.handle(state, WalkTestStart(by="installer", duration=600), NOW - 50).state
        for zone_id in walk:
            state = engine.handle(state, SensorChanged(zone=zone_id, active=True), NOW - 40).state
            state = engine.handle(state, SensorChanged(zone=zone_id, active=False), NOW - 39).state
        for device in tamper:
            state = engine.handle(state, DeviceHealth(device=device, tamper=True), NOW - 30).state
            state = engine.handle(state, DeviceHealth(device=device, tamper=False), NOW - 29).state
        state = engine.handle(state, WalkTestStop(by="installer"), NOW - 20).state
    return state


def _device(device_id: str, driver: str = "zigbee2mqtt", interval: float | None = 3600.0, **kw: Any) -> DeviceFacts:
    values: dict[str, Any] = {
        "id": device_id,
        "driver": driver,
        "name": device_id,
        "room": "Casa",
        "model": "M1",
        "battery": 80.0,
        "signal": -60,
        "online": True,
        "last_seen": NOW - 10,
        "expected_interval": interval,
    }
    values.update(kw)
    return DeviceFacts(**values)


REAL = {"sms": "twilio", "email": "smtp", "push": "webpush", "centre": "dc09"}


def _sent(channel: str, state: str = "sent", transport: str | None = None) -> ChannelTestResult:
    through = transport or REAL[channel]
    return ChannelTestResult(channel, through, "x", state, None if state == "sent" else "boom", NOW - 5)


def _facts(**changes: Any) -> Facts:
    """A hub where every checklist line passes; each test breaks one thing."""
    base = Facts(
        name="Casa Rossi",
        hub_id="abc123",
        version="1.0",
        tls_fingerprint="AA:BB",
        now=NOW,
        timezone="Europe/Rome",
        state=_state(walk=("door", "smoke"), tamper=("d-door",)),
        devices=[_device("d-door"), _device("d-smoke"), _device("ups", driver="nut", interval=60.0)],
        contacts=[ANNA],
        transports=dict(REAL),
        users=[UserFacts("anna", "owner", has_code=True, code_grade2=True)],
        events_kept=None,
        events_stored=42,
        standby_drivers=["nut"],
        tests={ch: _sent(ch) for ch in ("sms", "email", "push", "centre")},
        output_tests={"siren": NOW - 10},
    )
    return replace(base, **changes)


def _line(facts: Facts, item: str, lang: str = "en") -> dict[str, Any]:
    return next(c for c in commissioning.build_report(facts, lang)["checklist"] if c["id"] == item)


def test_a_well_installed_hub_passes_every_line() -> None:
    report = commissioning.build_report(_facts(), "en")
    assert [c["id"] for c in report["checklist"]] == [
        "entry",
        "siren",
        "codes",
        "lockout",
        "log",
        "supervision",
        "power",
        "walk",
        "tests",
        "warning",
    ]
    assert all(set(c) == {"id", "item", "value", "pass"} for c in report["checklist"])
    assert [c["id"] for c in report["checklist"] if not c["pass"]] == []


@pytest.mark.parametrize(("entry", "ok"), [(30, True), (45, True), (46, False), (120, False)])
def test_entry_delay_at_most_45_s(entry: float, ok: bool) -> None:
    line = _line(_facts(state=_state(AlarmSettings(entry_delay=entry), walk=("door", "smoke"))), "entry")
    assert line["pass"] is ok
    assert line["value"] == f"{entry:g} s"


@pytest.mark.parametrize(("siren", "ok"), [(119, False), (120, True), (180, True), (900, True), (901, False)])
def test_siren_between_2_and_15_minutes(siren: float, ok: bool) -> None:
    assert _line(_facts(state=_state(AlarmSettings(siren_time=siren), walk=("door", "smoke"))), "siren")["pass"] is ok


def test_codes_under_5_digits_fail_and_name_the_user() -> None:
    users = [
        UserFacts("anna", "owner", has_code=True, code_grade2=True),
        UserFacts("luca", "member", has_code=True, code_grade2=False),
        UserFacts("installer", "installer", has_code=False, code_grade2=None),
    ]
    line = _line(_facts(users=users), "codes")
    assert line["pass"] is False
    assert "luca" in line["value"] and "anna" not in line["value"]


def test_codes_of_unknown_length_short_duress_codes_and_no_codes_fail() -> None:
    unknown = [UserFacts("anna", "owner", has_code=True, code_grade2=None)]
    assert _line(_facts(users=unknown), "codes")["pass"] is False
    duress = [UserFacts("anna", "owner", has_code=True, code_grade2=True, has_duress=True, duress_grade2=False)]
    assert _line(_facts(users=duress), "codes")["pass"] is False
    nobody = [UserFacts("anna", "owner", has_code=False, code_grade2=None)]
    line = _line(_facts(users=nobody), "codes")
    assert line["pass"] is False and line["value"] == "no user has an alarm code"


def test_code_grade2_flag_is_noted_when_the_code_is_set() -> None:
    assert code_grade2("12345") == 1
    assert code_grade2("1234") == 0
    assert code_grade2(None) is None and code_grade2("") is None


@pytest.mark.parametrize(
    ("wrong", "lockout", "ok"),
    [(3, 90.0, True), (3, 300.0, True), (5, 90.0, False), (3, 30.0, False), (3, None, False)],
)
def test_lockout_after_3_wrong_codes(wrong: int, lockout: float | None, ok: bool) -> None:
    assert _line(_facts(wrong_codes=wrong, lockout=lockout), "lockout")["pass"] is ok


@pytest.mark.parametrize(("kept", "ok"), [(None, True), (1000, True), (999, False)])
def test_event_log_keeps_at_least_1000_events(kept: int | None, ok: bool) -> None:
    assert _line(_facts(events_kept=kept), "log")["pass"] is ok


def test_wireless_devices_without_supervision_fail_wired_ones_do_not_count() -> None:
    unsupervised = [_device("d-door"), _device("d-smoke", driver="bthome", interval=None), _device("ups", "nut")]
    line = _line(_facts(devices=unsupervised), "supervision")
    assert line["pass"] is False and "d-smoke" in line["value"]
    wired = [_device("d-door", driver="gpio", interval=None), _device("ups", "nut")]
    assert _line(_facts(devices=wired), "supervision")["pass"] is True


def test_standby_power_needs_an_online_ups_or_power_supply() -> None:
    sensors = [_device("d-door"), _device("d-smoke")]
    assert _line(_facts(devices=sensors, standby_drivers=[]), "power")["pass"] is False
    down = [*sensors, _device("ups", driver="nut", online=False)]
    assert _line(_facts(devices=down), "power")["pass"] is False
    psu = [*sensors, _device("mains", driver="power_supply", interval=60.0)]
    assert _line(_facts(devices=psu, standby_drivers=["power_supply"]), "power")["pass"] is True
    # A configured driver whose UPS never appeared (upsd unreachable) is no standby power either.
    assert _line(_facts(devices=sensors, standby_drivers=["nut"]), "power")["pass"] is False


def test_every_zone_must_be_walk_tested() -> None:
    line = _line(_facts(state=_state(walk=("door",))), "walk")
    assert line["pass"] is False and "Smoke" in line["value"]
    report = commissioning.build_report(_facts(state=_state(walk=("door",), tamper=("d-door",))), "en")
    zones = {z["id"]: z for z in report["zones"]}
    assert zones["door"]["walk_test_pass"] is True and zones["door"]["walk_tested_at"].startswith("20")
    assert zones["door"]["tamper_tested_at"] is not None
    assert zones["smoke"]["walk_test_pass"] is False and zones["smoke"]["walk_tested_at"] is None
    assert "FAIL: not tested" in commissioning.to_markdown(report)
    assert _line(_facts(state=_state()), "walk")["pass"] is False
    assert _line(_facts(state=engine.initial_state()), "walk")["pass"] is False  # no zone at all


def test_every_channel_in_use_needs_a_delivered_test_message() -> None:
    assert _line(_facts(tests={}), "tests")["pass"] is False
    failed = {ch: _sent(ch, "sent" if ch != "email" else "failed") for ch in ("sms", "email", "push", "centre")}
    line = _line(_facts(tests=failed), "tests")
    assert line["pass"] is False and line["value"].endswith("email")
    channels = {c["channel"]: c for c in commissioning.build_report(_facts(tests=failed), "en")["channels"]}
    assert channels["email"]["last_test"]["state"] == "failed"
    assert channels["email"]["last_test"]["error"] == "boom"


def test_channels_in_use_follow_the_contacts_and_the_configuration() -> None:
    quiet = Contact(name="Nonna", phone=None, email=None, push=False)
    used = commissioning.channels_in_use(
        [quiet, ANNA], {"sms": "twilio", "gsm": "gsm", "ntfy": "none", "centre": "log"}
    )
    assert list(used) == ["sms", "email", "push", "gsm", "centre"]
    assert used["sms"] == [ANNA]
    assert used["centre"] == [None]
    # The modem carrying every SMS is the sms channel, not a second one; no [centre]: no centre.
    used = commissioning.channels_in_use([ANNA], {"sms": "gsm", "gsm": "gsm", "centre": "none"})
    assert list(used) == ["sms", "email", "push"]


def test_a_phone_without_sms_fails_the_channel_check() -> None:
    """Outside the demo a missing [sms] is not "delivered": nothing is sent, and the check says so."""
    transports = {**REAL, "sms": "none"}
    tests = {ch: _sent(ch) for ch in ("email", "push", "centre")}
    tests["sms"] = ChannelTestResult("sms", "none", "x", "not_configured", "no [sms] in the config", NOW - 5)
    facts = _facts(transports=transports, tests=tests)
    line = _line(facts, "tests")
    # channels in people's words, in both languages (issue 18: no `sms`, `centre` in a report)
    assert line["pass"] is False and line["value"] == "not configured: SMS (Anna)"
    assert _line(facts, "tests", "it")["value"] == "non configurati: SMS (Anna)"
    report = commissioning.build_report(facts, "en")
    sms = next(c for c in report["channels"] if c["channel"] == "sms")
    assert (sms["transport"], sms["configured"], sms["demo"]) == ("none", False, False)
    assert sms["last_test"]["state"] == "not_configured"
    markdown = commissioning.to_markdown(report)
    assert "| SMS | not configured |" in markdown and "not configured" in markdown


def test_the_demo_log_proves_nothing() -> None:
    demo = {ch: "log" for ch in REAL}
    facts = _facts(transports=demo, tests={ch: _sent(ch, transport="log") for ch in REAL})
    line = _line(facts, "tests")
    assert line["pass"] is False
    assert line["value"] == (
        "demo, written to the log only: SMS, email, app notifications, monitoring centre; no working channel for: Anna"
    )
    channels = commissioning.build_report(facts, "en")["channels"]
    assert all(c["demo"] and not c["configured"] for c in channels)
    assert "log — demo: written to the log only" in commissioning.to_markdown(commissioning.build_report(facts, "en"))


def test_a_contact_whom_no_working_channel_reaches_fails() -> None:
    mario = Contact(name="Mario", phone=None, email="mario@example.org", push=False)
    failed = {**{ch: _sent(ch) for ch in REAL}, "email": _sent("email", "failed")}
    line = _line(_facts(contacts=[ANNA, mario], tests=failed), "tests")
    assert (
        line["pass"] is False and line["value"] == "not tested or not delivered: email; no working channel for: Mario"
    )
    assert _line(_facts(contacts=[]), "tests")["pass"] is True  # the centre alone, tested
    nothing = _line(_facts(contacts=[], transports={**REAL, "centre": "none"}, tests={}), "tests")
    assert nothing == {**nothing, "pass": False, "value": "no notification channel"}


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+393331234567", "+39 ••• ••• 4567"), ("3331234567", "••• ••• 4567"), ("+3912", "•••"), (None, None)],
)
def test_phone_numbers_are_masked(phone: str | None, masked: str | None) -> None:
    assert commissioning.mask_phone(phone) == masked


def test_emails_are_masked() -> None:
    assert commissioning.mask_email("anna.rossi@example.com") == "a•••@example.com"
    assert commissioning.mask_email("nonsense") == "•••"


def test_no_phone_number_email_or_secret_leaves_the_hub_in_any_format() -> None:
    centre = CentreConfig(host="10.0.0.9", port=5000, account="1234", key=Secret("00112233445566778899aabbccddeeff"))
    report = commissioning.build_report(_facts(centre=centre), "it")
    outputs = [json.dumps(report, ensure_ascii=False), commissioning.to_markdown(report), commissioning.to_html(report)]
    for out in outputs:
        assert "3331234567" not in out and "1234567" not in out
        assert "anna.rossi" not in out
        assert "00112233445566778899aabbccddeeff" not in out
        assert "4567" in out  # the masked form is there: the homeowner recognises the number
    assert report["centre"]["encrypted"] is True
    assert report["contacts"][0] == {
        "name": "Anna",
        "language": "it",
        "phone": "+39 ••• ••• 4567",
        "email": "a•••@example.com",
        "channels": ["sms", "email", "push"],
    }


def test_html_escapes_a_zone_named_script_and_runs_nothing() -> None:
    state = engine.handle(
        _state(walk=("door", "smoke")),
        ZoneUpsert(id="evil", name="<script>alert(1)</script>", kind="motion", behaviour="instant", room="<b>x</b>"),
        NOW,
    ).state
    report = commissioning.build_report(_facts(state=state, name='Casa "<img src=x onerror=alert(1)>"'), "en")
    page = commissioning.to_html(report)
    assert "<script" not in page.lower()
    assert "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith("<!DOCTYPE html>") and page.count("<style>") == 1
    assert " on" not in re.sub(r">[^<]*<", "><", page)  # no event-handler attribute in any tag
    # The style element is allowed by its hash (the hub's CSP has no 'unsafe-inline').
    css = page.split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert commissioning.STYLE_SOURCE == f"'sha256-{digest}'"
    markdown = commissioning.to_markdown(report)
    assert "<script>" not in markdown and "\\<script\\>" in markdown


def test_html_marks_pass_and_fail_cells() -> None:
    report = commissioning.build_report(_facts(state=_state(AlarmSettings(entry_delay=60), walk=("door",))), "it")
    page = commissioning.to_html(report)
    assert '<td class="fail">NON CONFORME</td>' in page
    assert '<td class="pass">OK</td>' in page
    assert 'lang="it"' in page and "Verbale di collaudo" in page


def test_the_report_speaks_italian_and_english() -> None:
    it = commissioning.build_report(_facts(), "it")
    en = commissioning.build_report(_facts(), "en")
    assert it["language"] == "it" and en["language"] == "en"
    assert _line(_facts(), "entry", "it")["item"] == "Ritardo di ingresso al massimo 45 s"
    assert _line(_facts(), "entry", "en")["item"] == "Entry delay at most 45 s"
    assert "## Verifica EN 50131 grado 2" in commissioning.to_markdown(it)
    assert "## EN 50131 grade 2 checklist" in commissioning.to_markdown(en)
    assert "| Stato | Disinserito |" in commissioning.to_markdown(it)  # the mode in words, not "disarmed"
    assert "| Mode | Disarmed |" in commissioning.to_markdown(en)
    assert commissioning.build_report(_facts(), "fr")["language"] == "it"  # unknown: the default


def test_hub_identity_and_delays_are_in_the_report() -> None:
    report = commissioning.build_report(_facts(ack_timeout=90), "en")
    assert report["hub"]["name"] == "Casa Rossi" and report["hub"]["id"] == "abc123"
    assert report["hub"]["tls_fingerprint"] == "AA:BB" and report["hub"]["time"] == "2026-05-28T22:26:40+02:00"
    assert report["delays"]["entry_delay"] == 30 and report["delays"]["ack_timeout"] == 90
    devices = {d["id"]: d for d in report["devices"]}
    assert devices["ups"]["supervision"] == {"wireless": False, "interval": 60.0, "supervised": True}
    assert devices["d-door"]["supervision"]["wireless"] is True
