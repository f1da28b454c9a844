"""The Italian commissioning report in Italian words (issue 18, part 3): every zone kind, behaviour,
output kind, incident kind, role and channel has its words in both languages, and a report of a
hub with a door, a member with a duress code and a siren shows none of the English terms."""

from __future__ import annotations

from typing import get_args

import pytest

from alarms.model import Behaviour, IncidentKind, ZoneKind
from alarms.outputs import OutputKind
from alarms.policy import Channel
from hub.commissioning.texts import _WORDS, LANGUAGES, word, words
from hub.store.accounts import Role

VOCABULARY = [
    ("kind", get_args(ZoneKind)),
    ("kind", get_args(OutputKind)),
    ("behaviour", get_args(Behaviour)),
    ("incident", get_args(IncidentKind)),
    ("role", get_args(Role)),
    ("channel", get_args(Channel)),
]


@pytest.mark.parametrize(("group", "values"), VOCABULARY)
def test_every_value_has_words_in_both_languages(group: str, values: tuple[str, ...]) -> None:
    for value in values:
        for lang in LANGUAGES:
            said = word(group, value, lang)
            assert said and said.strip() == said, (group, value, lang)
        assert value in _WORDS[group], (group, value)  # not merely shown as it is


def test_the_english_terms_of_the_issue_are_gone_from_italian() -> None:
    assert word("kind", "contact", "it") == "porta/finestra"
    assert word("behaviour", "entry", "it") == "ingresso (con ritardo)"
    assert word("behaviour", "24h", "it") == "sempre attiva (24 ore)"
    assert word("role", "owner", "it") == "proprietario"
    assert word("channel", "centre", "it") == "centrale operativa"
    assert words("incident", ["intrusion", "fire"], "it") == "intrusione, incendio"
    assert words("channel", [], "it") == "—"
    assert word("kind", "a-newer-kind", "it") == "a-newer-kind"  # a newer hub's value, as it is
