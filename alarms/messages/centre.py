"""Texts of the reports to the assistance centre as the log transport and the event log show them:
one line per report code, "Restore: " in front of a restore."""

from __future__ import annotations

from alarms.messages.text import Text
from alarms.model import ReportCode

_CENTRE_LABEL: dict[ReportCode, dict[str, str]] = {
    "fire": {"it": "Allarme incendio", "en": "Fire alarm"},
    "water": {"it": "Allarme allagamento", "en": "Water leak alarm"},
    "burglary": {"it": "Allarme intrusione", "en": "Burglary alarm"},
    "panic": {"it": "Allarme emergenza (panico)", "en": "Panic alarm"},
    "duress": {"it": "Coercizione (codice anti-rapina)", "en": "Duress"},
    "tamper": {"it": "Manomissione", "en": "Tamper"},
    "ac_loss": {"it": "Mancanza rete elettrica", "en": "AC power loss"},
    "low_battery": {"it": "Batteria scarica", "en": "Low battery"},
    "supervision_loss": {"it": "Sensore non raggiungibile", "en": "Sensor supervision loss"},
    "open": {"it": "Disinserimento", "en": "Disarmed (opening)"},
    "close": {"it": "Inserimento", "en": "Armed (closing)"},
    "cancel": {"it": "Annullamento allarme", "en": "Alarm cancelled"},
    "confirmed": {"it": "Allarme verificato", "en": "Verified alarm"},
    "bypass": {"it": "Esclusione zona", "en": "Zone excluded (bypass)"},
    "trouble": {"it": "Guasto", "en": "Trouble"},
    "walk_test": {"it": "Prova impianto (walk test)", "en": "Walk test mode"},
    "wrong_code": {"it": "Codici d'allarme errati ripetuti", "en": "Wrong code entry (repeated)"},
    "close_stay": {"it": "Inserimento con persone in casa", "en": "Armed stay (closing)"},
    "open_stay": {"it": "Disinserimento (era inserito con persone in casa)", "en": "Disarmed from stay (opening)"},
}
_CENTRE_SUBJECT = {"it": "casahub, centrale: ", "en": "casahub, centre: "}

CENTRE_TEMPLATES: dict[str, dict[str, Text]] = {
    f"centre.{code}": {
        language: Text(
            subject=f"{_CENTRE_SUBJECT[language]}{{restore_label}}{label}",
            body=f"{{restore_label}}{label}{{centre_detail}}{{at}}",
            short=f"{{restore_label}}{label}{{centre_detail}}{{at}}",
        )
        for language, label in labels.items()
    }
    for code, labels in _CENTRE_LABEL.items()
}
