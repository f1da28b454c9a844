"""The shape every message text has, the languages it comes in, the mark of a missing value.

The modules of this package that hold texts (incidents, faults, events, centre) build `Text`s;
`render` fills them in.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

# The languages the texts come in: the one Literal the hub's config, accounts, contacts,
# dashboard, report and CLI take theirs from.
Language = Literal["it", "en"]
DEFAULT_LANGUAGE = "it"
LANGUAGES: tuple[Language, ...] = get_args(Language)
MISSING = "?"


class Text(NamedTuple):
    """One template in one language, before its parameters are filled in."""

    subject: str
    body: str
    short: str
