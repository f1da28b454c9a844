"""What a zone of this kind in this place should be when the installer does not say: the
pairing proposal (README, Pairing), pure.

The first release made every contact a delayed `entry` zone off in home mode, so a bedroom
window paired without options was the burglar's way in. The proposal is safe by default:

- water, smoke, power, panic: `24h`, every mode (a 24h zone alarms in every mode anyway);
- a window (finestra, window, balcone, portafinestra...): `instant`, every mode, never `entry`;
- a door: `instant`, every mode, except the front door (ingresso, entrance, front door...) while
  no zone is the entry yet: `entry` (the one delayed way in the installer chooses), every mode;
- any other contact: `instant`, every mode (a wrongly instant door is a nuisance at worst, a
  wrongly delayed window is a hole);
- motion: `follower`, away and vacation (people move about at home and at night);
- a camera: `instant`, away and vacation.

The place is read from the zone's name, then from the room's when the name says nothing (or
says "door" in the entrance hall), in Italian and English. The API's candidate list and
`GET /api/v1/pairing/proposal` show it (the dashboard pre-fills its form), `POST
/api/v1/devices` applies it to whatever the request leaves out, and the CLI offers it as the
default answer.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from alarms.model import (
    ARM_TARGETS,
    DEFAULT_BEHAVIOUR,
    INCIDENT_FOR_ZONE,
    ArmTarget,
    Behaviour,
    ZoneKind,
)
from alarms.zone_config import DEFAULT_MODES

Place = Literal["window", "door", "front_door"]
PLACES: tuple[Place, ...] = get_args(Place)

# Word beginnings, on words folded to lower-case ASCII: "finestrella", "balconi", "windows".
# Windows are looked for first: a portafinestra or a balcony door is a window to a burglar.
_WINDOW = ("finestr", "portafinestr", "window", "balcon", "lucernar", "skylight", "vetrat", "velux", "oblo")
_DOOR = ("porta", "porte", "portone", "portoncin", "door", "ingress", "entrat", "entranc", "uscio", "cancell", "gate")
# The front door, the one way in that may be delayed: an entrance word ("Ingresso", "Porta
# d'ingresso", "Portone") or a door word after front/main ("front door", "porta principale").
_ENTRANCE = ("ingress", "entrat", "entranc", "portone", "portoncin", "blindat")
_FRONT_PAIRS = {("front", "door"), ("main", "door"), ("porta", "principale")}

INTRUSION_KINDS: frozenset[ZoneKind] = frozenset(k for k, v in INCIDENT_FOR_ZONE.items() if v == "intrusion")


@dataclass(frozen=True)
class Proposal:
    """A zone's proposed configuration, and the place it was read from (None: neither said one)."""

    behaviour: Behaviour
    modes: tuple[ArmTarget, ...]
    chime: bool
    place: Place | None

    def as_json(self) -> dict[str, object]:
        return {"behaviour": self.behaviour, "modes": list(self.modes), "chime": self.chime, "place": self.place}


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return re.findall(r"[a-z]+", "".join(c for c in folded if not unicodedata.combining(c)))


def _starts(word: str, stems: Iterable[str]) -> bool:
    return any(word.startswith(stem) for stem in stems)


def place_of(text: str) -> Place | None:
    """The opening a name speaks of: a window, a front door, another door, or None."""
    words = _words(text)
    if any(_starts(w, _WINDOW) for w in words):
        return "window"
    if not any(_starts(w, _DOOR) for w in words):
        return None
    if any(_starts(w, _ENTRANCE) for w in words) or set(itertools.pairwise(words)) & _FRONT_PAIRS:
        return "front_door"
    return "door"


def propose(kind: ZoneKind, name: str = "", room: str = "", *, entry_taken: bool = False) -> Proposal:
    """The proposal for a zone of `kind` called `name` in `room`; `entry_taken`: a zone of the
    house is already the entry (only the door the installer chose is delayed)."""
    if kind not in INTRUSION_KINDS:
        return Proposal(behaviour="24h", modes=ARM_TARGETS, chime=False, place=None)
    if kind != "contact":
        inside: Behaviour = "follower" if DEFAULT_BEHAVIOUR[kind] == "follower" else "instant"
        return Proposal(behaviour=inside, modes=DEFAULT_MODES[kind], chime=False, place=None)
    # The name says which opening; the room may say which door ("Porta" in the "Ingresso").
    named, where = place_of(name), place_of(room)
    place = where if named is None or (named == "door" and where == "front_door") else named
    behaviour: Behaviour = "entry" if place == "front_door" and not entry_taken else "instant"
    return Proposal(behaviour=behaviour, modes=ARM_TARGETS, chime=False, place=place)


def modes_for(kind: ZoneKind, behaviour: Behaviour) -> tuple[ArmTarget, ...]:
    """The modes proposed once the installer chose the behaviour: a 24h zone and a contact (the
    perimeter, the entry door included) every mode, anything inside the kind's default."""
    if behaviour == "24h" or kind == "contact":
        return ARM_TARGETS
    return DEFAULT_MODES[kind]


def room_named(wanted: str, rooms: Iterable[str]) -> str | None:
    """The existing room `wanted` names, in its own spelling (case and spaces aside), or None."""
    key = " ".join(wanted.split()).casefold()
    return next((r for r in rooms if " ".join(r.split()).casefold() == key), None)
