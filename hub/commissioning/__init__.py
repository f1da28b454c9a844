"""The commissioning report (`casahub pair report`): what the installer hands over to the
homeowner and the insurer, and the test messages that prove each channel works.

Theory of operation:
- `gather()` reads the running hub (engine state, device telemetry, config, accounts, the
  test-message results) into `Facts`, plain data. `build_report(facts, lang)` turns them into a
  plain dict (the JSON form, `GET /api/v1/pairing/report`), checklist included; it is pure, so
  the unit tests build `Facts` by hand. `to_markdown` / `to_html` render that dict.
- The checklist follows EN 50131 grade 2 practice (docs/architecture.md section 7): values outside
  it are accepted by the hub (installers shorten delays to test) and marked failed here.
- The report is handed to third parties: phone numbers and email addresses are masked, the
  centre key and every other secret are left out, users' codes are judged by a flag written
  when the code was set (only hashes are stored).
- `send_test_messages()` sends one test message per channel in use straight through the
  channel's transport (not the outbox: a test must neither wait behind queued alarms nor be
  retried for a day), waits for each result up to a timeout and records it.
- Only real transports count (hub/transports/registry.py `is_real`): a channel a contact needs but
  the config lacks is `not_configured` (nothing is sent), and the demo's `log` proves nothing,
  so "test message delivered on every channel" fails for both, and for a contact whom no
  working channel reaches.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from alarms.messages import render
from alarms.model import State
from alarms.policy import Contact
from hub.config import CentreConfig
from hub.transports.base import Channel, Delivered, OutgoingMessage, Permanent
from hub.transports.registry import DEMO, NOT_CONFIGURED, is_real

log = logging.getLogger("hub.commissioning")  # the name users' [log] levels know (README)

Language = Literal["it", "en"]
LANGUAGES: tuple[Language, ...] = ("it", "en")

# EN 50131 grade 2 practice (docs/architecture.md section 7).
MAX_ENTRY_DELAY = 45.0
SIREN_MIN, SIREN_MAX = 120.0, 900.0
MIN_CODE_DIGITS = 5
MAX_WRONG_CODES = 3
MIN_LOCKOUT = 90.0
MIN_EVENTS_KEPT = 1000
# Drivers whose devices talk over the air: without a heartbeat a dead battery looks like a quiet room.
WIRELESS_DRIVERS = frozenset({"bthome", "zigbee2mqtt", "simulated"})
STANDBY_POWER_DRIVERS = ("nut", "power_supply")
CHANNEL_ORDER = ("sms", "email", "push", "ntfy", "voice", "gsm", "centre")

DEFAULT_TEST_TIMEOUT = 20.0
# What the webpush transport answers when the contact has no subscribed app (hub/transports/webpush.py).
TEST_TIMEOUT_RANGE = (1.0, 120.0)


# ------------------------------------------------------------------------------------ masking
def mask_phone(phone: str | None) -> str | None:
    """`+393331234567` -> `+39 ••• ••• 4567`: enough to recognise the number, not to dial it."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) <= 6:
        return "•••"  # too short to show any digit without giving most of it away
    prefix = f"+{digits[:2]} " if phone.strip().startswith("+") and len(digits) > 8 else ""
    return f"{prefix}••• ••• {digits[-4:]}"


def mask_email(email: str | None) -> str | None:
    """`famiglia@example.com` -> `f•••@example.com`."""
    if not email:
        return None
    local, at, domain = email.partition("@")
    if not at:
        return "•••"
    return f"{local[:1]}•••@{domain}"


def mask_address(channel: str, address: str | None) -> str | None:
    return mask_email(address) if channel == "email" else mask_phone(address)


# ------------------------------------------------------------------------------------ facts
@dataclass(frozen=True)
class DeviceFacts:
    id: str
    driver: str
    name: str
    room: str
    model: str
    battery: float | None
    signal: int | None
    online: bool
    last_seen: float | None
    expected_interval: float | None  # seconds between reports; None: not supervised


@dataclass(frozen=True)
class UserFacts:
    username: str
    role: str
    has_code: bool
    code_grade2: bool | None  # None: code set before the hub noted its length
    has_duress: bool = False
    duress_grade2: bool | None = None


