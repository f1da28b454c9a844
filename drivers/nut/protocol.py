"""upsd's protocol, pure and total: reply lines split and classified, `ups.status` read."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Reply", "UpsStatus", "parse_percent", "parse_reply", "parse_status", "quote", "split_words"]


def split_words(line: str) -> list[str]:
    """Split a reply line into words as upsd quotes them (never raises; an open quote runs to the end)."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        word: list[str] = []
        if line[i] == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                word.append(line[i])
                i += 1
            i += 1  # the closing quote (or past the end)
        else:
            while i < n and line[i] not in " \t":
                word.append(line[i])
                i += 1
        words.append("".join(word))
    return words


def quote(value: str) -> str:
    """A command argument as upsd reads it: double-quoted with `"` and `\\` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Reply:
    """One reply line: `kind` is OK, ERR, BEGIN, END, VAR, UPS or OTHER; `words` follow the keyword.

    For ERR, `words[0]` is the code; for VAR, `words` is (ups, name, value); for UPS, (name, description).
    """

    kind: str
    words: tuple[str, ...]

    @property
    def code(self) -> str:
        return self.words[0] if self.kind == "ERR" and self.words else ""


_KINDS = {"OK": 0, "ERR": 1, "BEGIN": 1, "END": 1, "VAR": 3, "UPS": 2}  # keyword -> words it needs at least


def parse_reply(line: str) -> Reply:
    """Classify one reply line (total: any text gives a Reply, `OTHER` when it is none of the known ones)."""
    words = split_words(line.rstrip("\r\n"))
    if words and words[0] in _KINDS and len(words) - 1 >= _KINDS[words[0]]:
        return Reply(words[0], tuple(words[1:]))
    return Reply("OTHER", tuple(words))


@dataclass(frozen=True)
class UpsStatus:
    """What `ups.status` says about mains and the battery (None: it does not say)."""

    mains: bool | None
    battery_low: bool | None
    flags: frozenset[str]


def parse_status(value: str | None) -> UpsStatus:
    """Read the `ups.status` tokens (OL on line, OB on battery, LB low battery, FSD forced shutdown)."""
    flags = frozenset(value.split()) if value else frozenset()
    mains: bool | None = False if "OB" in flags else True if "OL" in flags else None
    if "LB" in flags or "FSD" in flags:
        low: bool | None = True
    else:
        low = None if mains is None else False
    return UpsStatus(mains=mains, battery_low=low, flags=flags)


def parse_percent(value: str | None) -> float | None:
    """A percentage (`battery.charge`), or None when it is not a number in 0..100."""
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return number if 0 <= number <= 100 else None  # NaN fails both comparisons
