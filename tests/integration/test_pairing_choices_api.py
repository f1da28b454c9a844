"""Pairing's choices and proposal through the API of a running demo hub (issue 17, item 6).

A zone paired with behaviour, modes and chime gets them; one paired without gets the proposal
(the bedroom window of the first release: instant in every mode, not a delayed entry off at
home); a room must be one in use or be created with `new_room`; the candidates carry the
proposal per kind and the rooms; GET /api/v1/pairing/proposal answers for a name and room.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.conftest import Api

WINDOW, MOTION, WATER = "simulated:sim-window-2", "simulated:sim-motion-2", "simulated:sim-water-2"
ALL = ["home", "away", "night", "vacation"]


async def pair(api: Api, body: dict[str, Any]) -> tuple[int, Any]:
    status, answer = await api.post("/api/v1/devices", body)
    return status, answer


async def zone_of(api: Api, device: dict[str, Any]) -> dict[str, Any]:
    [zone_id] = device["zones"]
    zone: dict[str, Any] = await api.get(f"/api/v1/zones/{zone_id}")
    return zone


def settings(zone: dict[str, Any]) -> tuple[Any, ...]:
    return zone["behaviour"], zone["modes"], zone["home"], zone["chime"], zone["room"]


async def test_explicit_choices_are_set(api: Api) -> None:
    body = {
        "candidate": WINDOW,
        "name": "Finestra camera",
        "room": "Camera da letto",
        "zones": [{"kind": "contact", "behaviour": "instant", "modes": ["night", "away", "night"], "chime": True}],
    }
    status, device = await pair(api, body)
    assert status == 201, device
    assert settings(await zone_of(api, device)) == ("instant", ["away", "night"], False, True, "Camera da letto")


async def test_without_choices_the_proposal(api: Api) -> None:
    status, device = await pair(api, {"candidate": WINDOW, "name": "Finestra camera", "room": "Camera da letto"})
    assert status == 201, device
    assert settings(await zone_of(api, device)) == ("instant", ALL, True, False, "Camera da letto")
    status, device = await pair(api, {"candidate": MOTION, "name": "Sensore garage", "room": "Soggiorno"})
    assert status == 201, device
    assert settings(await zone_of(api, device)) == ("follower", ["away", "vacation"], False, False, "Soggiorno")
    status, device = await pair(api, {"candidate": WATER, "name": "Lavatrice", "room": "Cucina"})
    assert status == 201, device
    assert (await zone_of(api, device))["behaviour"] == "24h"


async def test_part_chosen_the_rest_proposed(api: Api) -> None:
    # the behaviour chosen: the modes of a contact are every mode; the modes chosen: the behaviour proposed
    zones: list[dict[str, Any]] = [{"kind": "contact", "behaviour": "entry"}]
    status, device = await pair(api, {"candidate": WINDOW, "name": "Porta retro", "room": "Cucina", "zones": zones})
    assert status == 201, device
    assert settings(await zone_of(api, device)) == ("entry", ALL, True, False, "Cucina")
    zones = [{"kind": "motion", "modes": ["night"], "chime": True}]
    status, device = await pair(api, {"candidate": MOTION, "name": "Corridoio notte", "room": "Cucina", "zones": zones})
    assert status == 201, device
    assert settings(await zone_of(api, device)) == ("follower", ["night"], False, True, "Cucina")


async def test_wrong_choices_are_refused_and_nothing_is_paired(api: Api) -> None:
    cases = [
        ({"kind": "contact", "modes": []}, "invalid_field:modes"),
        ({"kind": "contact", "modes": ["home"], "home": False}, "invalid_field:home"),
        ({"kind": "contact", "modes": ["weekend"]}, "invalid_field"),
        ({"kind": "contact", "chime": "yes"}, "invalid_field"),
        ({"kind": "water", "behaviour": "instant"}, "invalid_field:behaviour"),
    ]
    for zone, error in cases:
        status, body = await pair(api, {"candidate": WINDOW, "name": "X", "room": "Cucina", "zones": [zone]})
        assert status == 400 and body["error"].startswith(error), (zone, body)
    candidates = (await api.get("/api/v1/pairing/candidates"))["items"]
    assert WINDOW in {c["id"] for c in candidates}


async def test_rooms_exist_or_are_created_on_purpose(api: Api) -> None:
    status, body = await pair(api, {"candidate": WINDOW, "name": "Finestra", "room": "Camra da letto"})
    assert (status, body["error"], body["field"]) == (400, "unknown_room", "room"), body
    assert "Camera da letto" in body["rooms"] and "new_room" in body["message"]
    assert WINDOW in {c["id"] for c in (await api.get("/api/v1/pairing/candidates"))["items"]}
    assert "Camra da letto" not in {d["room"] for d in (await api.get("/api/v1/devices"))["items"]}
    # case and spaces aside, the room in use in its own spelling
    status, device = await pair(api, {"candidate": WINDOW, "name": "Finestra", "room": " camera  DA letto "})
    assert status == 201 and device["room"] == "Camera da letto", device
    assert (await zone_of(api, device))["room"] == "Camera da letto"
    # created on purpose; then it is a room in use
    status, device = await pair(api, {"candidate": MOTION, "name": "Garage", "room": "Garage", "new_room": True})
    assert status == 201 and device["room"] == "Garage", device
    assert "Garage" in (await api.get("/api/v1/pairing/candidates"))["rooms"]
    status, device = await pair(api, {"candidate": WATER, "name": "Lavatrice", "room": "garage"})
    assert status == 201 and device["room"] == "Garage", device
    # no room is no room
    await api.request("DELETE", f"/api/v1/devices/{device['id']}")
    status, device = await pair(api, {"candidate": WATER, "name": "Lavatrice", "room": ""})
    assert status == 201 and device["room"] == "", device


async def test_candidates_and_the_proposal_route(api: Api) -> None:
    answer = await api.get("/api/v1/pairing/candidates")
    assert answer["rooms"] == sorted(answer["rooms"], key=str.casefold) and "Ingresso" in answer["rooms"]
    window = next(c for c in answer["items"] if c["id"] == WINDOW)
    assert window["proposal"] == {"contact": {"behaviour": "instant", "modes": ALL, "chime": False, "place": None}}
    motion = next(c for c in answer["items"] if c["id"] == MOTION)
    assert motion["proposal"]["motion"]["behaviour"] == "follower"

    async def proposal(**query: str) -> Any:
        return await api.get(f"/api/v1/pairing/proposal?{urlencode(query)}")

    made = await proposal(kind="contact", name="Finestra camera", room="camera da letto")
    assert made == {
        "kind": "contact",
        "behaviour": "instant",
        "modes": ALL,
        "chime": False,
        "place": "window",
        "room": "Camera da letto",
    }
    # the demo's front door is the entry already: another front door is proposed instant
    made = await proposal(kind="contact", name="Porta d'ingresso", room="Nuova")
    assert (made["behaviour"], made["place"], made["room"]) == ("instant", "front_door", None)
    status, body = await api.request("PATCH", "/api/v1/zones/simulated-sim-contact-1", {"behaviour": "instant"})
    assert status == 200, body
    assert (await proposal(kind="contact", name="Porta d'ingresso"))["behaviour"] == "entry"
    assert (await proposal(kind="smoke", name="Porta d'ingresso"))["behaviour"] == "24h"
    for bad in ({"kind": "door"}, {}, {"kind": "contact", "name": "x" * 65}):
        status, body = await api.request("GET", f"/api/v1/pairing/proposal?{urlencode(bad)}")
        assert status == 400 and body["error"].startswith("invalid_field"), (bad, body)