@dataclass(frozen=True)
class ChannelTestResult:
    channel: str
    transport: str
    recipient: str  # masked
    state: str  # sent | failed | timeout | not_configured
    error: str | None
    at: float


@dataclass(frozen=True)
class Facts:
    """Everything the report says, read from the running hub (or written by a test)."""

    name: str
    hub_id: str
    version: str
    tls_fingerprint: str
    now: float
    timezone: str
    state: State
    devices: Sequence[DeviceFacts]
    contacts: Sequence[Contact]
    transports: Mapping[str, str]  # channel -> transport ("none": not configured; "log": the demo)
    users: Sequence[UserFacts]
    ack_timeout: float = 120.0
    centre: CentreConfig | None = None
    wrong_codes: int = MAX_WRONG_CODES
    lockout: float | None = MIN_LOCKOUT
    events_kept: int | None = None  # None: never pruned
    events_stored: int = 0
    standby_drivers: Sequence[str] = ()  # running nut / power_supply drivers
    tests: Mapping[str, ChannelTestResult] = field(default_factory=dict)  # channel -> latest result


# ------------------------------------------------------------------------------------ texts
_T: dict[str, dict[Language, str]] = {
    "title": {"it": "Verbale di collaudo dell'impianto", "en": "Commissioning report"},
    "hub": {"it": "Centrale", "en": "Hub"},
    "name": {"it": "Nome", "en": "Name"},
    "id": {"it": "Identificativo", "en": "Id"},
    "version": {"it": "Versione", "en": "Version"},
    "fingerprint": {"it": "Impronta certificato TLS (SHA-256)", "en": "TLS certificate fingerprint (SHA-256)"},
    "no_tls": {"it": "TLS disattivato", "en": "TLS off"},
    "time": {"it": "Data e ora", "en": "Date and time"},
    "mode": {"it": "Stato", "en": "Mode"},
    "checklist": {"it": "Verifica EN 50131 grado 2", "en": "EN 50131 grade 2 checklist"},
    "item": {"it": "Voce", "en": "Item"},
    "value": {"it": "Valore", "en": "Value"},
    "result": {"it": "Esito", "en": "Result"},
    "pass": {"it": "OK", "en": "PASS"},
    "fail": {"it": "NON CONFORME", "en": "FAIL"},
    "zones": {"it": "Zone", "en": "Zones"},
    "zone": {"it": "Zona", "en": "Zone"},
    "kind": {"it": "Tipo", "en": "Kind"},
    "behaviour": {"it": "Comportamento", "en": "Behaviour"},
    "room": {"it": "Locale", "en": "Room"},
    "device": {"it": "Dispositivo", "en": "Device"},
    "model": {"it": "Modello", "en": "Model"},
    "signal": {"it": "Segnale", "en": "Signal"},
    "battery": {"it": "Batteria", "en": "Battery"},
    "supervision": {"it": "Supervisione", "en": "Supervision"},
    "walk_test": {"it": "Prova di zona", "en": "Walk test"},
    "tamper_test": {"it": "Prova antimanomissione", "en": "Tamper test"},
    "not_tested": {"it": "non provata", "en": "not tested"},
    "wired": {"it": "cablato", "en": "wired"},
    "none": {"it": "assente", "en": "none"},
    "every": {"it": "ogni {s} s", "en": "every {s} s"},
    "devices": {"it": "Dispositivi", "en": "Devices"},
    "driver": {"it": "Driver", "en": "Driver"},
    "online": {"it": "In linea", "en": "Online"},
    "yes": {"it": "sì", "en": "yes"},
    "no": {"it": "no", "en": "no"},
    "delays": {"it": "Tempi configurati", "en": "Configured delays"},
    "channels": {"it": "Canali di notifica", "en": "Notification channels"},
    "channel": {"it": "Canale", "en": "Channel"},
    "transport": {"it": "Trasporto", "en": "Transport"},
    "recipients": {"it": "Destinatari", "en": "Recipients"},
    "log_only": {"it": "demo: scritto solo nel registro", "en": "demo: written to the log only"},
    "not_configured": {"it": "non configurato", "en": "not configured"},
    "contacts": {"it": "Contatti", "en": "Contacts"},
    "phone": {"it": "Telefono", "en": "Phone"},
    "email": {"it": "Email", "en": "Email"},
    "language": {"it": "Lingua", "en": "Language"},
    "centre": {"it": "Centrale operativa", "en": "Assistance centre"},
    "no_centre": {"it": "non configurata", "en": "not configured"},
    "encrypted": {"it": "cifrato", "en": "encrypted"},
    "unencrypted": {"it": "non cifrato", "en": "unencrypted"},
    "tests": {"it": "Messaggi di prova", "en": "Test messages"},
    "state": {"it": "Stato", "en": "State"},
    "error": {"it": "Errore", "en": "Error"},
    "at": {"it": "Ora", "en": "At"},
    "users": {"it": "Utenti e codici", "en": "Users and codes"},
    "user": {"it": "Utente", "en": "User"},
    "role": {"it": "Ruolo", "en": "Role"},
    "code": {"it": "Codice", "en": "Code"},
    "no_code": {"it": "nessun codice", "en": "no code"},
    "code_ok": {"it": "5 cifre o più", "en": "5 digits or more"},
    "code_short": {"it": "meno di 5 cifre", "en": "under 5 digits"},
    "code_unknown": {"it": "lunghezza non nota: reimpostarlo", "en": "length unknown: set it again"},
    "sent": {"it": "consegnato", "en": "delivered"},
    "failed": {"it": "non consegnato", "en": "not delivered"},
    "timeout": {"it": "nessuna risposta", "en": "no answer"},
    "footer": {
        "it": "Documento generato da casahub. Le voci NON CONFORMI vanno corrette prima della consegna.",
        "en": "Generated by casahub. FAIL lines must be corrected before handover.",
    },
    # checklist items
    "c_entry": {"it": "Ritardo di ingresso al massimo 45 s", "en": "Entry delay at most 45 s"},
    "c_siren": {"it": "Durata sirena tra 2 e 15 minuti", "en": "Siren time between 2 and 15 minutes"},
    "c_codes": {"it": "Codici di almeno 5 cifre", "en": "Codes of at least 5 digits"},
    "c_lockout": {
        "it": "Blocco dopo 3 codici errati (almeno 90 s)",
        "en": "Lockout after 3 wrong codes (at least 90 s)",
    },
    "c_log": {"it": "Registro eventi di almeno 1.000 eventi", "en": "Event log keeps at least 1,000 events"},
    "c_supervision": {
        "it": "Supervisione dei dispositivi senza fili",
        "en": "Supervision of wireless devices",
    },
    "c_power": {"it": "Alimentazione di riserva (UPS via NUT)", "en": "Standby power (UPS via NUT)"},
    "c_walk": {"it": "Ogni zona provata (walk test)", "en": "Every zone walk-tested"},
    "c_tests": {
        "it": "Messaggio di prova consegnato su ogni canale",
        "en": "Test message delivered on every channel",
    },
    # checklist values
    "v_no_code": {"it": "nessun utente ha un codice", "en": "no user has an alarm code"},
    "v_codes_ok": {
        "it": "utenti con codice: {n}, tutti di 5 cifre o più",
        "en": "users with a code: {n}, all of 5 digits or more",
    },
    "v_codes_bad": {"it": "codici troppo corti o non verificati: {who}", "en": "short or unverified codes: {who}"},
    "v_lockout": {"it": "{n} codici errati -> blocco di {s} s", "en": "{n} wrong codes -> {s} s lockout"},
    "v_no_lockout": {"it": "nessun blocco", "en": "no lockout"},
    "v_log_all": {
        "it": "tutti conservati (nessuna cancellazione), {n} registrati",
        "en": "all kept (never pruned), {n} stored",
    },
    "v_log_n": {"it": "ultimi {k} conservati, {n} registrati", "en": "last {k} kept, {n} stored"},
    "v_supervised": {"it": "{n} di {t} supervisionati", "en": "{n} of {t} supervised"},
    "v_unsupervised": {"it": "senza supervisione: {who}", "en": "not supervised: {who}"},
    "v_no_wireless": {"it": "nessun dispositivo senza fili", "en": "no wireless device"},
    "v_power_ok": {"it": "{who} in linea", "en": "{who} online"},
    "v_power_off": {"it": "{who} non in linea", "en": "{who} offline"},
    "v_power_none": {
        "it": 'nessun UPS configurato ([[drivers]] type = "nut")',
        "en": 'no UPS configured ([[drivers]] type = "nut")',
    },
    "v_walk_ok": {"it": "{n} zone su {t} provate", "en": "{n} of {t} zones tested"},
    "v_walk_bad": {"it": "non provate: {who}", "en": "not tested: {who}"},
    "v_no_zones": {"it": "nessuna zona", "en": "no zone"},
    "v_tests_ok": {"it": "{n} canali su {t}", "en": "{n} of {t} channels"},
    "v_tests_bad": {"it": "da provare o non consegnati: {who}", "en": "not tested or not delivered: {who}"},
    "v_tests_missing": {"it": "non configurati: {who}", "en": "not configured: {who}"},
    "v_tests_demo": {"it": "demo, solo nel registro: {who}", "en": "demo, written to the log only: {who}"},
    "v_tests_nobody": {
        "it": "nessun canale funzionante per: {who}",
        "en": "no working channel for: {who}",
    },
    "v_no_channel": {"it": "nessun canale di notifica", "en": "no notification channel"},
}

