"""`casahub pair hubs | scan | add | list | rename | remove`: the installer's pairing commands.

They talk to the hub through hub/client.py (hub discovery, token, certificate pinning, one-line
errors). A terminal gets tables (rich) and prompts for what is missing; `--json` gives the
machine form and nothing ever prompts without a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from hub.client import HubSession, RemoteError, connect, interactive

CANDIDATE_FIELDS = ("id", "driver", "address", "model", "kinds", "signal", "battery", "paired")
MAX_SCAN = 600.0
POLL = 1.0


# ---------------------------------------------------------------------------- output
def _console() -> Any:
    from rich.console import Console

    # Piped into a file or another program: wide enough that no cell is folded.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _emit(args: argparse.Namespace, data: Any, render: Callable[[], Any]) -> None:
    if args.json:
        _print_json(data)
    else:
        _console().print(render())


def _dbm(value: Any) -> str:
    return "" if value is None else f"{value} dBm"


def _pct(value: Any) -> str:
    return "" if value is None else f"{value:g} %"


def candidates_table(items: Sequence[dict[str, Any]], title: str = "Devices waiting to be paired") -> Any:
    rows = [
        (c["id"], c["driver"], c["address"], c["model"], ", ".join(c["kinds"]), _dbm(c["signal"]), _pct(c["battery"]))
        for c in items
    ]
    return _table(title, ("ID", "DRIVER", "ADDRESS", "MODEL", "KINDS", "SIGNAL", "BATTERY"), rows)


def devices_table(items: Sequence[dict[str, Any]]) -> Any:
    rows = [
        (
            d["id"],
            d["name"],
            d["room"],
            d["driver"],
            d["address"],
            d["model"],
            _pct(d["battery"]),
            _dbm(d["signal"]),
            "yes" if d["online"] else "NO",
            ", ".join(d["zones"]),
        )
        for d in items
    ]
    columns = ("ID", "NAME", "ROOM", "DRIVER", "ADDRESS", "MODEL", "BATTERY", "SIGNAL", "ONLINE", "ZONES")
    return _table("Paired devices", columns, rows)


def _candidate_json(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key, False if key == "paired" else None) for key in CANDIDATE_FIELDS}


def _ask(question: str, default: str | None = None) -> str:
    suffix = f" [{default}]" if default else ""
    try:
        answer = input(f"{question}{suffix}: ").strip()
    except EOFError:
        raise RemoteError("no answer given") from None
    return answer or (default or "")


# ---------------------------------------------------------------------------- pair hubs
async def cmd_hubs(args: argparse.Namespace) -> int:
    from hub.discovery import browse_hubs

    hubs = await browse_hubs(args.timeout)
    data = [h.as_json() for h in hubs]
    if args.json:
        _print_json(data)
    elif not hubs:
        print("no hub answered on the LAN (a hub listening on 127.0.0.1 only does not advertise itself)")
    else:
        rows = [(h.id, h.name, h.url, h.version, h.fingerprint or "(no TLS)") for h in hubs]
        _console().print(_table("Hubs on the LAN", ("ID", "NAME", "URL", "VERSION", "TLS FINGERPRINT"), rows))
    return 0


# ---------------------------------------------------------------------------- pair scan
async def _candidates(hub: HubSession, driver: str | None = None) -> list[dict[str, Any]]:
    items = (await hub.call("GET", "/api/v1/pairing/candidates"))["items"]
    return [_candidate_json(c) for c in items if driver is None or str(c.get("driver", "")).split("#")[0] == driver]


async def cmd_scan(args: argparse.Namespace) -> int:
    seconds = float(args.seconds)
    if not 0 < seconds <= MAX_SCAN:
        raise RemoteError(f"--seconds: between 1 and {MAX_SCAN:.0f}")
    async with connect(args, role="installer") as hub:
        body: dict[str, Any] = {"seconds": seconds}
        if args.driver:
            body["driver"] = args.driver
        await hub.call("POST", "/api/v1/pairing/scan", body)
        deadline = time.monotonic() + seconds
        live = not args.json and sys.stdout.isatty()
        found = await _candidates(hub, args.driver)
        if live:
            from rich.live import Live

            def view() -> Any:
                left = max(0, round(deadline - time.monotonic()))
                return candidates_table(found, f"Scanning{f' ({args.driver})' if args.driver else ''}: {left} s left")

            try:
                with Live(view(), console=_console(), refresh_per_second=4, transient=True) as screen:
                    while time.monotonic() < deadline:
                        await asyncio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
                        found = await _candidates(hub, args.driver)
                        screen.update(view())
            except (KeyboardInterrupt, asyncio.CancelledError):
                pass  # the installer saw enough: show what was found
        else:
            while time.monotonic() < deadline:
                await asyncio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
                found = await _candidates(hub, args.driver)
    if args.json:
        _print_json(found)
    elif found:
        _console().print(candidates_table(found))
        print("pair one with: casahub pair add ID --name NAME --room ROOM")
    else:
        print("no device is waiting to be paired: wake the sensor (button, battery) and scan again")
    return 0


# ---------------------------------------------------------------------------- pair add
def _match_candidate(items: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    exact = [c for c in items if c["id"] == wanted]
    if exact:
        return exact[0]
    by_address = [c for c in items if str(c["address"]).lower() == wanted.lower()]
    if len(by_address) > 1:
        ids = ", ".join(c["id"] for c in by_address)
        raise RemoteError(f"{wanted!r} is the address of several candidates ({ids}): give the full id")
    return by_address[0] if by_address else None


async def _refuse_paired(hub: HubSession, wanted: str) -> None:
    """A paired device is no candidate any more: say so, rather than 'no such candidate'."""
    devices: list[dict[str, Any]] = (await hub.call("GET", "/api/v1/devices"))["items"]
    for d in devices:
        if wanted == f"{d['driver']}:{d['address']}" or wanted.lower() == str(d["address"]).lower():
            raise RemoteError(
                f"{wanted} is already paired, as device {d['id']} ({d['name']}): `casahub pair rename {d['id']}`"
                f" changes its name or room, `casahub pair remove {d['id']}` unpairs it"
            )


async def cmd_add(args: argparse.Namespace) -> int:
    tty = interactive() and not args.json
    async with connect(args, role="installer") as hub:
        items = await _candidates(hub)
        wanted = args.candidate
        if not wanted:
            if not tty:
                raise RemoteError("name the device: casahub pair add CANDIDATE (`casahub pair scan` lists them)")
            if not items:
                raise RemoteError("no device is waiting to be paired: run `casahub pair scan` first")
            _console().print(candidates_table(items))
            wanted = _ask("Candidate id (or address)")
        candidate = _match_candidate(items, wanted)
        if candidate is None:
            await _refuse_paired(hub, wanted)
        candidate_id = candidate["id"] if candidate else wanted  # unknown: the hub answers unknown_candidate
        name = args.name
        if not name:
            if not tty:
                raise RemoteError("pass --name NAME: the name the household will see (e.g. 'Finestra cucina')")
            name = _ask("Name")
            if not name:
                raise RemoteError("a device needs a name: pass --name NAME")
        room = args.room
        if room is None:
            room = _ask("Room", None) if tty else ""
        kinds: list[str] = list(args.kind or [])
        if not kinds and args.behaviour:
            kinds = list(candidate["kinds"]) if candidate else []
        if not kinds and candidate is not None and not candidate["kinds"]:
            if not tty:
                raise RemoteError("the device does not say what it senses: pass --kind KIND")
            kinds = [_ask("Zone kind (water, smoke, motion, contact, power, panic, camera)")]
        body: dict[str, Any] = {"candidate": candidate_id, "name": name, "room": room}
        if kinds:
            body["zones"] = [{"kind": k, **({"behaviour": args.behaviour} if args.behaviour else {})} for k in kinds]
        if args.bindkey:
            body["bindkey"] = args.bindkey
        device = await hub.call("POST", "/api/v1/devices", body)
    where = f" in {device['room']}" if device.get("room") else ""
    text = (
        f"paired {device['name']}{where}: device {device['id']} ({device['driver']} {device['address']}),"
        f" zones {', '.join(device['zones'])}"
    )
    if args.json:
        _print_json(device)
    else:
        print(text)
    return 0


# ---------------------------------------------------------------------------- pair list / rename / remove
async def cmd_list(args: argparse.Namespace) -> int:
    async with connect(args, role="installer") as hub:
        items = (await hub.call("GET", "/api/v1/devices"))["items"]
    _emit(args, items, lambda: devices_table(items))
    return 0


async def _device(hub: HubSession, wanted: str) -> dict[str, Any] | None:
    """By id, else by a unique name (any case). None: let the hub answer unknown_device."""
    items: list[dict[str, Any]] = (await hub.call("GET", "/api/v1/devices"))["items"]
    exact = [d for d in items if d["id"] == wanted]
    if exact:
        return exact[0]
    named = [d for d in items if str(d["name"]).casefold() == wanted.casefold()]
    if len(named) > 1:
        ids = ", ".join(d["id"] for d in named)
        raise RemoteError(f"{len(named)} devices are called {wanted!r} ({ids}): use the id")
    return named[0] if named else None


def _path(device_id: str) -> str:
    from urllib.parse import quote

    return f"/api/v1/devices/{quote(device_id, safe='')}"


async def cmd_rename(args: argparse.Namespace) -> int:
    tty = interactive() and not args.json
    async with connect(args, role="installer") as hub:
        device = await _device(hub, args.device)
        device_id = device["id"] if device else args.device
        name = args.name
        if name is None and args.room is None:
            if not tty:
                raise RemoteError("pass --name NAME (and/or --room ROOM)")
            name = _ask("New name", device["name"] if device else None)
            args.room = _ask("Room", device["room"] if device else None) or None
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if args.room is not None:
            body["room"] = args.room
        updated = await hub.call("PATCH", _path(device_id), body)
    if args.json:
        _print_json(updated)
    else:
        where = f" in {updated['room']}" if updated.get("room") else ""
        print(f"device {updated['id']} is now {updated['name']}{where}")
    return 0


async def cmd_remove(args: argparse.Namespace) -> int:
    tty = interactive() and not args.json
    async with connect(args, role="installer") as hub:
        device = await _device(hub, args.device)
        device_id = device["id"] if device else args.device
        if tty and not args.yes and device is not None:
            zones = ", ".join(device["zones"]) or "none"
            answer = _ask(f"Remove {device['name']} ({device_id}) and its zones ({zones})? [y/N]")
            if answer.lower() not in ("y", "yes", "s", "si", "sì"):
                raise RemoteError("not removed")
        await hub.call("DELETE", _path(device_id))
    data = {"id": device_id, "removed": True}
    if args.json:
        _print_json(data)
    else:
        print(f"device {device_id} removed, with its zones")
    return 0


COMMANDS = {
    "hubs": cmd_hubs,
    "scan": cmd_scan,
    "add": cmd_add,
    "list": cmd_list,
    "rename": cmd_rename,
    "remove": cmd_remove,
}


def run_pair(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(COMMANDS[args.action](args))
    except RemoteError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("casahub: interrupted", file=sys.stderr)
        return 130
