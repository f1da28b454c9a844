"""The pairing proposal (hub/core/pairing_defaults.py): what a zone of a kind in a place becomes
when the installer does not choose. Examples in Italian and English, then hypothesis over any
names, rooms and kinds: never `entry` for a window, every intrusion zone watched in at least
one mode, the 24h kinds always 24h, only one entry proposed while none is taken."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alarms.model import ARM_TARGETS, ZONE_KINDS, ZoneKind
from hub.core.pairing_defaults import INTRUSION_KINDS, modes_for, place_of, propose, room_named

ALL = ARM_TARGETS
INSIDE = ("away", "vacation")


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("Finestra camera", "window"),
        ("Finestrella bagno", "window"),
        ("Portafinestra soggiorno", "window"),
        ("Porta-finestra cucina", "window"),
        ("Balcone", "window"),
        ("Bedroom window", "window"),
        ("Balcony door", "window"),
        ("Porta ingresso", "front_door"),
        ("Porta d'ingresso", "front_door"),
        ("Ingresso", "front_door"),
        ("Entrance", "front_door"),
        ("Front door", "front_door"),
        ("Portone", "front_door"),
        ("Porta principale", "front_door"),
        ("Porta garage", "door"),
        ("Back door", "door"),
        ("Porta camera principale", "door"),
        ("Sensore 1", None),
        ("", None),
    ],
)
def test_the_place_is_read_from_the_words(name: str, place: str | None) -> None:
    assert place_of(name) == place


def test_the_bedroom_window_of_the_first_release_is_instant_in_every_mode() -> None:
    made = propose("contact", "Finestra camera", "Camera da letto")
    assert (made.behaviour, made.modes, made.chime, made.place) == ("instant", ALL, False, "window")


def test_the_front_door_is_the_entry_until_one_is_chosen() -> None:
    front = propose("contact", "Porta ingresso")
    assert (front.behaviour, front.modes) == ("entry", ALL)
    assert propose("contact", "Porta ingresso", entry_taken=True).behaviour == "instant"
    assert propose("contact", "Porta garage").behaviour == "instant"
    # the name says nothing: the room may (the hall's contact is its door)
    assert propose("contact", "Contatto", "Ingresso").behaviour == "entry"
    assert propose("contact", "Porta", "Ingresso").behaviour == "entry"  # which door: the room says
    assert propose("contact", "Porta", "Camera").behaviour == "instant"
    # the name wins over the room: a window in the hall stays a window
    assert propose("contact", "Finestra", "Ingresso").behaviour == "instant"
    assert propose("contact", "Sensore 1", "Camera").behaviour == "instant"


def test_inside_and_24h_kinds() -> None:
    assert (propose("motion", "Sensore movimento").behaviour, propose("motion").modes) == ("follower", INSIDE)
    assert (propose("camera").behaviour, propose("camera").modes) == ("instant", INSIDE)
    for kind in ("water", "smoke", "power", "panic"):
        assert (propose(kind, "Porta ingresso").behaviour, propose(kind).modes) == ("24h", ALL)


def test_modes_once_the_behaviour_is_chosen() -> None:
    assert modes_for("contact", "entry") == ALL and modes_for("contact", "instant") == ALL
    assert modes_for("motion", "instant") == INSIDE and modes_for("motion", "24h") == ALL


def test_rooms_are_matched_case_and_spaces_aside() -> None:
    rooms = ["Camera da letto", "Cucina"]
    assert room_named("camera  da LETTO ", rooms) == "Camera da letto"
    assert room_named("Camra da letto", rooms) is None


WORDS = st.sampled_from(
    [
        "porta", "finestra", "portafinestra", "balcone", "ingresso", "door", "window", "front", "main",
        "entrance", "camera", "cucina", "garage", "principale", "d'ingresso", "Bagno", "Ingresso", "1",
    ]
)  # fmt: skip
TEXT = st.one_of(st.lists(WORDS, max_size=4).map(" ".join), st.text(max_size=40))


@given(kind=st.sampled_from(ZONE_KINDS), name=TEXT, room=TEXT, taken=st.booleans())
def test_the_proposal_is_always_safe(kind: ZoneKind, name: str, room: str, taken: bool) -> None:
    made = propose(kind, name, room, entry_taken=taken)
    if kind not in INTRUSION_KINDS:
        assert made.behaviour == "24h" and made.modes == ALL
        return
    assert made.behaviour != "24h" and made.modes, made  # every intrusion zone is watched somewhere
    assert set(made.modes) <= set(ALL) and list(made.modes) == [m for m in ALL if m in made.modes]
    named = place_of(name) or place_of(room)
    window = kind == "contact" and named == "window"
    if made.behaviour == "entry":
        assert kind == "contact" and not taken and not window and made.modes == ALL
    if window:
        assert (made.behaviour, made.modes) == ("instant", ALL)
    assert made.chime is False  # nothing beeps unless the installer says so