_DELAY_LABELS: dict[str, dict[Language, str]] = {
    "exit_delay": {"it": "Ritardo di uscita", "en": "Exit delay"},
    "entry_delay": {"it": "Ritardo di ingresso", "en": "Entry delay"},
    "siren_time": {"it": "Durata sirena", "en": "Siren time"},
    "abort_window": {"it": "Finestra di annullamento", "en": "Abort window"},
    "confirmation_window": {"it": "Finestra di conferma", "en": "Confirmation window"},
    "swinger_limit": {"it": "Limite attivazioni per zona", "en": "Swinger limit"},
    "offline_grace": {"it": "Tolleranza dispositivo non in linea", "en": "Offline grace"},
    "ack_timeout": {"it": "Tempo per la presa in carico", "en": "Acknowledgement timeout"},
}


def text(key: str, lang: Language, **values: object) -> str:
    return _T[key][lang].format(**values)


def _language(value: str | None) -> Language:
    return "en" if value == "en" else "it"


def _seconds(value: float) -> str:
    return f"{value:g} s"


# ------------------------------------------------------------------------------------ the report
def _iso(ts: float | None, tz: ZoneInfo) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def _wireless(driver: str) -> bool:
    return driver.split("#")[0] in WIRELESS_DRIVERS


def _signal_unit(driver: str) -> str:
    """Zigbee reports link quality (LQI 0..255), the other radios dBm (as hub/core/runtime.py zone_signal)."""
    return "lqi" if driver.split("#")[0] == "zigbee2mqtt" else "dBm"


