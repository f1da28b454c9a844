"""The history's human categories: GET /api/v1/events?category= on a running demo hub.

Each category returns exactly its kinds (listed ones and kinds by prefix, `_` taken literally),
pages with the `before=` cursor like the unfiltered list, and an unknown category is a 400
naming the field.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.web.events_api import EVENT_CATEGORIES
from tests.conftest import Api, RunningHub

KINDS = {
    "alarms": ["incident_opened", "incident_acknowledged", "activation_added", "siren_on"],
    "arming": ["mode_changed", "arm_request", "bad_code", "wrong_codes", "wrong_code_limit"],
    "zones": ["zone_excluded", "zone_included", "sensor_changed", "exclusion_refused", "swinger_shutdown"],
    "devices": ["device_paired", "device_health", "walk_test_started", "camera_viewed"],
    "faults": ["anomaly_raised", "system_fault", "clock_step"],
    "access": ["login", "login_failed", "user_added", "token_revoked", "contact_added"],
    "system": ["tick", "configure", "hub_started", "alarm_settings_saved"],
}
# Look-alikes that a LIKE with an unescaped "_" would take into a category.
STRAYS = ["zoneXexcluded", "incidentXopened", "devicesX", "other_thing"]


async def all_pages(api: Api, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    before = ""
    for _ in range(100):
        page = await api.get(f"/api/v1/events?{query}&limit=3{before}")
        items.extend(page["items"])
        if page["next"] is None:
            return items
        before = f"&before={page['next']}"
    raise AssertionError("the cursor never ended")


async def test_categories_filter_the_event_log(running_hub: RunningHub) -> None:
    assert set(KINDS) == set(EVENT_CATEGORIES)
    hub = running_hub.hub
    for kinds in KINDS.values():
        for kind in kinds:
            await hub.db.execute("INSERT INTO events (at, kind, actor) VALUES (?, ?, 'test')", (hub.clock(), kind))
    for kind in STRAYS:
        await hub.db.execute("INSERT INTO events (at, kind, actor) VALUES (?, ?, 'test')", (hub.clock(), kind))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(running_hub.base, session)
        await api.login()
        seen: dict[str, set[str]] = {}
        for category, kinds in KINDS.items():
            items = await all_pages(api, f"category={category}")
            got = {e["kind"] for e in items}
            assert set(kinds) <= got, (category, set(kinds) - got)
            assert not got & set(STRAYS), (category, got & set(STRAYS))
            for other, other_kinds in KINDS.items():
                if other != category:
                    assert not got & set(other_kinds), (category, other, got & set(other_kinds))
            ids = [int(e["id"]) for e in items]
            assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)), category
            seen[category] = got
        # the categories do not overlap, whatever the demo wrote by itself
        for category, got in seen.items():
            for other, other_got in seen.items():
                assert category == other or not got & other_got, (category, other, got & other_got)
        # with another filter: both apply
        zoned = await api.get("/api/v1/events?category=zones&kind=zone_excluded")
        assert [e["kind"] for e in zoned["items"]] == ["zone_excluded"]
        status, body = await api.request("GET", "/api/v1/events?category=alarmi")
        assert status == 400 and body["field"] == "category", body
