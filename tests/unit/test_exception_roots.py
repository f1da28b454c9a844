"""One exception root per package (docs/architecture.md): a caller can catch everything the
domain, a driver or a transport raises as one error, and a new error class cannot forget it."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil

import pytest

from alarms.errors import AlarmsError
from drivers.base import DriverError
from hub.transports.base import TransportError

ROOTS = [("alarms", AlarmsError), ("drivers", DriverError), ("hub.transports", TransportError)]


def _modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        names.append(info.name)
    return names


def _own_exceptions(package: str) -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules(package):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # an optional hardware library (gpiod...) missing on this machine
            why = f"{name} needs a library this machine lacks: {exc}; pip install -e '.[dev]'"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(why)  # CI installs every dependency: a missing one is a broken install
            pytest.skip(why)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                found[f"{name}.{obj.__qualname__}"] = obj
    return list(found.values())


@pytest.mark.parametrize(("package", "root"), ROOTS, ids=[p for p, _ in ROOTS])
def test_every_error_a_package_defines_derives_from_its_root(package: str, root: type[Exception]) -> None:
    errors = _own_exceptions(package)
    assert errors, f"no exception classes found in {package}: the walk is broken"
    strays = [f"{e.__module__}.{e.__qualname__}" for e in errors if not issubclass(e, root)]
    assert not strays, f"these errors of {package} do not derive from {root.__name__}: {strays}"