def _signal_cell(item: Mapping[str, Any]) -> str:
    if item["signal"] is None:
        return "—"
    return f"{item['signal']} LQI" if item.get("signal_unit") == "lqi" else f"{item['signal']} dBm"


def channels_in_use(contacts: Sequence[Contact], transports: Mapping[str, str]) -> dict[str, list[Contact | None]]:
    """channel -> who receives it (None: the household's ntfy topic or the centre), in contact order.

    A channel is in use when someone would receive it: sms/email/push/voice by the contacts'
    details (configured or not: a phone with no [sms] is a gap the report shows), ntfy and the
    gsm modem when configured (the modem apart only when it is the fallback of Twilio), the
    centre when there is one (the demo's log included: the report says it is a demo).
    """
    used: dict[str, list[Contact | None]] = {}
    for channel in CHANNEL_ORDER:
        if channel == "sms":
            who: list[Contact | None] = [c for c in contacts if c.phone]
        elif channel == "email":
            who = [c for c in contacts if c.email]
        elif channel == "push":
            who = [c for c in contacts if c.push]
        elif channel == "voice":
            who = [c for c in contacts if c.voice and c.phone]
        elif channel == "gsm":
            fallback = is_real(transports.get("gsm")) and transports.get("sms") != transports.get("gsm")
            who = [c for c in contacts if c.phone] if fallback else []
        elif channel == "ntfy":
            who = [None] if is_real(transports.get("ntfy")) else []
        else:
            who = [None] if transports.get("centre", NOT_CONFIGURED) != NOT_CONFIGURED else []
        if who:
            used[channel] = who
    return used


