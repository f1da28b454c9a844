"""A third party's driver, shipped as its own package, is checked and run like a built-in one.

The package is written into tmp_path with a `*.dist-info` beside it whose entry_points.txt
registers it in the `casahub.drivers` group: that is all `pip install` would leave, so no
network and no build are needed. `casahub config check` (a child process, the package on
its PYTHONPATH) checks its options with the driver's own `Options` Struct; a demo hub
started with it pairs its fixed device, applies its reading and supervises it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub

ROOT = Path(__file__).resolve().parents[2]

DRIVER = '''
"""Acme's leak sensor on a made-up bus: one fixed device that reports once, then falls silent."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Annotated, Any, ClassVar, Self

import msgspec

from drivers.base import Candidate, DriverContext, DriverError, FixedDevice, Reading, SensorReading


class AcmeOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 4000
    address: str = "acme-leak-1"
    interval: Annotated[float, msgspec.Meta(gt=0)] = 60.0


class AcmeDriver:
    type: ClassVar[str] = "acme"
    Options: ClassVar[builtins.type[AcmeOptions]] = AcmeOptions

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        table = {key: value for key, value in options.items() if key != "type"}
        try:
            self.options = msgspec.convert(table, AcmeOptions)  # the same Struct config check used
        except msgspec.ValidationError as exc:
            raise DriverError(f"acme driver: {exc}") from None
        self._context = context
        self._stopped = asyncio.Event()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()

    async def readings(self) -> AsyncIterator[Reading]:
        at = self._context.clock()
        yield SensorReading(address=self.options.address, kind="water", active=True, at=at)
        await self._stopped.wait()  # then nothing more: supervision must notice

    async def candidates(self) -> list[Candidate]:
        return []

    async def scan(self, seconds: float) -> None:
        return None

    def fixed_devices(self) -> list[FixedDevice]:
        address = self.options.address
        return [FixedDevice(address=address, name="Sensore Acme", model="Acme L1", kinds=("water",), room="Cantina")]

    def expected_interval(self, address: str) -> float | None:
        return self.options.interval if address == self.options.address else None
'''


@pytest.fixture
def acme_site(tmp_path: Path) -> Path:
    """A directory holding the `acme_casahub` package and its installed metadata."""
    site = tmp_path / "site"
    package = site / "acme_casahub"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Acme drivers for casahub."""\n')
    (package / "driver.py").write_text(DRIVER)
    dist = site / "acme_casahub-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-casahub\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[casahub.drivers]\nacme = acme_casahub.driver:AcmeDriver\n")
    return site


def config_check(site: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    command = [sys.executable, "-m", "hub.cli", "config", "check", str(config)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)


def test_config_check_uses_the_drivers_options(acme_site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[drivers]]\ntype = "acme"\nport = 70000\ninterval = "often"\n')
    result = config_check(acme_site, bad)
    assert result.returncode == 2, result
    assert (
        f"error: {bad}: drivers[0].port: expected an integer from 1 to 65535, got an integer (70000)" in result.stderr
    )
    assert f"error: {bad}: drivers[0].interval: expected a positive number, got a string ('often')" in result.stderr
    assert "2 errors" in result.stderr

    good = tmp_path / "good.toml"
    good.write_text('[[drivers]]\ntype = "acme"\nport = 4001\ninterval = 5\nadress = "x"\n')
    result = config_check(acme_site, good)
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[0] == f"OK: {good}"
    assert (
        f'warning: {good}: drivers[0].adress: unknown key for the acme driver; did you mean "address"?' in result.stdout
    )


@pytest.fixture
async def acme_hub(acme_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningHub]:
    monkeypatch.syspath_prepend(str(acme_site))  # what installing the package does, in this process
    monkeypatch.setattr("hub.core.supervision.GROUP_WINDOW", 0.0)
    config = tmp_path / "casahub.toml"
    config.write_text(
        textwrap.dedent(
            """
            [alarm]
            offline_grace = 0

            [[drivers]]
            type = "acme"
            interval = 0.5
            """
        )
    )
    running = await start_hub(tmp_path / "data", config)
    try:
        yield running
    finally:
        await running.stop()
        sys.modules.pop("acme_casahub.driver", None)
        sys.modules.pop("acme_casahub", None)


async def test_a_hub_runs_and_supervises_a_third_party_driver(acme_hub: RunningHub) -> None:
    assert type(acme_hub.daemon.drivers["acme"]).__module__ == "acme_casahub.driver"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(acme_hub.base, session)
        await api.login()
        # Paired from the config as a built-in fixed device is, with its zone.
        devices = [d for d in (await api.get("/api/v1/devices"))["items"] if d["driver"] == "acme"]
        assert [(d["address"], d["name"], d["model"], d["room"]) for d in devices] == [
            ("acme-leak-1", "Sensore Acme", "Acme L1", "Cantina")
        ]
        [device] = devices
        [zone_id] = device["zones"]
        # Its one reading reaches the engine: a water leak alarms whatever the mode.
        for _ in range(100):
            zone = next(z for z in (await api.get("/api/v1/zones"))["items"] if z["id"] == zone_id)
            if zone["active"]:
                break
            await asyncio.sleep(0.05)
        assert zone["kind"] == "water" and zone["active"] is True
        assert (await api.get("/api/v1/system"))["incidents"], "the leak raised no incident"
        # Then it falls silent past its expected interval: offline, a fault (sensor_offline).
        await asyncio.sleep(0.6)
        deadline = time.monotonic() + 10
        anomalies: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            await acme_hub.hub.supervision.check()
            anomalies = (await api.get("/api/v1/anomalies"))["items"]
            if any(a["kind"] == "sensor_offline" and a["device"] == device["id"] for a in anomalies):
                break
            await asyncio.sleep(0.1)
        assert [(a["kind"], a["device"]) for a in anomalies if a["device"] == device["id"]] == [
            ("sensor_offline", device["id"])
        ]
        zone = next(z for z in (await api.get("/api/v1/zones"))["items"] if z["id"] == zone_id)
        assert zone["online"] is False
