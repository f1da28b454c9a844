"""The home page's alarm card says what the SMS says: the dashboard's action sentence for each
incident kind (hub/web/static/alarm.js) is the SMS's (alarms/messages/), in it and en, and
the dashboard's History knows every anomaly kind by a name of its own (history.js)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from alarms.messages import _ALARMS
from alarms.model import ANOMALY_KINDS

STATIC = Path(__file__).resolve().parents[2] / "hub" / "web" / "static"


def texts(name: str) -> dict[str, dict[str, str]]:
    """The it/en tables of an addTexts({...}) call: "key": "value" pairs, per language block."""
    source = (STATIC / name).read_text()
    blocks = re.split(r"\n  (it|en): \{", source)
    tables: dict[str, dict[str, str]] = {}
    for lang, body in zip(blocks[1::2], blocks[2::2], strict=True):
        pairs = re.findall(r'"([a-z0-9_.]+)": ("(?:[^"\\]|\\.)*")', body.split("\n  },")[0])
        tables[lang] = {key: json.loads(value) for key, value in pairs}
    return tables


def test_the_alarm_card_says_what_the_sms_says() -> None:
    card = texts("alarm.js")
    assert set(card) == {"it", "en"}
    for kind, languages in _ALARMS.items():
        for lang, alarm in languages.items():
            assert card[lang][f"alarm.action.{kind}"] == alarm.action, (kind, lang)
            assert card[lang][f"alarm.title.{kind}"].upper() == alarm.title, (kind, lang)


def test_history_names_every_anomaly_kind() -> None:
    history = texts("history.js")
    for lang in ("it", "en"):
        missing = [k for k in ANOMALY_KINDS if f"an.{k}" not in history[lang]]
        assert not missing, (lang, missing)
