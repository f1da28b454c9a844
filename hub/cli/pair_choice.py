"""What `casahub pair add` asks the hub to make of a device: the room (one that exists, or a new
one said so with `--new-room`: a typo never makes a room) and each zone's behaviour, armed modes,
chime and areas (`--behaviour`, `--modes`, `--chime`, `--areas`; left out: the hub's proposal,
which a terminal shows and lets the installer change, and the first area).
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlencode

from hub.bounds import NAME_MAX
from hub.cli.client import HubSession, RemoteError

YES = ("y", "yes", "s", "si", "sì")
NO = ("n", "no")


def ask(question: str, default: str | None = None) -> str:
    suffix = f" [{default}]" if default else ""
    try:
        answer = input(f"{question}{suffix}: ").strip()
    except EOFError:
        raise RemoteError("no answer given") from None
    return answer or (default or "")


def parse_modes(text: str) -> list[str]:
    """`home,night` (commas or spaces) as a list; the hub names a wrong mode."""
    from alarms.model import ARM_TARGETS

    modes = [m for m in text.replace(",", " ").split() if m]
    wrong = [m for m in modes if m not in ARM_TARGETS]
    if wrong or not modes:
        raise RemoteError(f"--modes: a comma-separated list of {', '.join(ARM_TARGETS)} (got {text!r})")
    return list(dict.fromkeys(modes))


def parse_areas(text: str) -> list[str]:
    """`casa,garage` (commas or spaces) as a list of area ids; the hub names an unknown one."""
    areas = [a for a in text.replace(",", " ").split() if a]
    if not areas:
        raise RemoteError(f"--areas: a comma-separated list of area ids, e.g. casa,garage (got {text!r})")
    return list(dict.fromkeys(areas))


async def configured_areas(hub: HubSession) -> list[dict[str, str]]:
    """The areas of the hub ({id, name}); an older hub lists none."""
    return list((await hub.call("GET", "/api/v1/pairing/candidates")).get("areas") or [])


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


async def choose_room(hub: HubSession, room: str | None, new_room: bool, tty: bool) -> tuple[str, bool]:
    """The room to pair into and whether it is new: an existing one in its own spelling, none
    (empty), or one the installer creates on purpose (`--new-room`, or yes on a terminal)."""
    rooms: list[str] | None = (await hub.call("GET", "/api/v1/pairing/candidates")).get("rooms")
    listed = ", ".join(rooms or ()) or "none yet"
    if room is None:
        if not tty:
            return "", False
        print(f"Rooms: {listed}")
        room = ask("Room (one of these, a new one, or empty)")
    for _ in range(5):
        room = " ".join(room.split())
        if not room or rooms is None or len(room) > NAME_MAX:  # an older hub takes any; the hub says "too long"
            return room, new_room and bool(room)
        existing = next((r for r in rooms if _same(r, room)), None)
        if existing is not None:
            return existing, False
        if new_room:
            return room, True
        if not tty:
            raise RemoteError(f"there is no room {room!r} (rooms: {listed}): name one, or pass --new-room to create it")
        if ask(f"There is no room {room!r} yet: create it? [y/N]").lower() in YES:
            return room, True
        room = ask(f"Room ({listed})")
    raise RemoteError("no room chosen")


def _describe(kind: str, p: dict[str, Any]) -> str:
    chime = ", chime" if p.get("chime") else ""
    return f"{kind} zone: {p['behaviour']}, armed in {', '.join(p['modes'])}{chime}"


async def zone_bodies(
    hub: HubSession, args: argparse.Namespace, kinds: list[str], name: str, room: str, tty: bool
) -> list[dict[str, Any]]:
    """The `zones` of the pairing request: what the options say; on a terminal with none of them,
    the hub's proposal for each intrusion zone, kept or changed by the installer."""
    modes = parse_modes(args.modes) if args.modes else None
    areas = parse_areas(args.areas) if args.areas else None
    if areas is None and tty:
        # Several areas: which one the zones join (one area: nothing about areas to ask).
        known = await configured_areas(hub)
        if len(known) > 1:
            listed = ", ".join(f"{a['id']} ({a['name']})" for a in known)
            areas = parse_areas(ask(f"Areas: {listed}. In which", known[0]["id"]))
    bodies: list[dict[str, Any]] = []
    for kind in kinds:
        zone: dict[str, Any] = {"kind": kind}
        if args.behaviour:
            zone["behaviour"] = args.behaviour
        if modes is not None:
            zone["modes"] = modes
        if areas is not None:
            zone["areas"] = areas
        if args.chime is not None:
            zone["chime"] = args.chime
        if tty and not args.behaviour and modes is None:
            query = urlencode({"kind": kind, "name": name, "room": room})
            proposed = await hub.call("GET", f"/api/v1/pairing/proposal?{query}")
            if proposed["behaviour"] == "24h":  # water, smoke, power, panic: nothing to choose
                bodies.append(zone)
                continue
            if ask(f"{_describe(kind, proposed)}. Keep it? [Y/n]").lower() in NO:
                zone["behaviour"] = ask("Behaviour (instant, entry, follower)", proposed["behaviour"])
                zone["modes"] = parse_modes(ask("Armed in (home, away, night, vacation)", ",".join(proposed["modes"])))
                if args.chime is None:
                    zone["chime"] = ask("Chime when it opens while disarmed? [y/N]").lower() in YES
        bodies.append(zone)
    return bodies


