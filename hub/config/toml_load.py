"""Reading TOML values: a `_Table` knows its section's keys and checks each value's type and range strictly.

A getter never raises: it reports the problem (file, dotted key, reason) on the context
and returns a default, so that one run lists every problem of the file.
"""

from __future__ import annotations

import difflib
import math
import re
import stat
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from hub.bounds import too_long
from hub.config.addresses import _valid_host
from hub.config.errors import _Context
from hub.config.model import Secret


def _describe(value: Any, *, sensitive: bool = False) -> str:
    """What the TOML value is, for messages; a secret's value is never shown."""
    if isinstance(value, bool):
        kind, shown = "a boolean", str(value).lower()
    elif isinstance(value, int):
        kind, shown = "an integer", str(value)
    elif isinstance(value, float):
        kind, shown = "a float", repr(value)
    elif isinstance(value, str):
        kind, shown = "a string", repr(value if len(value) <= 40 else value[:37] + "...")
    elif isinstance(value, list):
        return "an array"
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, datetime | date | time):
        return "a date/time"
    else:  # pragma: no cover - tomllib produces nothing else
        return type(value).__name__
    return kind if sensitive else f"{kind} ({shown})"


def _suggest(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


T = TypeVar("T", bound=str)


class _Invalid:
    """Marker: the key was present but its value was wrong (already reported)."""


_INVALID = _Invalid()


class _Table:
    """One TOML table being read: checks unknown keys at once, then typed getters report their own errors."""

    def __init__(
        self,
        ctx: _Context,
        data: Mapping[str, Any],
        path: str,
        known: Iterable[str],
        *,
        unknown_is_error: bool = True,
        what: str = "",
    ) -> None:
        self.ctx = ctx
        self.data = data
        self.path = path
        self.known = tuple(known)
        for name in data:
            if name not in self.known:
                reason = f"unknown key{what}{_suggest(name, self.known)}"
                (ctx.error if unknown_is_error else ctx.warn)(self.key(name), reason)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data

    def error(self, name: str, reason: str) -> None:
        self.ctx.error(self.key(name), reason)

    def warn(self, name: str, reason: str) -> None:
        self.ctx.warn(self.key(name), reason)

    def missing(self, name: str) -> None:
        section = f"[{self.path}]" if self.path else "the file"
        self.error(name, f"required key missing in {section}")

    def typed(self, name: str, types: tuple[type, ...], expected: str, *, sensitive: bool = False) -> Any:
        """The raw value if it has one of `types` (bool is never an int), None if absent, else _INVALID."""
        if name not in self.data:
            return None
        value = self.data[name]
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            hint = ""
            if isinstance(value, int) and not isinstance(value, bool) and str in types:
                hint = f' (quote it: "{value}")' if not sensitive else " (quote it)"
            self.error(name, f"expected {expected}, got {_describe(value, sensitive=sensitive)}{hint}")
            return _INVALID
        return value

    # -- strings

    def opt_string(self, name: str, *, nonempty: bool = True) -> str | _Invalid | None:
        value = self.typed(name, (str,), "a string")
        if isinstance(value, str) and nonempty and not value.strip():
            self.error(name, "must not be empty")
            return _INVALID
        if isinstance(value, str) and not self.fits(name, value):
            return _INVALID
        return value  # type: ignore[no-any-return]

    def fits(self, name: str, value: str) -> bool:
        """Names and rooms are at most 64 characters, as everywhere they enter (hub/bounds.py)."""
        reason = too_long(value) if name in ("name", "room") else None
        if reason is not None:
            self.error(name, reason)
        return reason is None

    def string(self, name: str, default: str) -> str:
        value = self.opt_string(name)
        return value if isinstance(value, str) else default

    def optional_string(self, name: str) -> str | None:
        value = self.opt_string(name)
        return value if isinstance(value, str) else None

    def required_string(self, name: str) -> str:
        value = self.opt_string(name)
        if value is None:
            self.missing(name)
        return value if isinstance(value, str) else ""

    def choice(self, name: str, choices: tuple[T, ...], default: T) -> T:
        value = self.opt_string(name)
        if not isinstance(value, str):
            return default
        for option in choices:
            if value == option:
                return option
        listed = ", ".join(f'"{c}"' for c in choices)
        self.error(name, f'unknown value "{value}"; expected one of {listed}{_suggest(value, choices)}')
        return default

    def url(self, name: str, *, required: bool) -> str | None:
        value = self.required_string(name) if required else self.optional_string(name)
        if value and not re.match(r"^https?://[^/\s]+", value):
            self.error(name, f"expected an http:// or https:// URL, got {value!r}")
        return value

    def host(self, name: str, *, required: bool, default: str | None = None) -> str | None:
        value = self.required_string(name) if required else self.optional_string(name)
        if value and not _valid_host(value):
            self.error(name, f"{value!r} is not a valid host name or IP address")
        return value if value or required else default

    # -- numbers and booleans

    def boolean(self, name: str, default: bool) -> bool:
        value = self.typed(name, (bool,), "true or false")
        return value if isinstance(value, bool) else default

    def opt_integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self.typed(name, (int,), "an integer")
        if not isinstance(value, int):
            return None
        if minimum is not None and value < minimum:
            bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            self.error(name, f"{bound}, got {value}")
            return None
        if maximum is not None and value > maximum:
            self.error(name, f"must be at most {maximum}, got {value}")
            return None
        return value

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.opt_integer(name, minimum=minimum, maximum=maximum)
        return default if value is None else value

    def port(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        if required and name not in self.data:
            self.missing(name)
            return None
        value = self.opt_integer(name, minimum=1, maximum=65535)
        return default if value is None else value

    def duration(self, name: str, default: float, *, positive: bool = False) -> float:
        """Seconds: an integer or a float, finite, not negative (or > 0 when `positive`)."""
        value = self.typed(name, (int, float), "a number of seconds")
        if value is None or isinstance(value, _Invalid):
            return default
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self.error(name, f"must be a finite number of seconds, got {value}")
        elif number < 0:
            self.error(name, f"a duration cannot be negative, got {value}")
        elif positive and number == 0:
            self.error(name, "must be more than 0 seconds")
        else:
            return number
        return default

    # -- paths and secrets

    def path_value(self, name: str) -> Path | None:
        value = self.optional_string(name)
        return self.ctx.resolve(value, self.key(name)) if value else None

    def secret(self, name: str, *, env: str | None = None, required: bool = False) -> Secret | None:
        """`name` inline, or the stripped content of the file `name_file`; the variable `env` wins over both."""
        file_key = f"{name}_file"
        env_value = self.ctx.env_value(env) if env else None
        inline = self.typed(name, (str,), "a string", sensitive=True)
        file_name = self.opt_string(file_key)
        if isinstance(inline, str) and isinstance(file_name, str):
            self.error(file_key, f"give {name} or {file_key}, not both")
            return None
        if env_value is not None:
            return Secret(env_value)
        if isinstance(inline, str):
            if not inline.strip():
                self.error(name, "must not be empty")
                return None
            return Secret(inline)
        if isinstance(file_name, str):
            content = self.read_secret_file(file_key, file_name)
            return None if content is None else Secret(content)
        if required and not isinstance(inline, _Invalid) and not isinstance(file_name, _Invalid):
            via = f" or the {env} environment variable" if env else ""
            section = f"[{self.path}]"
            self.error(name, f"required key missing in {section} (set {name}, {file_key}{via})")
        return None

    def read_secret_file(self, file_key: str, file_name: str) -> str | None:
        return _read_secret_file(self.ctx, self.key(file_key), file_name)


def _read_secret_file(ctx: _Context, key: str, file_name: str) -> str | None:
    """The stripped content of a secret file, or None after reporting why it cannot be used."""
    path = ctx.resolve(file_name, key)
    try:
        content = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        ctx.error(key, f"cannot read {path}: {reason}")
        return None
    if not content:
        ctx.error(key, f"{path} is empty")
        return None
    if mode & stat.S_IROTH:
        ctx.warn(key, f"{path} is readable by every user; chmod 600 it")
    return content