def _address(channel: str, contact: Contact | None) -> str | None:
    if contact is None:
        return None
    if channel == "email":
        return contact.email
    if channel in ("sms", "voice", "gsm"):
        return contact.phone
    return None


def _recipient_label(channel: str, contact: Contact | None) -> str:
    if contact is None:
        return "centre" if channel == "centre" else "household"
    masked = mask_address(channel, _address(channel, contact))
    return f"{contact.name} ({masked})" if masked else contact.name


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
    power = [d for d in facts.devices if d.driver.split("#")[0] in STANDBY_POWER_DRIVERS]
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
    return items


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
        who = ", ".join(f"{ch} ({_names([c.name for c in used[ch] if c is not None])})" for ch in missing)
        problems.append(text("v_tests_missing", lang, who=who.replace(" ()", "")))
    if demo:
        problems.append(text("v_tests_demo", lang, who=", ".join(demo)))
    if not_sent:
        problems.append(text("v_tests_bad", lang, who=", ".join(not_sent)))
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
                "last_test": _test_json(result, tz) if result else None,
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
        "test_messages": [_test_json(facts.tests[ch], tz) for ch in CHANNEL_ORDER if ch in facts.tests],
        "checklist": checklist(facts, language),
    }


def _test_json(result: ChannelTestResult, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "channel": result.channel,
        "transport": result.transport,
        "recipient": result.recipient,
        "state": result.state,
        "error": result.error,
        "at": _iso(result.at, tz),
    }


# ------------------------------------------------------------------------------------ renderers
def _cell(value: object, lang: Language) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return text("yes" if value else "no", lang)
    return str(value)


@dataclass(frozen=True)
class _Mark:
    """A pass/fail cell: the HTML page colours it."""

    text: str
    ok: bool

    def __str__(self) -> str:
        return self.text


Row = Sequence[str | _Mark]


