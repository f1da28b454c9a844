"""A name to suggest for a device waiting to be paired (issue 18): what it senses or does, in the
hub's language ("Sensore movimento", "Sirena"), numbered past the names already in use ("Sensore
movimento 2"). A new user of the demo saw `SIM-CONTACT`, a model code, where a name belongs.
Pure; the candidate list (hub/web/devices_api.py) carries it and the pairing form offers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alarms.model import ZoneKind
from alarms.outputs import OutputKind

# Each kind's everyday name; the first sensing kind names the device, else its first output kind.
_NAMES: dict[str, dict[str, str]] = {
    "water": {"it": "Sensore acqua", "en": "Water sensor"},
    "smoke": {"it": "Rilevatore fumo", "en": "Smoke detector"},
    "motion": {"it": "Sensore movimento", "en": "Motion sensor"},
    "contact": {"it": "Contatto porta o finestra", "en": "Door or window contact"},
    "power": {"it": "Sensore corrente", "en": "Power sensor"},
    "panic": {"it": "Pulsante emergenza", "en": "Panic button"},
    "camera": {"it": "Telecamera", "en": "Camera"},
    "siren": {"it": "Sirena", "en": "Siren"},
    "valve": {"it": "Valvola acqua", "en": "Water valve"},
    "switch": {"it": "Relè", "en": "Relay"},
}
_DEVICE = {"it": "Dispositivo", "en": "Device"}


def kind_name(kind: str, language: str) -> str:
    lang = "en" if language == "en" else "it"
    return _NAMES.get(kind, _DEVICE)[lang]


def suggested_name(
    kinds: Sequence[ZoneKind], outputs: Sequence[OutputKind], taken: Iterable[str], language: str
) -> str:
    """The kind's name, or with the first free number from 2 when a device already has it."""
    first = kinds[0] if kinds else outputs[0] if outputs else ""
    base = kind_name(first, language)
    used = {name.casefold() for name in taken}
    if base.casefold() not in used:
        return base
    number = 2
    while f"{base} {number}".casefold() in used:
        number += 1
    return f"{base} {number}"
