"""Finds driver classes by type name through the `casahub.drivers` entry-point group.

A third party ships a driver as its own package by declaring, in its pyproject,

    [project.entry-points."casahub.drivers"]
    mytype = "mypackage.driver:MyDriver"

where `MyDriver.type == "mytype"`. Nothing is imported until a driver is loaded, so a
driver whose optional dependencies are missing only fails when a config asks for it.

`load_options` gives a driver's `Options` Struct (drivers/options.py), which `casahub config
check` uses to check that driver's `[[drivers]]` tables, a third party's as a built-in's.
It loads the class through the same entry point: a driver module imports its protocol
library where it connects, not at the top, so that checking a config stays light.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import cast

import msgspec

from drivers.base import Driver, DriverError, UnknownDriver

__all__ = ["BUILTIN_TYPES", "GROUP", "driver_types", "load_driver", "load_options"]

GROUP = "casahub.drivers"
# The types this distribution registers, in the order config/casahub.toml documents them;
# known even where the package metadata is missing (a checkout run without `pip install -e`).
BUILTIN_TYPES: tuple[str, ...] = ("simulated", "bthome", "zigbee2mqtt", "nut", "power_supply", "gpio", "camera")

# What a loaded object must have to be run as a driver (see drivers.base.Driver).
_DRIVER_METHODS = (
    "__aenter__",
    "__aexit__",
    "readings",
    "candidates",
    "scan",
    "fixed_devices",
    "expected_interval",
)


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # two distributions claiming one name: the first found wins
    return dict(sorted(found.items()))


def driver_types() -> dict[str, str]:
    """Registered driver types, sorted: type name -> entry-point value ("module:Class")."""
    return {name: ep.value for name, ep in _entry_points().items()}


def load_driver(type_name: str) -> type[Driver]:
    """Import and return the driver class registered as `type_name`.

    Raises UnknownDriver (listing the known types) when no such type is registered, and
    DriverError when the entry point cannot be imported or is not a driver class.
    """
    found = _entry_points()
    ep = found.get(type_name)
    if ep is None:
        known = ", ".join(found) or "none (is casahub installed? run `pip install -e .` in the checkout)"
        raise UnknownDriver(f"unknown driver type {type_name!r}; known types: {known}")
    try:
        obj = ep.load()
    except Exception as exc:
        raise DriverError(
            f"driver type {type_name!r} ({ep.value}) cannot be loaded: {exc}; "
            "install the package that provides it with its dependencies"
        ) from exc
    if not isinstance(obj, type):
        raise DriverError(f"driver type {type_name!r} ({ep.value}) is not a class")
    missing = [name for name in _DRIVER_METHODS if not callable(getattr(obj, name, None))]
    if missing:
        raise DriverError(f"driver type {type_name!r} ({ep.value}) is not a driver: it lacks {', '.join(missing)}")
    declared = getattr(obj, "type", None)
    if declared != type_name:
        raise DriverError(
            f"driver type {type_name!r} ({ep.value}) declares type {declared!r}; "
            "the entry-point name and the class's `type` must match"
        )
    return cast("type[Driver]", obj)


def load_options(type_name: str) -> type[msgspec.Struct] | None:
    """The `Options` Struct the driver registered as `type_name` declares; None when it declares none.

    Raises what `load_driver` raises, and DriverError when `Options` is not a msgspec Struct.
    """
    cls = load_driver(type_name)
    options = getattr(cls, "Options", None)
    if options is None:
        return None
    if not (isinstance(options, type) and issubclass(options, msgspec.Struct)):
        raise DriverError(f"driver type {type_name!r}: its Options is not a msgspec.Struct (drivers/options.py)")
    return options