# The alarm modes as the dashboard names them (hub/web/static/i18n.js).
_MODE_NAMES: dict[str, dict[Language, str]] = {
    "disarmed": {"it": "Disinserito", "en": "Disarmed"},
    "arming_home": {"it": "Inserimento in corso (casa)", "en": "Arming (home)"},
    "arming_away": {"it": "Inserimento in corso (fuori casa)", "en": "Arming (away)"},
    "armed_home": {"it": "Inserito (casa)", "en": "Armed (home)"},
    "armed_away": {"it": "Inserito (fuori casa)", "en": "Armed (away)"},
    "pending": {"it": "Ritardo di ingresso", "en": "Entry delay"},
    "triggered": {"it": "Allarme in corso", "en": "Alarm"},
}


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], Sequence[Row]]]:
    """The report's tables as (title, header, rows) of display strings, shared by both renderers."""
    lang = _language(report.get("language"))

    def t(key: str) -> str:
        return text(key, lang)

    hub = report["hub"]
    sections: list[tuple[str, list[str], Sequence[Row]]] = []
    sections.append(
        (
            t("hub"),
            [t("item"), t("value")],
            [
                [t("name"), hub["name"]],
                [t("id"), hub["id"]],
                [t("version"), hub["version"]],
                [t("fingerprint"), hub["tls_fingerprint"] or t("no_tls")],
                [t("time"), hub["time"]],
                [t("mode"), _MODE_NAMES.get(hub["mode"], {}).get(lang, hub["mode"])],
            ],
        )
    )
    sections.append(
        (
            t("checklist"),
            [t("item"), t("value"), t("result")],
            [
                [c["item"], c["value"], _Mark(t("pass") if c["pass"] else t("fail"), c["pass"])]
                for c in report["checklist"]
            ],
        )
    )

    def interval(sup: dict[str, Any]) -> str:
        if not sup["wireless"] and sup["interval"] is None:
            return t("wired")
        if sup["interval"] is None:
            return t("none")
        return text("every", lang, s=f"{sup['interval']:g}")

    def tested(at: str | None) -> _Mark:
        return _Mark(f"{t('pass')} {at}", True) if at else _Mark(f"{t('fail')}: {t('not_tested')}", False)

    zone_rows = [
        [
            z["name"],
            z["kind"],
            z["behaviour"],
            z["room"],
            z["model"] or "—",
            _signal_cell(z),
            "—" if z["battery"] is None else f"{z['battery']:g} %",
            interval(z["supervision"]),
            tested(z["walk_tested_at"]),
            z["tamper_tested_at"] or t("not_tested"),
        ]
        for z in report["zones"]
    ]
    sections.append(
        (
            t("zones"),
            [
                t("zone"),
                t("kind"),
                t("behaviour"),
                t("room"),
                t("model"),
                t("signal"),
                t("battery"),
                t("supervision"),
                t("walk_test"),
                t("tamper_test"),
            ],
            zone_rows,
        )
    )
    device_rows = [
        [
            d["name"],
            d["driver"],
            d["model"] or "—",
            d["room"],
            _signal_cell(d),
            "—" if d["battery"] is None else f"{d['battery']:g} %",
            _cell(d["online"], lang),
            interval(d["supervision"]),
        ]
        for d in report["devices"]
    ]
    sections.append(
        (
            t("devices"),
            [t("device"), t("driver"), t("model"), t("room"), t("signal"), t("battery"), t("online"), t("supervision")],
            device_rows,
        )
    )
    delays = report["delays"]
    delay_rows = [[_DELAY_LABELS[k][lang], str(v) if k == "swinger_limit" else _seconds(v)] for k, v in delays.items()]
    sections.append((t("delays"), [t("item"), t("value")], delay_rows))
    channel_rows = []
    for ch in report["channels"]:
        test = ch["last_test"]
        result = (
            t("not_tested")
            if test is None
            else f"{t(test['state'])} {test['at']}" + (f" ({test['error']})" if test["error"] else "")
        )
        channel_rows.append(
            [
                ch["channel"],
                ch["transport"]
                if ch["configured"]
                else f"log — {t('log_only')}"
                if ch.get("demo")
                else t("not_configured"),
                ", ".join(ch["recipients"]) or "—",
                result,
            ]
        )
    sections.append((t("channels"), [t("channel"), t("transport"), t("recipients"), t("tests")], channel_rows))
    contact_rows = [
        [c["name"], c["phone"] or "—", c["email"] or "—", c["language"], ", ".join(c["channels"]) or "—"]
        for c in report["contacts"]
    ]
    sections.append((t("contacts"), [t("name"), t("phone"), t("email"), t("language"), t("channels")], contact_rows))
    centre = report["centre"]
    if centre is None:
        centre_rows = [[t("centre"), t("no_centre")]]
    else:
        where = f"{centre['host']}:{centre['port']}" if centre["host"] else centre["protocol"]
        centre_rows = [
            [t("centre"), f"{centre['protocol']} {where}"],
            ["account / receiver / line", f"{centre['account']} / {centre['receiver']} / {centre['line']}"],
            [t("kind"), f"{centre['format']}, {t('encrypted') if centre['encrypted'] else t('unencrypted')}"],
            [t("supervision"), text("every", lang, s=f"{centre['supervision_interval']:g}")],
        ]
        if centre["backup"]:
            centre_rows.append(["backup", centre["backup"]])
    sections.append((t("centre"), [t("item"), t("value")], centre_rows))

    def code(has: bool, ok: bool | None) -> str:
        if not has:
            return t("no_code")
        return t("code_ok") if ok else t("code_short") if ok is False else t("code_unknown")

    user_rows = [
        [u["username"], u["role"], code(u["has_code"], u["code_grade2"])]
        + ([f"duress: {code(True, u['duress_grade2'])}"] if u["has_duress"] else ["—"])
        for u in report["users"]
    ]
    sections.append((t("users"), [t("user"), t("role"), t("code"), "duress"], user_rows))
    return sections


def _md_cell(value: str) -> str:
    # A pipe or a newline in a zone name would break the table; backslash-escape markdown marks.
    escaped = "".join(f"\\{ch}" if ch in "\\`*_[]<>|#" else ch for ch in value)
    return " ".join(escaped.split())


