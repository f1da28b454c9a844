"""`casahub pair hubs | scan | add | list | rename | remove | walktest | report`: the installer's commands.

They talk to the hub through hub/cli/client.py (hub discovery, token, certificate pinning, one-line
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
from pathlib import Path
from typing import Any

from hub.cli.client import TIMEOUT, HubSession, RemoteError, connect, interactive
from hub.cli.pair_choice import ask as _ask
from hub.cli.pair_choice import choose_room, chooses_zones, cmd_zone, describe_zones, zone_bodies

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


def _radio(driver: Any, value: Any) -> str:
    """A device's signal in its driver's unit: Zigbee reports link quality (LQI 0..255), not dBm."""
    if value is None:
        return ""
    return f"{value} LQI" if str(driver).split("#")[0] == "zigbee2mqtt" else _dbm(value)


def candidates_table(items: Sequence[dict[str, Any]], title: str = "Devices waiting to be paired") -> Any:
    rows = [
        (
            c["id"],
            c["driver"],
            c["address"],
            c["model"],
            ", ".join(c["kinds"]),
            _radio(c["driver"], c["signal"]),
            _pct(c["battery"]),
        )
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
            _radio(d["driver"], d["signal"]),
            "yes" if d["online"] else "NO",
            # Sirens, valves and relays beside the zones (an older hub has none): one column more
            # would fold the ids of a 160-column terminal.
            ", ".join([*d["zones"], *d.get("outputs", ())]),
        )
        for d in items
    ]
    columns = ("ID", "NAME", "ROOM", "DRIVER", "ADDRESS", "MODEL", "BATTERY", "SIGNAL", "ONLINE", "ZONES/OUTPUTS")
    return _table("Paired devices", columns, rows)


def _candidate_json(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key, False if key == "paired" else None) for key in CANDIDATE_FIELDS}


# ---------------------------------------------------------------------------- pair hubs
async def cmd_hubs(args: argparse.Namespace) -> int:
    from hub.system.discovery import browse_hubs

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
def _of_driver(item: dict[str, Any], driver: str | None) -> bool:
    return driver is None or str(item.get("driver", "")).split("#")[0] == driver


async def _candidates_warned(hub: HubSession, driver: str | None = None) -> tuple[list[dict[str, Any]], list[Any]]:
    """The candidates, and the hub's warnings about bridges that are down (their lists may be stale)."""
    data = await hub.call("GET", "/api/v1/pairing/candidates")
    items = [_candidate_json(c) for c in data["items"] if _of_driver(c, driver)]
    return items, [w for w in data.get("warnings") or () if _of_driver(w, driver)]


async def _candidates(hub: HubSession, driver: str | None = None) -> list[dict[str, Any]]:
    return (await _candidates_warned(hub, driver))[0]


class _Warnings:
    """Each driver's warning once, on stderr: stdout stays the table or the JSON."""

    def __init__(self) -> None:
        self.told: set[str] = set()
        self.pending: list[str] = []

    def add(self, warnings: Any) -> None:
        for w in warnings or ():
            key = str(w.get("driver"))
            if key not in self.told:
                self.told.add(key)
                self.pending.append(f"casahub: warning: {w.get('message')}")

    def flush(self) -> None:
        for line in self.pending:
            print(line, file=sys.stderr, flush=True)
        self.pending.clear()


