"""Areas (partitions) on a running hub, through the HTTP API (issue 17).

A flat (`casa`) and its garage (`garage`): the demo's entrance contact is the flat's, its motion
sensor the garage's, and its camera watches the passage between them (both areas). Arming one
area leaves the other free; the shared camera protects only when both are armed; a user limited
to the garage arms only the garage; the centre hears each area as its own partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, RunningHub, configured_hub, logged_in_api, start_hub
from tests.peers import wait_until
from tests.peers.household import household, logged_in
from tests.peers.sia import require_pysiaalarm
from tests.peers.tls import trusted
from tests.security.conftest import accounts_of

CODE = "12345"  # the demo owner's alarm code
AREAS = """
[[areas]]
id = "casa"
name = "Appartamento"

[[areas]]
id = "garage"
name = "Garage"
entry_delay = 0
"""
CONFIG = "[alarm]\nexit_delay = 0\nentry_delay = 20\n" + AREAS


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with configured_hub(tmp_path, CONFIG) as hub:
        yield hub


@pytest.fixture
async def api(running: RunningHub) -> AsyncIterator[Api]:
    async with logged_in_api(running) as client:
        yield client


async def place(api: Api) -> dict[str, str]:
    """The demo's zones put in their areas; returns kind -> zone id."""
    zones = {kind: await api.zone_id(kind) for kind in ("contact", "motion", "camera")}
    for kind, areas in (("contact", ["casa"]), ("motion", ["garage"]), ("camera", ["casa", "garage"])):
        status, body = await api.request("PATCH", f"/api/v1/zones/{zones[kind]}", {"areas": areas})
        assert status == 200 and body["areas"] == areas, body
    return zones


def area(system: dict[str, Any], area_id: str) -> dict[str, Any]:
    return next(a for a in system["areas"] if a["id"] == area_id)


async def intrusion_areas(api: Api) -> list[str | None]:
    return sorted(
        i.get("area") or "" for i in (await api.get("/api/v1/incidents"))["items"] if i["kind"] == "intrusion"
    )


async def test_one_area_armed_the_other_free_and_the_shared_zone_needs_both(api: Api) -> None:
    zones = await place(api)
    system = await api.get("/api/v1/system")
    assert [(a["id"], a["name"], a["mode"]) for a in system["areas"]] == [
        ("casa", "Appartamento", "disarmed"),
        ("garage", "Garage", "disarmed"),
    ]
    assert area(system, "garage")["zones"] == sorted([zones["motion"], zones["camera"]])

    status, system = await api.post("/api/v1/areas/garage/arm", {"mode": "away", "code": CODE})
    assert status == 200, system
    assert (area(system, "garage")["mode"], area(system, "casa")["mode"], system["mode"]) == (
        "armed_away",
        "disarmed",
        "armed_away",
    )
    # The flat's door and the passage (its flat is disarmed) raise nothing.
    for kind in ("contact", "camera"):
        await api.trigger(zones[kind])
        await api.trigger(zones[kind], False)
    assert await intrusion_areas(api) == []

    status, body = await api.post("/api/v1/areas/casa/arm", {"mode": "away", "code": CODE})
    assert status == 200, body
    await api.trigger(zones["camera"])  # now both are armed: the passage protects, in both
    assert await intrusion_areas(api) == ["casa", "garage"]
    system = await api.get("/api/v1/system")
    assert (area(system, "casa")["mode"], area(system, "garage")["mode"]) == ("triggered", "triggered")

    status, system = await api.post("/api/v1/areas/casa/disarm", {"code": CODE})
    assert status == 200 and area(system, "casa")["mode"] == "disarmed" and system["mode"] == "triggered"
    status, system = await api.post("/api/v1/system/disarm", {"code": CODE})
    assert status == 200 and system["mode"] == "disarmed"


async def test_a_garage_code_arms_only_the_garage(api: Api, running: RunningHub) -> None:
    await place(api)
    status, body = await api.post(
        "/api/v1/users",
        {"username": "luca", "password": "luca-pass-1", "role": "member", "code": "24680", "areas": ["garage"]},
    )
    assert status == 201 and body["areas"] == ["garage"], body
    status, body = await api.post("/api/v1/areas/casa/arm", {"mode": "away", "code": "24680"})
    assert status == 403 and body["error"] == "forbidden_area", body
    status, system = await api.post("/api/v1/system/arm", {"mode": "away", "code": "24680"})
    assert status == 200, system
    assert (area(system, "casa")["mode"], area(system, "garage")["mode"]) == ("disarmed", "armed_away")
    status, body = await api.request("PATCH", "/api/v1/users/demo", {"areas": ["garage"]})
    assert status == 400 and body["error"] == "invalid_field:areas", body  # an owner is never limited
    status, body = await api.request("PATCH", "/api/v1/users/luca", {"areas": ["cantina"]})
    assert status == 400 and body["error"] == "invalid_field:areas", body
    assert (await asyncio.to_thread(accounts_of(running).get_user, "luca")).areas == ("garage",)  # type: ignore[union-attr]

    # Coerced to disarm the flat, which his code may not: refused as usual, and the centre is told.
    status, body = await api.request("PATCH", "/api/v1/users/luca", {"duress_code": "13579"})
    assert status == 200, body
    status, body = await api.post("/api/v1/areas/casa/disarm", {"code": "13579"})
    assert status == 403 and body["error"] == "forbidden_area", body
    assert [i.kind for i in running.hub.state.incidents.values()] == ["duress"]

    # Made an owner, his limit goes: it must not come back unseen if he is a member again.
    for role in ("owner", "member"):
        status, body = await api.request("PATCH", "/api/v1/users/luca", {"role": role})
        assert status == 200 and body["areas"] is None, body


async def test_bad_areas_are_refused(api: Api) -> None:
    motion = await api.zone_id("motion")
    for areas in ([], ["cantina"]):
        status, body = await api.request("PATCH", f"/api/v1/zones/{motion}", {"areas": areas})
        assert status == 400 and body["error"] == "invalid_field:areas", body
    status, body = await api.post("/api/v1/areas/cantina/arm", {"mode": "away", "code": CODE})
    assert status == 404 and body["error"] == "unknown_area", body


async def test_the_centre_hears_each_area_as_its_partition(tmp_path: Path) -> None:
    """DC-09 to the real pysiaalarm receiver: the garage's closing is partition 02, the flat's 01."""
    require_pysiaalarm()
    async with household(tmp_path / "peers") as peers:
        config = peers.write_config(tmp_path / "casahub.toml", language="en")
        config.write_text(config.read_text(encoding="utf-8") + AREAS, encoding="utf-8")
        with trusted(peers.cert):
            hub = await start_hub(tmp_path / "data", config)
            try:
                async with logged_in(hub.base) as owner:
                    for area_id in ("garage", "casa"):
                        status, body = await owner.post(f"/api/v1/areas/{area_id}/arm", {"mode": "away", "code": CODE})
                        assert status == 200, body
                    await wait_until(lambda: hub.hub.state.mode == "armed_away", 15, what="armed")
                reports = await peers.centre.wait_reports(2, timeout=15)
                assert [(r.event_qualifier, r.event_type, r.partition) for r in reports] == [
                    ("3", "401", "02"),
                    ("3", "401", "01"),
                ]
            finally:
                await hub.stop()
