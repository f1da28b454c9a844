"""[[drivers]]: each entry's type must be registered, and the driver's own `Options` checks the rest.

The shell knows only what every driver shares: `type`, a `password_file` (read here into
`password`, as for the other sections' secrets, so the driver gets a plain string), the
environment variable a driver's Options names in `password_env`, and `name` (two drivers of
one type with one name would give their devices one address). Every other key belongs to
its driver: the class registered for the type (drivers/registry.py) declares an `Options`
msgspec Struct, the one validator the driver itself builds its options with
(drivers/options.py), and each of its problems is reported here as the config reports the
others: file, dotted key, reason. So a third-party driver's options are checked as a
built-in's are. A key the Struct does not know only warns (config/casahub.toml documents
the options, a driver may be newer than the hub); a driver that cannot be loaded, or that
declares no Options, has its options passed on unchecked.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from drivers.base import DriverError
from drivers.options import Problem, option_names, problems
from drivers.registry import BUILTIN_TYPES, GROUP, load_options
from hub.config.errors import _Context
from hub.config.model import DriverConfig
from hub.config.toml_load import _describe, _read_secret_file, _suggest

# The built-in types, for importers of the single-module hub.config; the list is the drivers'.
BUILTIN_DRIVERS: tuple[str, ...] = BUILTIN_TYPES
DRIVER_ENTRY_POINT_GROUP = GROUP


def known_driver_types() -> tuple[str, ...]:
    """The built-in driver types plus every name registered in the `casahub.drivers` entry-point group."""
    # Looked up on the package, where it was when hub.config was one module: whoever replaces
    # hub.config.entry_points (tests/unit/test_config.py does) is heard here too.
    import hub.config

    names = set(BUILTIN_DRIVERS)
    try:
        names.update(ep.name for ep in hub.config.entry_points(group=DRIVER_ENTRY_POINT_GROUP))
    except Exception:  # a broken installed distribution must not make every config invalid
        pass
    return tuple(sorted(names))


def _drivers(ctx: _Context, items: list[Any]) -> tuple[DriverConfig, ...]:
    known_types = known_driver_types()
    drivers: list[DriverConfig] = []
    named: dict[tuple[str, str], int] = {}  # (type, name as a slug) -> the first entry's index
    classes: dict[str, type[msgspec.Struct] | None] = {}
    for index, item in enumerate(items):
        path = f"drivers[{index}]"
        type_value = item.get("type")
        if type_value is None:
            ctx.error(f"{path}.type", "required key missing in [[drivers]]")
            continue
        if not isinstance(type_value, str):
            ctx.error(f"{path}.type", f"expected a string, got {_describe(type_value)}")
            continue
        if type_value not in known_types:
            listed = ", ".join(known_types)
            ctx.error(
                f"{path}.type",
                f'unknown driver type "{type_value}"{_suggest(type_value, known_types)} (known: {listed})',
            )
            continue
        if type_value not in classes:
            classes[type_value] = _options_class(ctx, path, type_value)
        options_class = classes[type_value]
        options = {name: value for name, value in item.items() if name != "type"}
        names = option_names(options_class) if options_class is not None else None
        if names is not None:
            _warn_unknown(ctx, path, type_value, names, options)
        _resolve_password(ctx, path, options, getattr(options_class, "password_env", None))
        if options_class is not None and names is not None:
            for problem in problems(options_class, {k: v for k, v in options.items() if k in names}):
                ctx.error(f"{path}.{problem.key}", _reason(path, problem))
        name = options.get("name")
        if isinstance(name, str) and name.strip():
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            first = named.setdefault((type_value, slug), index)
            if first != index:
                ctx.error(f"{path}.name", f"drivers[{first}] is a {type_value} with the same name; name each one")
        drivers.append(DriverConfig(type=type_value, options=options))
    return tuple(drivers)


def _options_class(ctx: _Context, path: str, type_name: str) -> type[msgspec.Struct] | None:
    """The driver's Options Struct; a driver that cannot be loaded is the daemon's to report at start."""
    try:
        return load_options(type_name)
    except DriverError as exc:
        ctx.warn(f"{path}.type", f"options not checked: {exc}")
        return None


def _warn_unknown(ctx: _Context, path: str, driver: str, names: tuple[str, ...], options: dict[str, Any]) -> None:
    known = ["type", *names, *(["password_file"] if "password" in names else [])]
    for key in options:
        if key not in known:
            ctx.warn(f"{path}.{key}", f"unknown key for the {driver} driver{_suggest(key, known)}")


def _resolve_password(ctx: _Context, path: str, options: dict[str, Any], env: object) -> None:
    """`password_file` becomes `password`; the driver's environment variable, when set, wins over both."""
    env_password = ctx.env_value(env) if isinstance(env, str) else None
    if "password_file" in options:
        file_name = options.pop("password_file")
        if "password" in options:
            ctx.error(f"{path}.password_file", "give password or password_file, not both")
        elif not isinstance(file_name, str) or not file_name:
            ctx.error(f"{path}.password_file", f"expected a file name, got {_describe(file_name)}")
        elif env_password is None:
            content = _read_secret_file(ctx, f"{path}.password_file", file_name)
            if content is not None:
                options["password"] = content
    if env_password is not None:
        options["password"] = env_password


def _reason(path: str, problem: Problem) -> str:
    """A driver option's problem in the config's words (hub/config/toml_load.py words the rest)."""
    if problem.kind == "unknown":  # inside a table of the options (a gpio line): an error, as in any table
        return f"unknown key{_suggest(problem.leaf, problem.known)}"
    if problem.kind == "missing":
        return f"required key missing in [{path}{'.' + problem.parent if problem.parent else ''}]"
    if problem.kind == "rule" or problem.reason:
        return problem.reason
    value = problem.value
    if problem.choices and isinstance(value, str) and problem.at == problem.key:
        listed = ", ".join(f'"{c}"' for c in problem.choices)
        return f'unknown value "{value}"; expected one of {listed}{_suggest(value, problem.choices)}'
    found = _describe(value, sensitive=problem.sensitive)
    if problem.at != problem.key:
        return f"expected {problem.expected}; {problem.at} is {found}"
    return f"expected {problem.expected}, got {found}"