async def cmd_scan(args: argparse.Namespace) -> int:
    seconds = float(args.seconds)
    if not 0 < seconds <= MAX_SCAN:
        raise RemoteError(f"--seconds: between 1 and {MAX_SCAN:.0f}")
    warned = _Warnings()
    async with connect(args, role="installer") as hub:
        body: dict[str, Any] = {"seconds": seconds}
        if args.driver:
            body["driver"] = args.driver
        warned.add((await hub.call("POST", "/api/v1/pairing/scan", body) or {}).get("warnings"))
        warned.flush()  # before the live table, which would hide it
        deadline = time.monotonic() + seconds
        live = not args.json and sys.stdout.isatty()
        found, warnings = await _candidates_warned(hub, args.driver)
        if live:
            from rich.live import Live

            def view() -> Any:
                left = max(0, round(deadline - time.monotonic()))
                return candidates_table(found, f"Scanning{f' ({args.driver})' if args.driver else ''}: {left} s left")

            try:
                with Live(view(), console=_console(), refresh_per_second=4, transient=True) as screen:
                    while time.monotonic() < deadline:
                        await asyncio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
                        found, warnings = await _candidates_warned(hub, args.driver)
                        screen.update(view())
            except (KeyboardInterrupt, asyncio.CancelledError):
                pass  # the installer saw enough: show what was found
        else:
            while time.monotonic() < deadline:
                await asyncio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
                found, warnings = await _candidates_warned(hub, args.driver)
    warned.add(warnings)  # as the scan ended: a bridge that went down and came back is no news
    warned.flush()
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
        room, new_room = await choose_room(hub, args.room, args.new_room, tty)
        kinds: list[str] = list(args.kind or [])
        outputs: list[str] = list(args.outputs or [])
        # Choices for the zones (options, or a terminal's answers) go with the candidate's kinds;
        # not on a terminal for a device that may also be an output: the hub pairs it as both.
        if (
            not kinds
            and candidate
            and (chooses_zones(args) or (tty and not await _offers_outputs(hub, candidate["id"])))
        ):
            kinds = list(candidate["kinds"])
        # A siren or a valve senses nothing: with --output (or a candidate that is an output, which
        # the hub pairs as one) there is no zone kind to ask for.
        if not kinds and not outputs and candidate is not None and not candidate["kinds"]:
            if await _offers_outputs(hub, candidate["id"]):
                pass  # the hub pairs it as the output it says it is
            elif not tty:
                raise RemoteError("the device does not say what it senses: pass --kind KIND (or --output KIND)")
            else:
                kinds = [_ask("Zone kind (water, smoke, motion, contact, power, panic, camera)")]
        body: dict[str, Any] = {"candidate": candidate_id, "name": name, "room": room}
        if new_room:
            body["new_room"] = True
        if kinds:
            body["zones"] = await zone_bodies(hub, args, kinds, name, room, tty)
        if outputs:
            body["outputs"] = [{"kind": k} for k in outputs]
        if args.bindkey:
            body["bindkey"] = args.bindkey
        device = await hub.call("POST", "/api/v1/devices", body)
        zones = device["zones"] if args.json else await describe_zones(hub, device["zones"])
    where = f" in {device['room']}" if device.get("room") else ""
    made = [f"zones {', '.join(zones)}"] if device["zones"] or not device.get("outputs") else []
    made += [f"outputs {', '.join(device['outputs'])}"] if device.get("outputs") else []
    text = f"paired {device['name']}{where}: device {device['id']} ({device['driver']} {device['address']}), " + (
        ", ".join(made)
    )
    if args.json:
        _print_json(device)
    else:
        print(text)
    return 0


async def _offers_outputs(hub: HubSession, candidate_id: str) -> bool:
    """Whether the candidate says it can be paired as a siren, valve or relay (its `outputs`)."""
    data = await hub.call("GET", "/api/v1/pairing/candidates")
    return any(c.get("id") == candidate_id and c.get("outputs") for c in data.get("items") or ())


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


# ---------------------------------------------------------------------------- pair report
def _report_format(args: argparse.Namespace) -> str:
    if args.json and args.format not in (None, "json"):
        raise RemoteError(f"--json and --format {args.format} disagree: pass one of them")
    return "json" if args.json else args.format or "md"


def _report_file(data: dict[str, Any]) -> Path:
    """`commissioning-<hub>-<date>.html` in the current directory."""
    import re

    name = re.sub(r"[^A-Za-z0-9]+", "-", str(data["hub"]["name"])).strip("-").lower() or "casahub"
    return Path.cwd() / f"commissioning-{name}-{str(data['generated_at'])[:10]}.html"


def _tests_table(items: Sequence[dict[str, Any]]) -> Any:
    rows = [(t["channel"], t["transport"], t["recipient"], t["state"], t["error"] or "") for t in items]
    return _table("Test messages", ("CHANNEL", "TRANSPORT", "RECIPIENT", "RESULT", "ERROR"), rows)


