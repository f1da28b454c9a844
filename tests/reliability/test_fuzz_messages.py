"""Fuzz the message templates (alarms.messages.render) with arbitrary parameters.

"Rendering never fails on data" (the module's contract): every template key, in any language
string, with any parameters (the known names with arbitrary text, including format braces,
control characters, emoji and very long strings, unknown names, every derived phrase name
overridden) renders to three strings, and the SMS text stays in the GSM-7 alphabet. An unknown
template key raises KeyError and nothing else.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alarms.messages import TEMPLATE_KEYS, TEMPLATES, Rendered, gsm7_ok, render, to_gsm7
from tests.reliability.fuzz_helpers import fuzz_settings, report

CASES = 1500

# Parameter names: the ones alarms.policy and the shell pass, plus every name a template uses
# (so derived phrases such as "where" or "manual" get overridden too).
POLICY_PARAMS = [
    "zone",
    "zone_id",
    "room",
    "device",
    "user",
    "incident",
    "incident_kind",
    "confirmed",
    "zones",
    "anomaly",
    "anomaly_kind",
    "channel",
    "event",
    "code",
    "restore",
    "time",
    "contact",
]
TEMPLATE_FIELDS = sorted(
    {
        name
        for texts in TEMPLATES.values()
        for text in texts.values()
        for part in text
        for _, name, _, _ in string.Formatter().parse(part)
        if name
    }
)
PARAM_NAMES = sorted({*POLICY_PARAMS, *TEMPLATE_FIELDS})

# Values the policy puts in the enumerated parameters, and hostile text.
KNOWN_VALUES = [
    "yes",
    "no",
    "fire",
    "water",
    "intrusion",
    "duress",
    "sensor_offline",
    "low_battery",
    "channel_failure",
    "sms",
    "push",
    "centre",
    "burglary",
    "armed_away",
    "disarmed",
]
HOSTILE = [
    "",
    " ",
    "{",
    "}",
    "{}",
    "{0}",
    "{zone}",
    "{manual}",
    "{!r}",
    "{zone:>999999999}",
    "%s",
    "\x00",
    "\n\r\t",
    "È À ç ß €",
    "🔥🚨",
    "\u202e",
    "x" * 5000,
]
VALUES = st.text() | st.sampled_from(KNOWN_VALUES + HOSTILE)
LANGUAGES = st.sampled_from(["it", "en", "EN", "en-GB", "it_IT", "", " ", "de", "zz", "e", "\x00", "ñ"]) | st.text(
    max_size=8
)
PARAMS = st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=10), VALUES, max_size=len(PARAM_NAMES))


def test_fuzz_render(record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]) -> None:
    counts: Counter[str] = Counter()
    known = sorted(TEMPLATE_KEYS)

    @fuzz_settings(CASES)
    @given(
        # one case in ten an unknown key
        template=st.integers(0, 9).flatmap(lambda pick: st.text(max_size=20) if pick == 0 else st.sampled_from(known)),
        language=LANGUAGES,
        params=PARAMS,
    )
    def fuzz(template: str, language: str, params: dict[str, str]) -> None:
        counts["cases"] += 1
        if template not in TEMPLATE_KEYS:
            counts["unknown template keys"] += 1
            with pytest.raises(KeyError):
                render(template, language, params)
            return
        counts[template.split(".")[0]] += 1
        out = render(template, language, params)
        assert isinstance(out, Rendered)
        assert all(isinstance(part, str) for part in (out.subject, out.body, out.short))
        assert gsm7_ok(out.short), out.short

    fuzz()
    groups = {k: v for k, v in sorted(counts.items()) if k != "cases"}
    report(
        "alarms.messages.render",
        counts["cases"],
        record_property,
        capsys,
        f"{len(known)} template keys, {len(PARAM_NAMES)} parameter names; {groups}",
    )


def test_fuzz_to_gsm7(record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]) -> None:
    cases = 0

    @fuzz_settings(CASES // 2)
    @given(text=st.text())
    def fuzz(text: str) -> None:
        nonlocal cases
        cases += 1
        converted = to_gsm7(text)
        assert gsm7_ok(converted)
        assert to_gsm7(converted) == converted

    fuzz()
    report("alarms.messages.to_gsm7", cases, record_property, capsys)
