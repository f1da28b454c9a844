"""Message texts: every template the notification policy plans, rendered in the recipient's language.

A template key (`incident.water`, `anomaly.low_battery.cleared`, `event.disarmed`, `centre.burglary`,
...) names one message; each has an Italian and an English text made of three parts:

- `subject`: email subject and push title;
- `body`: email and push body, with the details and what to do;
- `short`: the SMS (and ntfy) text. It is converted to the GSM-7 alphabet so that one SMS holds
  160 characters (a single character outside GSM-7, such as "È" or an emoji, would switch the whole
  SMS to UCS-2 and cut it to 70); the texts are written to fit in 160 with typical zone names.

Rendering never fails on data: a missing parameter shows as "?" and an unknown language gets
Italian, because a message with a gap is better than no message during an alarm. An unknown
template key is a programming error and raises KeyError.

The texts, by audience: `incidents` (alarms, for the household), `faults` (anomalies raised and
cleared), `events` (arming, zones, the channel test message), `centre` (the reports to the
assistance centre as the log shows them); `words` holds the words of the derived phrases, `gsm7`
the SMS alphabet and fitting, `text` the shape shared by all, and `rendering` fills a template in.
Import from `alarms.messages`, not from the modules: they are how the texts are kept, not an API.
"""

from __future__ import annotations

from alarms.messages.events import EVENT_NAMES as _EVENT_NAMES
from alarms.messages.gsm7 import GSM7_BASIC, GSM7_EXTENSION, SMS_CUT, SMS_LIMIT, fit_sms, gsm7_length, gsm7_ok, to_gsm7

# tests/unit/test_dashboard_alarm_texts.py checks the dashboard's alarm card (alarm.js) against these.
from alarms.messages.incidents import ALARMS as _ALARMS  # noqa: F401
from alarms.messages.rendering import TEMPLATE_KEYS, TEMPLATES, Rendered, normalise_language, render
from alarms.messages.schedules import SCHEDULE_EVENTS
from alarms.messages.text import DEFAULT_LANGUAGE, LANGUAGES, MISSING, Language

# The events the policy has a text for: the engine's and the household's schedules'.
EVENT_NAMES: frozenset[str] = _EVENT_NAMES | SCHEDULE_EVENTS

__all__ = [
    "DEFAULT_LANGUAGE",
    "EVENT_NAMES",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "LANGUAGES",
    "MISSING",
    "SMS_CUT",
    "SMS_LIMIT",
    "TEMPLATES",
    "TEMPLATE_KEYS",
    "Language",
    "Rendered",
    "fit_sms",
    "gsm7_length",
    "gsm7_ok",
    "normalise_language",
    "render",
    "to_gsm7",
]