def to_markdown(report: dict[str, Any]) -> str:
    lang = _language(report.get("language"))
    hub = report["hub"]
    lines = [f"# {text('title', lang)}: {_md_cell(hub['name'])}", "", f"{text('time', lang)}: {hub['time']}", ""]
    for title, header, rows in _sections(report):
        lines += [f"## {title}", ""]
        lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(_md_cell(str(c)) for c in row) + " |" for row in rows]
        lines.append("")
    lines.append(f"_{text('footer', lang)}_")
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.pass { color: #075e07; font-weight: bold; }
td.fail { color: #a00000; font-weight: bold; }
footer { margin-top: 2em; font-size: 0.85em; color: #444; }
@media print { body { margin: 1cm; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


# The page's only style element, allowed by its hash: the hub serves the page under its strict CSP
# (no 'unsafe-inline'), and a saved copy opened from disk shows the same.
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode() + "'"


def to_html(report: dict[str, Any]) -> str:
    """A standalone printable page: inline CSS in one <style>, no script, every text escaped."""
    lang = _language(report.get("language"))
    e = html.escape
    hub = report["hub"]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{e(text('title', lang))}: {e(hub['name'])}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(text('title', lang))}: {e(hub['name'])}</h1>",
        f"<p>{e(text('time', lang))}: {e(str(hub['time']))}</p>",
    ]
    for title, header, rows in _sections(report):
        parts.append(f"<h2>{e(title)}</h2>")
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = []
            for c in row:
                cls = f' class="{"pass" if c.ok else "fail"}"' if isinstance(c, _Mark) else ""
                cells.append(f"<td{cls}>{e(str(c))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts += [f"<footer>{e(text('footer', lang))}</footer>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------ gathering
async def latest_tests(db: Any) -> dict[str, ChannelTestResult]:
    """The newest test-message result per channel."""
    rows = await db.fetchall(
        "SELECT t.* FROM test_messages t JOIN (SELECT channel, MAX(id) AS id FROM test_messages GROUP BY channel) m"
        " ON t.id = m.id"
    )
    return {
        r["channel"]: ChannelTestResult(
            channel=r["channel"],
            transport=r["transport"],
            recipient=r["recipient"],
            state=r["state"],
            error=r["error"],
            at=r["at"],
        )
        for r in rows
    }


async def gather(
    hub: Any,
    *,
    config: Any,
    data_dir: Path | None,
    drivers: Mapping[str, Any],
    code_throttle: Any,
    version: str,
    tls: bool,
) -> Facts:
    """Read the running hub (`hub.runtime.Hub`) and the web context into Facts."""
    from hub.system.discovery import hub_id, tls_fingerprint

    devices = [
        DeviceFacts(
            id=d.id,
            driver=d.driver,
            name=d.name,
            room=d.room,
            model=d.model,
            battery=d.battery,
            signal=d.signal,
            online=d.online,
            last_seen=d.last_seen,
            expected_interval=hub.expected_interval(d.driver, d.address),
        )
        for d in hub.devices.values()
    ]
    users = [
        UserFacts(
            username=r["username"],
            role=r["role"],
            has_code=bool(r["has_code"]),
            code_grade2=None if r["code_grade2"] is None else bool(r["code_grade2"]),
            has_duress=bool(r["has_duress"]),
            duress_grade2=None if r["duress_grade2"] is None else bool(r["duress_grade2"]),
        )
        for r in await hub.db.fetchall(
            "SELECT username, role, code_hash IS NOT NULL AS has_code, code_grade2,"
            " duress_hash IS NOT NULL AS has_duress, duress_grade2 FROM users ORDER BY username"
        )
    ]
    stored = await hub.db.fetchone("SELECT COUNT(*) FROM events")
    name = config.hub.name if config is not None else "casahub"
    return Facts(
        name=name,
        hub_id=hub_id(data_dir) if data_dir is not None else "",
        version=version,
        tls_fingerprint=tls_fingerprint(config, data_dir, tls) if config is not None and data_dir else "",
        now=hub.clock(),
        timezone=str(hub.tz.key),
        state=hub.state,
        devices=devices,
        contacts=list(hub.contacts),
        transports=dict(hub.transports),
        users=users,
        ack_timeout=hub.escalation.ack_timeout,
        centre=config.centre if config is not None else None,
        wrong_codes=code_throttle.limit,
        lockout=code_throttle.lockout,
        events_kept=None,  # hub/store/journal.py never prunes the event log: it is the audit trail
        events_stored=int(stored[0]) if stored else 0,
        standby_drivers=[k for k in drivers if k.split("#")[0] in STANDBY_POWER_DRIVERS],
        tests=await latest_tests(hub.db),
    )


# ------------------------------------------------------------------------------------ test messages
def make_test_message(channel: str, contact: Contact | None, language: str, by: str, time: str) -> OutgoingMessage:
    """The `test` template for a person, or a DC-09 periodic test report (CID 602 / SIA RP) for the centre."""
    lang = contact.language if contact is not None else language
    rendered = render("test", lang, {"channel": channel, "user": by, "time": time})
    payload: dict[str, object] | None = None
    if channel == "centre":
        # What `casahub doctor --send-test centre` sends: the receiver logs a periodic test.
        payload = {
            "code": "trouble",
            "restore": False,
            "zone": None,
            "zone_number": None,
            "incident": None,
            "user": by,
            "user_number": None,
            "test": True,
        }
    recipient = contact.name if contact is not None else ("centre" if channel == "centre" else "household")
    return OutgoingMessage(
        id=0,
        channel=channel,
        recipient=recipient,
        address=_address(channel, contact),
        language=lang,
        subject=rendered.subject,
        body=rendered.body,
        short=rendered.short,
        payload=payload,
    )


async def _send_one(channel: Channel | None, message: OutgoingMessage, timeout: float) -> tuple[str, str | None]:
    if channel is None:  # no section for it: nothing is sent, and no log pretends it was
        return "not_configured", f"no [{'sms' if message.channel == 'voice' else message.channel}] in the config"
    try:
        outcome = await asyncio.wait_for(channel.send(message), timeout)
    except TimeoutError:
        return "timeout", f"no answer within {timeout:g} s"
    except Exception as exc:  # a channel bug is a failed test, never a failed request
        log.exception("test message on %s failed", message.channel)
        return "failed", f"{type(exc).__name__}: {exc}"
    if isinstance(outcome, Delivered):
        return "sent", None
    if isinstance(outcome, Permanent):
        return "failed", outcome.reason
    return "failed", f"{outcome.reason} (not retried: this was a test)"


async def send_test_messages(hub: Any, *, by: str, timeout: float = DEFAULT_TEST_TIMEOUT) -> list[ChannelTestResult]:
    """One test message per channel in use, to its first recipient, all at once; results are stored."""
    if hub.dispatcher is None:
        raise RuntimeError("the hub is still starting: its transports are not ready")
    transports: Mapping[str, Channel] = hub.dispatcher.channels
    used = channels_in_use(hub.contacts, hub.transports)
    now = hub.clock()
    when = hub.format_time(now)
    plans = []
    for channel, who in used.items():
        contact = who[0]
        transport = hub.transports.get(channel, NOT_CONFIGURED)
        implementation = transports.get(transport)
        message = make_test_message(channel, contact, hub.language, by, when)
        plans.append((channel, transport, _recipient_label(channel, contact), implementation, message))
    outcomes = await asyncio.gather(*(_send_one(impl, msg, timeout) for _, _, _, impl, msg in plans))
    results = [
        ChannelTestResult(channel=ch, transport=tr, recipient=rc, state=state, error=error, at=hub.clock())
        for (ch, tr, rc, _, _), (state, error) in zip(plans, outcomes, strict=True)
    ]
    async with hub.db.transaction() as conn:
        for r in results:
            await conn.execute(
                "INSERT INTO test_messages (at, channel, transport, recipient, state, error, actor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.at, r.channel, r.transport, r.recipient, r.state, (r.error or "")[:500] or None, by),
            )
    await hub.audit("test_messages_sent", actor=by, data={"channels": {r.channel: r.state for r in results}})
    return results


def result_json(result: ChannelTestResult, hub: Any) -> dict[str, Any]:
    return {
        "channel": result.channel,
        "transport": result.transport,
        "recipient": result.recipient,
        "state": result.state,
        "error": result.error,
        "at": hub.iso(result.at),
    }
