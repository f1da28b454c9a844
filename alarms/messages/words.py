"""The words the derived phrases ("{where}", "{at}", "{by_user}", labels) are built from, in each language."""

from __future__ import annotations

from typing import NamedTuple

from alarms.model import IncidentKind

INCIDENT_LABEL: dict[IncidentKind, dict[str, str]] = {
    "fire": {"it": "incendio", "en": "fire"},
    "water": {"it": "allagamento", "en": "water leak"},
    "intrusion": {"it": "intrusione", "en": "intrusion"},
    "power": {"it": "mancanza corrente", "en": "power cut"},
    "panic": {"it": "emergenza", "en": "emergency"},
    "tamper": {"it": "manomissione", "en": "tamper"},
    "duress": {"it": "coercizione", "en": "duress"},
}

CHANNEL_LABEL: dict[str, dict[str, str]] = {
    "sms": {"it": "SMS", "en": "SMS"},
    "email": {"it": "email", "en": "email"},
    "push": {"it": "notifiche dell'app", "en": "app notifications"},
    "ntfy": {"it": "notifiche ntfy", "en": "ntfy notifications"},
    "voice": {"it": "chiamate vocali", "en": "voice calls"},
    "gsm": {"it": "modem GSM", "en": "GSM modem"},
    "centre": {"it": "collegamento con la centrale", "en": "assistance centre link"},
}


class Words(NamedTuple):
    at: str
    by: str
    restore: str
    confirmed: str
    zone: str
    user: str
    incident: str
    in_area: str  # "armed ... in area Garage": which part of the house, when it has several


WORDS: dict[str, Words] = {
    "it": Words(
        at="alle",
        by="da",
        restore="Ripristino: ",
        confirmed="\nAllarme verificato: sono scattate almeno due zone diverse.",
        zone="zona",
        user="utente",
        incident="incidente",
        in_area="nell'area",
    ),
    "en": Words(
        at="at",
        by="by",
        restore="Restore: ",
        confirmed="\nVerified alarm: at least two different zones have fired.",
        zone="zone",
        user="user",
        incident="incident",
        in_area="in area",
    ),
}
