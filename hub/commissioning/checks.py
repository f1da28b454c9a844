"""The report as a plain dict (the JSON form, `GET /api/v1/pairing/report`), checklist included.

`build_report(facts, lang)` is pure, so the unit tests build `Facts` by hand. The checklist follows
EN 50131 grade 2 practice (hub/commissioning/grade2.py). The report is handed to third parties:
phone numbers and email addresses are masked, the centre key and every other secret are left out,
users' codes are judged by a flag written when the code was set (only hashes are stored).
"Test message delivered on every channel" fails for a channel the config lacks, for the demo's
`log` (it proves nothing) and for a contact whom no working channel reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.commissioning.channels import CHANNEL_ORDER, _recipient_label, channels_in_use
from hub.commissioning.driver_traits import _signal_unit, _standby_power, _wireless
from hub.commissioning.facts import ChannelTestResult, DeviceFacts, Facts
from hub.commissioning.grade2 import (
    MAX_ENTRY_DELAY,
    MAX_WRONG_CODES,
    MIN_EVENTS_KEPT,
    MIN_LOCKOUT,
    SIREN_MAX,
    SIREN_MIN,
)
from hub.commissioning.masking import mask_email, mask_phone
from hub.commissioning.texts import Language, _language, _seconds, text, word, words
from hub.transports.registry import DEMO, NOT_CONFIGURED, is_real


def _iso(ts: float | None, tz: ZoneInfo) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def _check(item_id: str, lang: Language, value: str, ok: bool) -> dict[str, Any]:
    return {"id": item_id, "item": text(f"c_{item_id}", lang), "value": value, "pass": ok}


def _names(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit})" if len(items) > limit else "")


def checklist(facts: Facts, lang: Language) -> list[dict[str, Any]]:
    s = facts.state.settings
    items = [
        _check("entry", lang, _seconds(s.entry_delay), s.entry_delay <= MAX_ENTRY_DELAY),
        _check("siren", lang, f"{s.siren_time / 60:g} min", SIREN_MIN <= s.siren_time <= SIREN_MAX),
    ]
    with_code = [u for u in facts.users if u.has_code or u.has_duress]
    weak = [
        u.username
        for u in with_code
        if (u.has_code and u.code_grade2 is not True) or (u.has_duress and u.duress_grade2 is not True)
    ]
    if not with_code:
        items.append(_check("codes", lang, text("v_no_code", lang), False))
    elif weak:
        items.append(_check("codes", lang, text("v_codes_bad", lang, who=_names(weak)), False))
    else:
        items.append(_check("codes", lang, text("v_codes_ok", lang, n=len(with_code)), True))
    locks = facts.lockout is not None and facts.wrong_codes <= MAX_WRONG_CODES and facts.lockout >= MIN_LOCKOUT
    lock_value = (
        text("v_lockout", lang, n=facts.wrong_codes, s=f"{facts.lockout:g}")
        if facts.lockout is not None
        else text("v_no_lockout", lang)
    )
    items.append(_check("lockout", lang, lock_value, locks))
    if facts.events_kept is None:
        items.append(_check("log", lang, text("v_log_all", lang, n=facts.events_stored), True))
    else:
        value = text("v_log_n", lang, k=facts.events_kept, n=facts.events_stored)
        items.append(_check("log", lang, value, facts.events_kept >= MIN_EVENTS_KEPT))
    wireless = [d for d in facts.devices if _wireless(d.driver)]
    unsupervised = [d.name for d in wireless if d.expected_interval is None]
    if not wireless:
        items.append(_check("supervision", lang, text("v_no_wireless", lang), True))
    elif unsupervised:
        items.append(_check("supervision", lang, text("v_unsupervised", lang, who=_names(unsupervised)), False))
    else:
        value = text("v_supervised", lang, n=len(wireless), t=len(wireless))
        items.append(_check("supervision", lang, value, True))
    power = [d for d in facts.devices if _standby_power(d.driver)]
    if not power and not facts.standby_drivers:
        items.append(_check("power", lang, text("v_power_none", lang), False))
    elif power and all(d.online for d in power):
        items.append(_check("power", lang, text("v_power_ok", lang, who=_names([d.name for d in power])), True))
    else:
        down = [d.name for d in power if not d.online] or list(facts.standby_drivers)
        items.append(_check("power", lang, text("v_power_off", lang, who=_names(down)), False))
    zones = sorted(facts.state.zones.values(), key=lambda z: z.name.casefold())
    untested = [z.name for z in zones if z.walk_tested_at is None]
    if not zones:
        items.append(_check("walk", lang, text("v_no_zones", lang), False))
    elif untested:
        items.append(_check("walk", lang, text("v_walk_bad", lang, who=_names(untested)), False))
    else:
        items.append(_check("walk", lang, text("v_walk_ok", lang, n=len(zones), t=len(zones)), True))
    items.append(_tests_check(facts, lang))
    items.append(_warning_check(facts, lang))
    return items


def _warning_check(facts: Facts, lang: Language) -> dict[str, Any]:
    """EN 50131 notification: at least one warning device, and a test of it that the device
    confirmed (a siren asked to sound proves nothing until it says it does)."""
    sirens = sorted((o for o in facts.state.outputs.values() if o.kind == "siren"), key=lambda o: o.name.casefold())
    if not sirens:
        return _check("warning", lang, text("v_no_siren", lang), False)
    untested = [s.name for s in sirens if s.id not in facts.output_tests]
    tested = len(sirens) - len(untested)
    if not tested:
        return _check("warning", lang, text("v_sirens_untested", lang, who=_names(untested)), False)
    if untested:
        value = text("v_sirens_some", lang, n=tested, t=len(sirens), who=_names(untested))
        return _check("warning", lang, value, True)
    return _check("warning", lang, text("v_sirens_ok", lang, n=tested, t=len(sirens)), True)


def _tests_check(facts: Facts, lang: Language) -> dict[str, Any]:
    """A delivered test message on every channel in use, through real transports only."""
    used = channels_in_use(facts.contacts, facts.transports)
    missing = [ch for ch in used if facts.transports.get(ch, NOT_CONFIGURED) == NOT_CONFIGURED]
    demo = [ch for ch in used if facts.transports.get(ch) == DEMO]
    working = [ch for ch in used if is_real(facts.transports.get(ch)) and _delivered(facts.tests.get(ch))]
    not_sent = [ch for ch in used if is_real(facts.transports.get(ch)) and ch not in working]
    nobody = [c.name for c in facts.contacts if not any(c in used[ch] for ch in working)]
    problems = []
    if missing:
        who = ", ".join(
            f"{word('channel', ch, lang)} ({_names([c.name for c in used[ch] if c is not None])})" for ch in missing
        )
        problems.append(text("v_tests_missing", lang, who=who.replace(" ()", "")))
    if demo:
        problems.append(text("v_tests_demo", lang, who=words("channel", demo, lang)))
    if not_sent:
        problems.append(text("v_tests_bad", lang, who=words("channel", not_sent, lang)))
    if nobody:
        problems.append(text("v_tests_nobody", lang, who=_names(nobody)))
    if not used:
        problems.append(text("v_no_channel", lang))
    if problems:
        return _check("tests", lang, "; ".join(problems), False)
    return _check("tests", lang, text("v_tests_ok", lang, n=len(used), t=len(used)), True)


def _delivered(result: ChannelTestResult | None) -> bool:
    return result is not None and result.state == "sent" and is_real(result.transport)


def build_report(facts: Facts, lang: str | None = None) -> dict[str, Any]:
    """The report as a plain dict: the JSON form, and what the renderers show."""
    language = _language(lang)
    tz = ZoneInfo(facts.timezone)
    state = facts.state
    devices = {d.id: d for d in facts.devices}

    def supervision(d: DeviceFacts | None) -> dict[str, Any]:
        if d is None:
            return {"wireless": False, "interval": None, "supervised": False}
        return {
            "wireless": _wireless(d.driver),
            "interval": d.expected_interval,
            "supervised": d.expected_interval is not None,
        }

    zones = []
    for z in sorted(state.zones.values(), key=lambda z: (z.room.casefold(), z.name.casefold())):
        d = devices.get(z.device or "")
        zones.append(
            {
                "id": z.id,
                "name": z.name,
                "kind": z.kind,
                "behaviour": z.behaviour,
                "home": z.home,
                "room": z.room,
                "device": z.device,
                "model": d.model if d else None,
                "signal": d.signal if d else None,
                "signal_unit": _signal_unit(d.driver) if d else None,
                "battery": d.battery if d else None,
                "online": z.online and (d.online if d else True),
                "supervision": supervision(d),
                "walk_tested_at": _iso(z.walk_tested_at, tz),
                "walk_test_pass": z.walk_tested_at is not None,
                "tamper_tested_at": _iso(z.tamper_tested_at, tz),
            }
        )
    outputs = [
        {
            "id": o.id,
            "name": o.name,
            "kind": o.kind,
            "room": o.room,
            "device": o.device,
            "on": list(o.on),
            "online": o.online and (devices[o.device].online if o.device in devices else True),
            "tested_at": _iso(facts.output_tests.get(o.id), tz),
        }
        for o in sorted(state.outputs.values(), key=lambda o: (o.room.casefold(), o.name.casefold()))
    ]
    used = channels_in_use(facts.contacts, facts.transports)
    channels = []
    for channel in CHANNEL_ORDER:
        transport = facts.transports.get(channel, NOT_CONFIGURED)
        if channel not in used and not is_real(transport):
            continue
        result = facts.tests.get(channel)
        channels.append(
            {
                "channel": channel,
                "transport": transport,
                "configured": is_real(transport),
                "demo": transport == DEMO,
                "recipients": [_recipient_label(channel, c) for c in used.get(channel, [])],
                "last_test": result.as_json(tz) if result else None,
            }
        )
    contacts = [
        {
            "name": c.name,
            "language": c.language,
            "phone": mask_phone(c.phone),
            "email": mask_email(c.email),
            "channels": [ch for ch, who in used.items() if c in who],
        }
        for c in facts.contacts
    ]
    centre = facts.centre
    return {
        "report": "commissioning",
        "language": language,
        "generated_at": _iso(facts.now, tz),
        "hub": {
            "name": facts.name,
            "id": facts.hub_id,
            "version": facts.version,
            "tls_fingerprint": facts.tls_fingerprint or None,
            "time": _iso(facts.now, tz),
            "timezone": facts.timezone,
            "mode": state.mode,
        },
        "zones": zones,
        "outputs": outputs,
        "devices": [
            {
                "id": d.id,
                "name": d.name,
                "driver": d.driver,
                "room": d.room,
                "model": d.model,
                "signal": d.signal,
                "signal_unit": _signal_unit(d.driver),
                "battery": d.battery,
                "online": d.online,
                "last_seen": _iso(d.last_seen, tz),
                "supervision": supervision(d),
            }
            for d in sorted(facts.devices, key=lambda d: (d.room.casefold(), d.name.casefold()))
        ],
        "delays": {
            "exit_delay": state.settings.exit_delay,
            "entry_delay": state.settings.entry_delay,
            "siren_time": state.settings.siren_time,
            "abort_window": state.settings.abort_window,
            "confirmation_window": state.settings.confirmation_window,
            "swinger_limit": state.settings.swinger_limit,
            "offline_grace": state.settings.offline_grace,
            "ack_timeout": facts.ack_timeout,
        },
        "channels": channels,
        "contacts": contacts,
        "centre": None
        if centre is None
        else {
            # Where and how the hub reports, never the key or the webhook secret.
            "protocol": centre.protocol,
            "host": centre.host if centre.protocol == "dc09" else None,
            "port": centre.port,
            "account": centre.account,
            "receiver": centre.receiver,
            "line": centre.line,
            "format": centre.format,
            "encrypted": centre.key is not None
            if centre.protocol == "dc09"
            else (centre.url or "").startswith("https:"),
            "supervision_interval": centre.supervision_interval,
            "backup": f"{centre.backup_host}:{centre.backup_port}" if centre.backup_host else None,
        },
        "code_lockout": {"wrong_codes": facts.wrong_codes, "lockout": facts.lockout},
        "event_log": {"kept": facts.events_kept, "stored": facts.events_stored},
        "users": [
            {
                "username": u.username,
                "role": u.role,
                "has_code": u.has_code,
                "code_grade2": u.code_grade2 if u.has_code else None,
                "has_duress": u.has_duress,
                "duress_grade2": u.duress_grade2 if u.has_duress else None,
            }
            for u in facts.users
        ],
        "test_messages": [facts.tests[ch].as_json(tz) for ch in CHANNEL_ORDER if ch in facts.tests],
        "checklist": checklist(facts, language),
    }
