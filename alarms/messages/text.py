"""The shape every message text has, the languages it comes in, the mark of a missing value.

The modules of this package that hold texts (incidents, faults, events, centre) build `Text`s;
`render` fills them in.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_LANGUAGE = "it"
LANGUAGES: tuple[str, ...] = ("it", "en")
MISSING = "?"


class Text(NamedTuple):
    """One template in one language, before its parameters are filled in."""

    subject: str
    body: str
    short: str