def chooses_zones(args: argparse.Namespace) -> bool:
    """Whether an option sets something of the zones (then they are sent, with the candidate's kinds)."""
    return bool(args.behaviour or args.modes or args.areas or args.chime is not None)


async def describe_zones(hub: HubSession, zone_ids: list[str]) -> list[str]:
    """Each zone made, with what it does: `simulated-sim-window-2 (instant, armed in home, away...)`,
    and its areas when the house has several (`in Casa, Garage`)."""
    from urllib.parse import quote

    known = {a["id"]: a["name"] for a in await configured_areas(hub)} if zone_ids else {}
    described = []
    for zone_id in zone_ids:
        zone = await hub.call("GET", f"/api/v1/zones/{quote(zone_id, safe='')}")
        armed = "" if zone.get("behaviour") == "24h" else f", armed in {', '.join(zone.get('modes') or ())}"
        chime = ", chime" if zone.get("chime") else ""
        areas = [known.get(a, a) for a in zone.get("areas") or ()]
        where = f", in {', '.join(areas)}" if len(known) > 1 and areas else ""
        described.append(f"{zone_id} ({zone.get('behaviour')}{armed}{chime}{where})")
    return described


# ---------------------------------------------------------------------------- pair zone
async def cmd_zone(args: argparse.Namespace) -> int:
    """`casahub pair zone ZONE --behaviour --modes --areas --chime --watch-days`: change later,
    while disarmed, what pairing set (PATCH /api/v1/zones/{id}; the hub answers 409 while armed)."""
    import json
    from urllib.parse import quote

    from hub.cli.client import connect

    body: dict[str, Any] = {}
    if args.behaviour:
        body["behaviour"] = args.behaviour
    if args.modes:
        body["modes"] = parse_modes(args.modes)
    if args.areas:
        body["areas"] = parse_areas(args.areas)
    if args.chime is not None:
        body["chime"] = args.chime
    if args.watch_days is not None:
        body["watch_days"] = args.watch_days
    if not body:
        raise RemoteError("say what to change: --behaviour, --modes, --areas, --chime/--no-chime or --watch-days")
    async with connect(args, role="installer") as hub:
        zones: list[dict[str, Any]] = (await hub.call("GET", "/api/v1/zones"))["items"]
        named = [z for z in zones if z["id"] == args.zone] or [
            z for z in zones if str(z["name"]).casefold() == args.zone.casefold()
        ]
        if len(named) > 1:
            raise RemoteError(
                f"{len(named)} zones are called {args.zone!r}: use the id ({', '.join(z['id'] for z in named)})"
            )
        zone_id = named[0]["id"] if named else args.zone  # unknown: the hub answers unknown_zone
        await hub.call("PATCH", f"/api/v1/zones/{quote(zone_id, safe='')}", body)
        zone = await hub.call("GET", f"/api/v1/zones/{quote(zone_id, safe='')}")
        [described] = await describe_zones(hub, [zone_id])
    if args.json:
        print(json.dumps(zone, indent=2, ensure_ascii=False))
    else:
        print(f"zone {zone['name']}: {described}")
    return 0
