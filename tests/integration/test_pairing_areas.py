"""Areas at pairing (issue 17, item 2) through the API and the CLI of a running demo hub.

The candidates list the configured areas for the form; a zone is paired into the areas chosen
(none: the first area), and only into areas the config declares (400 `invalid_field:areas`,
nothing paired). `casahub pair add --areas` and `casahub pair zone --areas` set them, and the
CLI names a zone's areas when the house has several.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_pair_cli import Cli, _token

WINDOW, MOTION = "simulated:sim-window-2", "simulated:sim-motion-2"
TWO_AREAS = '[[areas]]\nid = "casa"\nname = "Casa"\n\n[[areas]]\nid = "garage"\nname = "Garage"\n'


async def test_one_area_the_first_and_no_other(api: Api) -> None:
    answer = await api.get("/api/v1/pairing/candidates")
    assert answer["areas"] == [{"id": "casa", "name": "Casa"}], answer
    for wrong in (["garage"], [], ["casa", "Casa"]):
        zones = [{"kind": "contact", "areas": wrong}]
        status, body = await api.post("/api/v1/devices", {"candidate": WINDOW, "name": "Finestra", "zones": zones})
        assert (status, body["error"]) == (400, "invalid_field:areas"), (wrong, body)
    assert WINDOW in {c["id"] for c in (await api.get("/api/v1/pairing/candidates"))["items"]}, "nothing paired"
    zones = [{"kind": "contact", "areas": ["casa", "casa"]}]
    status, device = await api.post("/api/v1/devices", {"candidate": WINDOW, "name": "Finestra", "zones": zones})
    assert status == 201, device


@pytest.fixture
async def two_areas(tmp_path: Path) -> AsyncIterator[RunningHub]:
    config = tmp_path / "casahub.toml"
    config.write_text(TWO_AREAS, encoding="utf-8")
    running = await start_hub(tmp_path / "data", config)
    try:
        yield running
    finally:
        await running.stop()


async def test_two_areas_through_the_api_and_the_cli(two_areas: RunningHub, tmp_path: Path) -> None:
    cli = Cli(two_areas, _token(two_areas), tmp_path / "xdg")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(two_areas.base, session)
        await api.login()
        answer = await api.get("/api/v1/pairing/candidates")
        assert answer["areas"] == [{"id": "casa", "name": "Casa"}, {"id": "garage", "name": "Garage"}]

        # the API: areas chosen (in the config's order), or the first one
        zones = [{"kind": "contact", "areas": ["garage", "casa"]}]
        status, device = await api.post("/api/v1/devices", {"candidate": WINDOW, "name": "Finestra", "zones": zones})
        assert status == 201, device
        assert (await api.get(f"/api/v1/zones/{device['zones'][0]}"))["areas"] == ["casa", "garage"]
        await cli.json("pair", "remove", device["id"])
        status, device = await api.post("/api/v1/devices", {"candidate": WINDOW, "name": "Finestra"})
        assert status == 201, device
        assert (await api.get(f"/api/v1/zones/{device['zones'][0]}"))["areas"] == ["casa"]

        # the CLI: --areas at pairing and later; an unknown area is refused in one line
        line = await cli.error("pair", "add", MOTION, "--name", "Sensore garage", "--areas", "box")
        assert "areas" in line and "box" in line, line
        device = await cli.json("pair", "add", MOTION, "--name", "Sensore garage", "--areas", "garage")
        zone_id = device["zones"][0]
        assert (await api.get(f"/api/v1/zones/{zone_id}"))["areas"] == ["garage"]
        r = await cli_text(cli, "pair", "zone", zone_id, "--areas", "casa,garage")
        assert "in Casa, Garage" in r, r
        assert (await api.get(f"/api/v1/zones/{zone_id}"))["areas"] == ["casa", "garage"]

        # on a terminal, without --areas, the CLI asks which (the first area offered)
        await cli.json("pair", "remove", "simulated-sim-window-2")
        code, out = await asyncio.to_thread(
            cli.terminal,
            "pair", "add", WINDOW, "--name", "Finestra box", "--room", "",
            answers=[("Areas: casa (Casa), garage (Garage). In which [casa]", "garage"), ("Keep it?", "y")],
        )  # fmt: skip
        assert code == 0, out
        assert "in Garage)" in out, out
        assert (await api.get("/api/v1/zones/simulated-sim-window-2"))["areas"] == ["garage"]


async def cli_text(cli: Cli, *args: str) -> str:
    r = await asyncio.to_thread(cli.run, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout
