"""The GSM-7 alphabet of an SMS: which characters fit, how long a text is, cutting it to one SMS.

A single character outside GSM-7 (such as "È" or an emoji) would switch the whole SMS to UCS-2
and cut it from 160 characters to 70, so `render` converts every SMS text with `to_gsm7`.
"""

from __future__ import annotations

from alarms.messages.text import MISSING

# GSM 03.38 basic character set (one septet each; the escape character itself is left out) and the
# extension table (two septets each: escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
SMS_LIMIT = 160
SMS_CUT = "..."  # ends an SMS cut to fit (fit_sms)

# What we write instead of the characters outside GSM-7 that Italian and English text meets most.
_GSM7_SUBSTITUTES = {
    "È": "E'",
    "À": "A'",
    "Ì": "I'",
    "Ò": "O'",
    "Ù": "U'",
    "Á": "A",
    "Í": "I",
    "Ó": "O",
    "Ú": "U",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "ë": "e",
    "ï": "i",
    "ç": "c",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "«": '"',
    "»": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\t": " ",
    "°": " gradi ",
}


def gsm7_ok(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 alphabet (basic set or extension)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def gsm7_length(text: str) -> int:
    """Septets `text` takes in an SMS (an extension character takes two); the text must be GSM-7."""
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def fit_sms(text: str, limit: int = SMS_LIMIT) -> str:
    """`text` cut to at most `limit` septets on a word boundary, "..." added; never refused for
    length (a 60 KB zone name from an old database still gives a sendable SMS). GSM-7 text."""
    if gsm7_length(text) <= limit:
        return text
    room = limit - len(SMS_CUT)
    cut, used = [], 0
    for char in text:
        used += 2 if char in GSM7_EXTENSION else 1
        if used > room:
            break
        cut.append(char)
    head = "".join(cut)
    words = head.rsplit(" ", 1)[0] if " " in head else head
    # A word boundary, unless that throws away most of the room (one long word: cut it).
    if len(words) >= room // 2:
        head = words
    return head.rstrip(" ,.;:-") + SMS_CUT


def to_gsm7(text: str) -> str:
    """`text` in the GSM-7 alphabet: known characters replaced by their nearest, others by "?"."""
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        else:
            out.append(_GSM7_SUBSTITUTES.get(char, MISSING))
    return "".join(out)
