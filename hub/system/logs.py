"""Logging set-up for every `casahub` command: text or JSON lines on stderr, per-module levels.

`setup_logging(config.log, level=...)` installs one handler on the root logger (calling it
again replaces it, so `main` can set the defaults first and `serve` apply `[log]` once the
config is read). Under systemd stderr goes to the journal, which adds its own timestamp and
unit; nothing here writes files, so logging never wears the SD card.

- `format = "text"`: `2026-11-25 03:30:00,123 INFO casahub.backup: ...`, as before.
- `format = "json"`: one object per line, `{"ts", "level", "logger", "msg"}` plus `exc` (the
  formatted traceback), `stack` and every `extra={...}` field of the call, for log shippers
  that index fields (`journalctl -o cat | jq`, Loki, Vector).
- `level` is the root level; the `--log-level` flag (or CASAHUB_LOG_LEVEL) wins over it.
  `levels = {"hub.outbox" = "debug"}` sets single loggers (and their children) apart.

Secrets: values the code logs are `Secret`s (printed "***") or never logged at all; as a last
line of defence both formats mask the password of URLs (`https://user:***@host`), which a
library's exception text may quote. No level prints SQL parameters, bind keys, codes, passwords,
tokens or message bodies: the libraries that would at DEBUG (aiosqlite logs every statement with
its parameters) are held at INFO or above, whatever `level` and `levels` say (`QUIET`).
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Any

from hub.config import LOG_LEVELS, LogConfig

__all__ = ["JsonFormatter", "TextFormatter", "parse_level", "setup_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has: whatever else a record carries came from `extra=`.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@")

# The loggers whose level setup_logging set, to put them back when it is called again.
_configured: list[str] = []

# Libraries whose DEBUG output carries secrets: aiosqlite every SQL statement with its parameters
# (password and code hashes, token digests, BTHome bind keys, message bodies in the outbox).
QUIET: tuple[str, ...] = ("aiosqlite",)


def _mask(text: str) -> str:
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def parse_level(text: str) -> int:
    """A level name ("debug" ... "critical", any case) as a logging level; ValueError names the choices."""
    name = text.strip().lower()
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {text!r} (expected one of: {', '.join(LOG_LEVELS)})")
    return int(getattr(logging, name.upper()))


class TextFormatter(logging.Formatter):
    """The classic one-line format, URL passwords masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return _mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped by JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.datetime.fromtimestamp(record.created).astimezone()
        entry: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _mask(record.getMessage()),
        }
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = _mask(record.exc_text)
        if record.stack_info:
            entry["stack"] = _mask(self.formatStack(record.stack_info))
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in entry and not key.startswith("_"):
                entry[key] = _jsonable(value)
        return json.dumps(entry, ensure_ascii=False, default=lambda value: _mask(str(value)))


def _jsonable(value: Any) -> Any:
    # Plain JSON types pass; anything else is shown by str(), like %s would (a Secret is "***").
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _mask(value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return _mask(str(value))


def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "_casahub", False) is True


def setup_logging(config: LogConfig | None = None, *, level: str | None = None, stream: IO[str] | None = None) -> None:
    """Log to `stream` (default stderr) as `config` says; `level` (the CLI flag) overrides `config.level`.

    Raises ValueError for an unknown `level` (the config's levels are checked when it is loaded).
    """
    config = config or LogConfig()
    root_level = parse_level(level if level is not None else config.level)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    handler._casahub = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if _ours(h)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(root_level)
    _set_levels(config.levels)


def _set_levels(levels: Iterable[tuple[str, str]]) -> None:
    for name in _configured:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _configured.clear()
    for name, value in levels:
        logging.getLogger(name).setLevel(parse_level(value))
        _configured.append(name)
    for name in QUIET:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
            if name not in _configured:
                _configured.append(name)
