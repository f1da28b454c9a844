"""A driver's options: one msgspec Struct per driver, the one validator of its `[[drivers]]` table.

Theory of operation. Each driver class declares `Options`, a `msgspec.Struct` with
`forbid_unknown_fields=True` whose fields carry their bounds
(`Annotated[int, Meta(ge=1, le=65535)]`) and, where bare bounds would read badly, a
`description` ("a fraction of the picture between 0.0001 and 1"). A rule across keys is
checked in `__post_init__`, which raises `OptionError` naming the key it blames.

The same Struct serves twice (docs/architecture.md, "where to add a driver"):
- the driver builds its options with `parse(Options, type, table)`, which raises a
  `DriverError` naming the first bad key;
- `casahub config check` (hub/config/drivers.py) finds the class through the entry point,
  runs `problems(Options, table)`, which lists every bad key as a `Problem`, and words each
  one as the config words its other errors.

`Options.runnable()`, when a Struct has it, holds what a driver needs to start that
`config check` has never required (a zigbee2mqtt broker host, a NUT UPS name): only
`parse` calls it, so a config without them still loads and that one driver does not start.

This module imports no protocol library, so checking options costs no radio stack.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import msgspec.inspect as mi

from drivers.base import DriverError

__all__ = [
    "NAME_MAX",
    "Host",
    "Name",
    "NonEmpty",
    "OptionError",
    "Port",
    "Problem",
    "Seconds",
    "SecondsOrZero",
    "describe_type",
    "option_names",
    "parse",
    "problems",
]

S = TypeVar("S", bound=msgspec.Struct)

NAME_MAX = 64  # names and rooms, as the hub bounds every name people give (hub/bounds.py)
_LONGEST = 1e9  # seconds: bounds a duration, so that inf (and nan) are refused

# Reusable field types. A description says in words what the bounds say in numbers.
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S", description="a non-empty string")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=r"\S", description="a name")]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=_LONGEST, description="a positive number of seconds")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
# A host name, an IPv4 or an IPv6 address (unbracketed); what resolves is the network's business.
Host = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:%-]{1,253}$", description="a host name or IP address")]
SecondsOrZero = Annotated[float, msgspec.Meta(ge=0, le=_LONGEST, description="a number of seconds, 0 or more")]

_SECRET = re.compile(r"(password|secret|token|key)$", re.IGNORECASE)
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_STEP = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]")


class OptionError(DriverError, ValueError):
    """A rule across keys is broken; raised from an Options Struct's `__post_init__` or `runnable`.

    `key` is the key blamed ("mjpeg_url", "lines[1].line"), `reason` says why in a sentence
    that stands alone ("give exactly one of mjpeg_url, snapshot_url or rtsp_url").
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in an options table.

    `key` is the dotted key to report ("port", "lines[0].kind", "mask"); `at` is where the
    value is wrong inside it ("mask[0][2]"; equal to `key` most of the time). `kind` is
    "unknown", "missing", "invalid" or "rule". For "invalid", `expected` says in words what
    the key takes, `value` is the value found at `at`, `reason` replaces the generic wording
    for strings ("must not be empty", "at most 64 characters, got 100"), and `choices` lists
    a Literal's values. For "rule", `reason` is the rule's sentence.
    """

    key: str
    kind: Literal["unknown", "missing", "invalid", "rule"]
    at: str = ""
    expected: str = ""
    value: Any = None
    reason: str = ""
    choices: tuple[str, ...] = ()
    known: tuple[str, ...] = ()  # the keys the table takes (for "did you mean")

    @property
    def sensitive(self) -> bool:
        """The value is a password, a token, a key: never shown."""
        return bool(_SECRET.search(self.key.rsplit(".", 1)[-1]))

    @property
    def parent(self) -> str:
        """The table holding the key: "" at the top, "lines[0]" for "lines[0].kind"."""
        return self.key.rpartition(".")[0]

    @property
    def leaf(self) -> str:
        return self.key.rpartition(".")[2]


def option_names(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    """The keys an Options Struct takes, as written in the config."""
    return tuple(f.encode_name for f in _struct_info(cls).fields)


def parse(cls: type[S], driver: str, table: Mapping[str, Any]) -> S:
    """The driver's options from its `[[drivers]]` table (a `type` key equal to `driver` is
    tolerated, a secret given as an object with `reveal()` is unwrapped); DriverError names the
    first bad key."""
    values = dict(table)
    if "type" in values:
        given = values.pop("type")
        if given != driver:
            raise DriverError(f"{driver} driver given option type = {given!r}")
    for key, value in values.items():
        reveal = getattr(value, "reveal", None)  # a secret the hub wraps so that it is never logged
        if callable(reveal) and not isinstance(value, str):
            values[key] = reveal()
    try:
        options = msgspec.convert(values, cls)
    except msgspec.ValidationError as exc:
        found = problems(cls, values)
        raise DriverError(_driver_sentence(driver, found[0]) if found else f"{driver} driver: {exc}") from None
    runnable = getattr(options, "runnable", None)
    if callable(runnable):
        try:
            runnable()
        except OptionError as exc:
            raise DriverError(f"{driver} driver: {exc.reason}") from None
    return options


def problems(cls: type[msgspec.Struct], table: Mapping[str, Any], prefix: str = "") -> list[Problem]:
    """Every problem of `table` read as `cls`, in the table's order; rules only when no key is bad."""
    info = _struct_info(cls)
    fields = {f.encode_name: f for f in info.fields}
    hints = typing.get_type_hints(cls, include_extras=True)
    known = tuple(fields)
    found: list[Problem] = []
    for key, value in table.items():
        field_info = fields.get(key)
        if field_info is None:
            found.append(Problem(key=prefix + key, kind="unknown", at=prefix + key, known=known))
            continue
        found += _value_problems(hints[field_info.name], field_info.type, value, prefix + key)
    for field_info in info.fields:
        if field_info.required and field_info.encode_name not in table:
            found.append(Problem(key=prefix + field_info.encode_name, kind="missing", known=known))
    if any(p.kind != "unknown" for p in found):
        return found
    try:
        msgspec.convert({k: v for k, v in table.items() if k in fields}, cls)
    except msgspec.ValidationError as exc:
        cause = exc.__cause__
        if isinstance(cause, OptionError):
            found.append(Problem(key=prefix + cause.key, kind="rule", at=prefix + cause.key, reason=cause.reason))
        else:  # pragma: no cover - every field was converted alone above
            found.append(Problem(key=prefix.rstrip("."), kind="rule", reason=str(exc)))
    return found


