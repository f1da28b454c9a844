"""Mains power from a UPS through NUT (Network UPS Tools): a small asyncio client of upsd's protocol."""

from __future__ import annotations

from drivers.nut.driver import (
    NutClient,
    NutConnectionError,
    NutDriver,
    NutError,
    NutProtocolError,
    NutReplyError,
    Reply,
    UpsStatus,
    parse_reply,
    parse_status,
    quote,
    split_words,
)
from drivers.nut.driver import _percent as _percent

__all__ = [
    "NutClient",
    "NutConnectionError",
    "NutDriver",
    "NutError",
    "NutProtocolError",
    "NutReplyError",
    "Reply",
    "UpsStatus",
    "parse_reply",
    "parse_status",
    "quote",
    "split_words",
]