async def cmd_report(args: argparse.Namespace) -> int:
    from hub import commissioning
    from hub.cli.client import TIMEOUT, HubSession, resolve_target, resolve_token

    fmt = _report_format(args)
    low, high = commissioning.TEST_TIMEOUT_RANGE
    if not low <= args.timeout <= high:
        raise RemoteError(f"--timeout: between {low:g} and {high:g} seconds")
    terminal = sys.stdout.isatty()
    token = resolve_token(args, "installer")
    target = await resolve_target(args)
    # The tests take up to --timeout on the hub: the request may take that long, and then some.
    async with HubSession(target, token, role="installer", timeout=args.timeout + TIMEOUT) as hub:
        if args.send_tests:
            body = {"timeout": args.timeout}
            if terminal and fmt != "json":
                with _console().status(f"Sending a test message on every channel (up to {args.timeout:g} s)..."):
                    tests = await hub.call("POST", "/api/v1/pairing/test-messages", body)
                _console().print(_tests_table(tests["items"]))
            else:
                await hub.call("POST", "/api/v1/pairing/test-messages", body)
        query = "?format=json" + (f"&lang={args.lang}" if args.lang else "")
        data: dict[str, Any] = await hub.call("GET", f"/api/v1/pairing/report{query}")
    if fmt == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = commissioning.to_html(data) if fmt == "html" else commissioning.to_markdown(data)
    output: Path | None = args.output
    if output is None and fmt == "html":
        output = _report_file(data)  # a page is for a browser or a printer, not for a terminal
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RemoteError(f"--output: cannot write {output}: {exc.strerror or exc}") from None
        failed = sum(not item["pass"] for item in data["checklist"])
        print(f"commissioning report written to {output.resolve()} ({failed} checklist lines failed)")
    elif fmt == "md" and terminal:
        from rich.markdown import Markdown

        _console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------------------- pair walktest
WALKTEST = "/api/v1/pairing/walktest"


def _signal(row: dict[str, Any]) -> str:
    if row.get("signal") is None:
        return ""
    return f"{row['signal']} LQI" if row.get("signal_unit") == "lqi" else f"{row['signal']} dBm"


def walktest_table(rows: Sequence[dict[str, Any]], untested: int, left: float | None) -> Any:
    title = f"Walk test: {untested} zones not tested yet"
    if left is not None:
        title += f", {int(left) // 60}:{int(left) % 60:02d} left"
    title += " (Enter or Ctrl-C ends it)"
    table_rows = [
        (r.get("at", "")[11:19], r["name"], r["room"], r["zone_kind"], _signal(r), r["what"], r["zone"]) for r in rows
    ]
    return _table(title, ("TIME", "ZONE", "ROOM", "KIND", "SIGNAL", "WHAT", "ID"), table_rows)


def _activation_line(row: dict[str, Any]) -> str:
    where = f" ({row['room']})" if row.get("room") else ""
    signal = f", signal {_signal(row)}" if row.get("signal") is not None else ""
    what = "tamper" if row["what"] == "tamper" else "opened"
    return f"{row.get('at', '')[11:19]} {what}: {row['name']}{where}, {row['zone_kind']}{signal}"


class _WalkTestWatch:
    """The hub's live stream during a walk test: activations, and whether the hub ended it."""

    def __init__(self, started: dict[str, Any]) -> None:
        self.rows: list[dict[str, Any]] = []
        self.untested = {z["zone"] for z in started["untested"]}
        self.ended = asyncio.Event()
        self.connected = asyncio.Event()  # the stream is open: from now on no activation is missed
        self.seen_running = False

    def take(self, message: dict[str, Any]) -> dict[str, Any] | None:
        self.connected.set()  # the hub's first message is the system snapshot
        if message.get("type") == "system":
            running = (message.get("system") or {}).get("walk_test") is not None
            if running:
                self.seen_running = True
            elif self.seen_running:
                self.ended.set()  # ended on the hub (time over, or stopped from the dashboard)
        elif message.get("type") == "event" and message.get("kind") == "walk_test_ended":
            self.ended.set()
        elif message.get("type") == "event" and message.get("kind") == "walk_test_activation":
            self.rows.append(message)
            if message.get("what") == "zone":
                self.untested.discard(str(message.get("zone")))
            return message
        return None


async def _stream(hub: HubSession, watch: _WalkTestWatch, on_row: Callable[[dict[str, Any]], None]) -> None:
    """Read the hub's WebSocket until it closes (the hub stopped, or our token was revoked)."""
    import aiohttp

    ssl: Any = True
    if hub.target.https and hub.expected is not None:
        ssl = aiohttp.Fingerprint(hub.expected)  # the certificate pinned by the first request
    headers = {"Authorization": f"Bearer {hub.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(hub.target.url + "/api/v1/ws", headers=headers, ssl=ssl, heartbeat=30) as ws,
    ):
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(message, dict) and (row := watch.take(message)) is not None:
                on_row(row)