def describe_type(info: mi.Type) -> str:
    """What a field takes, in words: "an integer from 1 to 65535", "true or false", ..."""
    if isinstance(info, mi.Metadata):
        description = (info.extra_json_schema or {}).get("description")
        return str(description) if description else describe_type(info.type)
    if isinstance(info, mi.UnionType):
        return " or ".join(describe_type(t) for t in info.types if not isinstance(t, mi.NoneType))
    if isinstance(info, mi.BoolType):
        return "true or false"
    if isinstance(info, mi.IntType | mi.FloatType):
        noun = "an integer" if isinstance(info, mi.IntType) else "a number"
        low, high = info.ge if info.ge is not None else info.gt, info.le if info.le is not None else info.lt
        if info.gt == 0 and high is None:
            return f"a positive {noun.split()[-1]}"
        if low is not None and high is not None:
            return f"{noun} from {low:g} to {high:g}"
        if low is not None:
            return f"{noun} of at least {low:g}" if info.gt is None else f"{noun} over {low:g}"
        if high is not None:
            return f"{noun} of at most {high:g}" if info.lt is None else f"{noun} under {high:g}"
        return noun
    if isinstance(info, mi.StrType):
        return "a non-empty string" if info.min_length else "a string"
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in info.values)
    if isinstance(info, mi.ListType | mi.TupleType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        return "an array"
    if isinstance(info, mi.StructType | mi.DictType | mi.TypedDictType | mi.DataclassType):
        return "a table"
    return "a value of another type"


# --------------------------------------------------------------------------- inside


def _struct_info(cls: type[msgspec.Struct]) -> mi.StructType:
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):  # pragma: no cover - callers pass Struct classes
        raise TypeError(f"{cls!r} is not a msgspec Struct")
    return info


def _bare(info: mi.Type) -> mi.Type:
    """The type without its description and without None."""
    if isinstance(info, mi.Metadata):
        return _bare(info.type)
    if isinstance(info, mi.UnionType):
        kept = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return _bare(kept[0]) if len(kept) == 1 else info
    return info


def _value_problems(annotation: Any, info: mi.Type, value: Any, key: str) -> list[Problem]:
    """The problems of one key's value; tables and arrays of tables are checked key by key."""
    bare = _bare(info)
    if isinstance(bare, mi.StructType) and isinstance(value, dict):
        return problems(bare.cls, value, prefix=f"{key}.")
    if isinstance(bare, mi.ListType) and isinstance(_bare(bare.item_type), mi.StructType) and isinstance(value, list):
        item = _bare(bare.item_type)
        assert isinstance(item, mi.StructType)
        inner: list[Problem] = []
        for index, element in enumerate(value):
            if isinstance(element, dict):
                inner += problems(item.cls, element, prefix=f"{key}[{index}].")
            else:
                inner.append(_invalid(key, f"{key}[{index}]", info, element))
        if inner:
            return inner
    try:
        msgspec.convert(value, annotation)
    except msgspec.ValidationError as exc:
        match = _PATH.search(str(exc))
        at = key + (match.group("path") if match else "")
        return [_invalid(key, at, info, _value_at(value, match.group("path") if match else ""))]
    return []


def _invalid(key: str, at: str, info: mi.Type, value: Any) -> Problem:
    bare = _bare(info)
    reason = ""
    if isinstance(bare, mi.StrType) and isinstance(value, str) and at == key:
        if bare.min_length and not value.strip():
            reason = "must not be empty"
        elif bare.max_length is not None and len(value) > bare.max_length:
            reason = f"at most {bare.max_length} characters, got {len(value)}"
    choices: tuple[str, ...] = ()
    if isinstance(bare, mi.LiteralType):
        choices = tuple(str(v) for v in bare.values)
    return Problem(
        key=key, kind="invalid", at=at, expected=describe_type(info), value=value, reason=reason, choices=choices
    )


def _value_at(value: Any, path: str) -> Any:
    """The part of `value` at a msgspec path such as "[0][2]" (the whole value if it cannot be followed)."""
    for step in _STEP.finditer(path):
        try:
            value = value[int(step.group("index"))] if step.group("index") else value[step.group("key")]
        except (LookupError, TypeError, ValueError):
            break
    return value


def _driver_sentence(driver: str, problem: Problem) -> str:
    """A problem in the words drivers have always used: "nut driver: option 'port' must be ..."."""
    if problem.parent:
        where = f"{driver} driver: {problem.parent}: {problem.leaf!r}"
    else:
        where = f"{driver} driver: option {problem.key!r}"
    if problem.kind == "unknown":
        known = ", ".join(problem.known)
        if problem.parent:
            return f"{driver} driver: {problem.parent}: unknown key {problem.leaf!r}; known keys: {known}"
        return f"{driver} driver: unknown option {problem.key!r}; known options: {known}"
    if problem.kind == "missing":
        return f"{where} is required"
    if problem.kind == "rule":
        return f"{driver} driver: {problem.reason}"
    if problem.reason:
        return f"{where} {problem.reason}" if problem.reason.startswith("must") else f"{where} must be {problem.reason}"
    shown = "a hidden value" if problem.sensitive else repr(problem.value)
    if problem.at != problem.key:
        shown = f"{problem.at} = {shown}"
    return f"{where} must be {problem.expected}, got {shown}"