async def _until_stopped(hub: HubSession, args: argparse.Namespace, started: dict[str, Any]) -> None:
    """Show activations until Enter, Ctrl-C, --seconds, or the hub ends the walk test."""
    import signal

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    watch = _WalkTestWatch(started)
    live = not args.json and sys.stdout.isatty()
    ends_at = time.monotonic() + float(started.get("remaining") or args.minutes * 60)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    screen: Any = None

    def view() -> Any:
        return walktest_table(watch.rows, len(watch.untested), max(0.0, ends_at - time.monotonic()))

    def on_row(row: dict[str, Any]) -> None:
        if screen is not None:
            screen.update(view())
        elif not args.json:
            print(_activation_line(row), flush=True)

    loop.add_signal_handler(signal.SIGINT, stop.set)
    reading_keys = not args.json and sys.stdin.isatty()
    if reading_keys:

        def on_key() -> None:
            sys.stdin.readline()  # Enter ends the walk test; the line itself is of no interest
            stop.set()

        loop.add_reader(sys.stdin.fileno(), on_key)
    stream = asyncio.create_task(_stream(hub, watch, on_row))
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(watch.ended.wait())]
    try:
        # Say "go" only once the stream is open, so the installer's first sensor shows up.
        connected = asyncio.create_task(watch.connected.wait())
        await asyncio.wait([stream, connected, *waiters], timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        if live:
            from rich.live import Live

            screen = Live(view(), console=_console(), refresh_per_second=2)
            screen.start()
        elif not args.json:
            print(f"walk test running: open each sensor; {len(watch.untested)} zones to test. Enter or Ctrl-C ends it.")
        warned = False
        while not (stop.is_set() or watch.ended.is_set()):
            timeout = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            await asyncio.wait([stream, *waiters], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if stream.done():
                # No live view (the stream broke): keep the walk test, and ask the hub whether it ended.
                if not warned:
                    why = stream.exception() if not stream.cancelled() else None
                    print(
                        f"casahub: warning: no live view of the activations any more ({why or 'closed by the hub'})",
                        file=sys.stderr,
                    )
                    warned = True
                if (await hub.call("GET", "/api/v1/system")).get("walk_test") is None:
                    watch.ended.set()
            if screen is not None:
                screen.update(view())
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        if screen is not None:
            screen.stop()
        loop.remove_signal_handler(signal.SIGINT)
        if reading_keys:
            loop.remove_reader(sys.stdin.fileno())
        for task in (stream, *waiters):
            task.cancel()
        await asyncio.gather(stream, *waiters, return_exceptions=True)


async def _stop_walk_test(hub: HubSession) -> dict[str, Any]:
    """Stop the walk test on the hub; if the hub already ended it, its results."""
    try:
        result: dict[str, Any] = await hub.call("DELETE", WALKTEST)
        return result
    except RemoteError:
        current: dict[str, Any] = await hub.call("GET", WALKTEST)
        if current.get("active"):
            raise
        return current


def _walktest_summary(result: dict[str, Any]) -> str:
    lines = [f"walk test over: {len(result['tested'])} zones tested, {len(result['untested'])} not tested"]
    for zone in result["untested"]:
        where = f" ({zone['room']})" if zone.get("room") else ""
        lines.append(f"  - not tested: {zone['name']}{where}, {zone['kind']} [{zone['zone']}]")
    for zone in result["tampers"]:
        lines.append(f"  - tamper tested: {zone['name']} [{zone['zone']}]")
    return "\n".join(lines)


async def cmd_walktest(args: argparse.Namespace) -> int:
    if not 1 <= args.minutes <= 60:
        raise RemoteError("--minutes: between 1 and 60 (the alarms are off during a walk test)")
    if args.seconds is not None and not 0 < args.seconds <= 3600:
        raise RemoteError("--seconds: between 1 and 3600")
    async with connect(args, role="installer") as hub:
        started: dict[str, Any] = await hub.call("POST", WALKTEST, {"minutes": args.minutes})
        system = await hub.call("GET", "/api/v1/system")
        started["remaining"] = (system.get("walk_test") or {}).get("remaining")
        try:
            await _until_stopped(hub, args, started)
        finally:
            # Whatever ended the command, the hub must not stay in walk-test mode (it would
            # refuse to arm until the walk test's own time is over).
            result = await _stop_walk_test(hub)
    if args.json:
        _print_json(result)
    else:
        print(_walktest_summary(result))
    return 0


COMMANDS = {
    "walktest": cmd_walktest,
    "report": cmd_report,
    "hubs": cmd_hubs,
    "scan": cmd_scan,
    "add": cmd_add,
    "list": cmd_list,
    "rename": cmd_rename,
    "zone": cmd_zone,
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
