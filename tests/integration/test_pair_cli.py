"""`casahub pair ...` against the demo kit, through the real entry point (`python -m hub.cli`).

Machine mode (`--json`, no terminal) and terminal mode (a pseudo-terminal: tables, prompts) both
run; errors must be one line on stderr that says what to do, with a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.store.accounts import Accounts, Role
from hub.store.db import open_sync
from tests.conftest import Api, RunningHub, free_port

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASAHUB_")}
    env.update({"XDG_CONFIG_HOME": str(home), "COLUMNS": "160", "LINES": "50", "TERM": "xterm-256color"})
    return env


def _token(hub: RunningHub, role: Role = "installer", ttl: float | None = 3600) -> str:
    accounts = Accounts(open_sync(hub.data_dir / "casahub.db"))
    try:
        return accounts.create_token(role, ttl=ttl, username="demo" if role == "installer" else None)[1]
    finally:
        accounts.conn.close()


class Cli:
    def __init__(self, hub: RunningHub, token: str, home: Path) -> None:
        self.common = ["--hub", hub.base, "--token", token]
        self.env = _env(home)

    def run(self, *args: str, auth: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "hub.cli", *args, *(self.common if auth else ())]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL
        )

    async def json(self, *args: str) -> Any:
        r = await asyncio.to_thread(self.run, *args, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    async def error(self, *args: str) -> str:
        r = await asyncio.to_thread(self.run, *args)
        return one_line_error(r.returncode, r.stderr)

    def terminal(self, *args: str, answers: Sequence[tuple[str, str]] = ()) -> tuple[int, str]:
        """Run with a pseudo-terminal as stdin/stdout/stderr; answer each prompt when it shows."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args, *self.common],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        output = b""
        pending = list(answers)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the child closed the terminal
                        break
                    if not chunk:
                        break
                    output += chunk
                    text = ANSI.sub("", output.decode("utf-8", "replace"))
                    if pending and pending[0][0] in text.split("\n")[-1]:
                        os.write(master, pending.pop(0)[1].encode() + b"\n")
                elif proc.poll() is not None:
                    break
        finally:
            os.close(master)
            code = proc.wait(30)
        assert not pending, f"prompts not seen: {pending}\n{output.decode(errors='replace')}"
        return code, ANSI.sub("", output.decode("utf-8", "replace"))


def one_line_error(code: int, stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert code != 0, stderr
    assert len(lines) == 1 and lines[0].startswith("casahub: "), stderr
    return lines[0]


@pytest.fixture
def cli(running_hub: RunningHub, tmp_path: Path) -> Cli:
    return Cli(running_hub, _token(running_hub), tmp_path / "xdg")


async def test_scan_add_list_rename_remove_json(cli: Cli, api: Api) -> None:
    found = await cli.json("pair", "scan", "--seconds", "1")
    assert {c["id"] for c in found} == {"simulated:sim-window-2", "simulated:sim-water-2", "simulated:sim-motion-2"}
    window = next(c for c in found if c["id"] == "simulated:sim-window-2")
    assert set(window) == {"id", "driver", "address", "model", "kinds", "signal", "battery", "paired"}
    assert window["kinds"] == ["contact"] and window["paired"] is False and window["driver"] == "simulated"
    assert await cli.json("pair", "scan", "--seconds", "1", "--driver", "zigbee2mqtt") == []

    device = await cli.json(
        "pair", "add", "simulated:sim-window-2", "--name", "Finestra camera", "--room", "Camera",
        "--new-room", "--kind", "contact", "--behaviour", "instant",
    )  # fmt: skip
    assert device["name"] == "Finestra camera" and device["room"] == "Camera"
    zone = await api.get(f"/api/v1/zones/{device['zones'][0]}")
    assert (zone["kind"], zone["behaviour"], zone["name"], zone["room"]) == (
        "contact",
        "instant",
        "Finestra camera",
        "Camera",
    )
    # by address, without --kind: the candidate's kinds
    water = await cli.json("pair", "add", "sim-water-2", "--name", "Sensore lavatrice", "--room", "Bagno", "--new-room")
    assert (await api.get(f"/api/v1/zones/{water['zones'][0]}"))["kind"] == "water"

    listed = await cli.json("pair", "list")
    assert {d["id"] for d in listed} >= {device["id"], water["id"]}
    assert "simulated:sim-window-2" not in {c["id"] for c in await cli.json("pair", "scan", "--seconds", "1")}

    renamed = await cli.json("pair", "rename", device["id"], "--name", "Finestra grande", "--room", "Studio")
    assert (renamed["id"], renamed["name"], renamed["room"]) == (device["id"], "Finestra grande", "Studio")
    zone = await api.get(f"/api/v1/zones/{device['zones'][0]}")
    assert (zone["name"], zone["room"], zone["behaviour"]) == ("Finestra grande", "Studio", "instant")
    # by name, only the room
    moved = await cli.json("pair", "rename", "finestra grande", "--room", "Camera")
    assert (moved["name"], moved["room"]) == ("Finestra grande", "Camera")
    events = (await api.get("/api/v1/events?kind=device_renamed"))["items"]
    assert len(events) == 2 and events[0]["actor"].startswith("token:")

    assert await cli.json("pair", "remove", device["id"]) == {"id": device["id"], "removed": True}
    assert device["id"] not in {d["id"] for d in await cli.json("pair", "list")}
    assert device["zones"][0] not in {z["id"] for z in (await api.get("/api/v1/zones"))["items"]}
    assert "simulated:sim-window-2" in {c["id"] for c in await cli.json("pair", "scan", "--seconds", "1")}


async def test_bad_input_gives_one_line_errors(cli: Cli) -> None:
    line = await cli.error("pair", "add", "simulated:sim-nothing", "--name", "x")
    assert "no pairing candidate 'simulated:sim-nothing'" in line and "casahub pair scan" in line
    await cli.json("pair", "add", "simulated:sim-motion-2", "--name", "Garage", "--room", "Garage", "--new-room")
    for again in ("simulated:sim-motion-2", "sim-motion-2"):
        line = await cli.error("pair", "add", again, "--name", "Garage")
        assert "already paired, as device simulated-sim-motion-2 (Garage)" in line and "pair remove" in line
    line = await cli.error("pair", "add", "simulated:sim-water-2")  # no terminal: nothing is prompted
    assert "--name" in line
    line = await cli.error("pair", "rename", "no-such-device", "--name", "x")
    assert "no device 'no-such-device'" in line and "casahub pair list" in line
    line = await cli.error("pair", "remove", "no-such-device")
    assert "no device 'no-such-device'" in line
    line = await cli.error("pair", "rename", "simulated-sim-motion-2", "--name", " ")
    assert "name: must not be empty" in line
    line = await cli.error("pair", "scan", "--seconds", "0")
    assert "--seconds" in line


async def test_tokens_roles_and_unreachable_hub(running_hub: RunningHub, tmp_path: Path) -> None:
    home = tmp_path / "xdg"
    installer = Cli(running_hub, _token(running_hub, ttl=8 * 3600), home)
    assert (await installer.json("pair", "list"))[0]["id"]
    # an installer may pair, never disarm (nor arm)
    installer.env["CASAHUB_CODE"] = "12345"
    line = await installer.error("disarm")
    assert "the installer role may not do this (HTTP 403)" in line
    line = await installer.error("arm", "away")
    assert "installer role may not" in line
    # the installer's 8 hours are over
    token_id = installer.common[-1].split("_")[1]
    accounts = Accounts(open_sync(running_hub.data_dir / "casahub.db"))
    await asyncio.to_thread(
        accounts.conn.execute, "UPDATE tokens SET expires_at = ? WHERE id = ?", (time.time() - 1, token_id)
    )
    accounts.conn.close()
    line = await installer.error("pair", "list")
    assert "refused the token (wrong, revoked or expired)" in line and "casahub token create --role installer" in line

    wrong = Cli(running_hub, "chb_00000000_wrong", home)
    assert "refused the token" in await wrong.error("pair", "scan", "--seconds", "1")

    # a member token works for status but not for pairing
    member = Cli(running_hub, _token(running_hub, "member"), home)
    assert "the member role may not do this" in await member.error("pair", "scan", "--seconds", "1")

    r = await asyncio.to_thread(installer.run, "pair", "list", "--hub", running_hub.base, auth=False)
    assert "no token: pass --token or set CASAHUB_TOKEN" in one_line_error(r.returncode, r.stderr)

    nowhere = f"http://127.0.0.1:{free_port()}"
    gone = Cli(running_hub, _token(running_hub), home)
    gone.common = ["--hub", nowhere, "--token", "chb_x"]
    line = await gone.error("pair", "list")
    assert f"cannot reach the hub at {nowhere}" in line and "--hub URL" in line


async def test_terminal_mode_tables_and_prompts(cli: Cli, api: Api) -> None:
    code, out = await asyncio.to_thread(cli.terminal, "pair", "scan", "--seconds", "2")
    assert code == 0, out
    assert "Devices waiting to be paired" in out and "simulated:sim-water-2" in out and "SIM-WATER" in out
    assert "pair one with: casahub pair add ID" in out

    # missing arguments are asked for on a terminal
    code, out = await asyncio.to_thread(
        cli.terminal,
        "pair",
        "add",
        "simulated:sim-water-2",
        answers=[("Name", "Lavatrice"), ("Room", "Bagno"), ("create it?", "y")],
    )
    assert code == 0, out
    assert "paired Lavatrice in Bagno: device simulated-sim-water-2" in out

    code, out = await asyncio.to_thread(cli.terminal, "pair", "list")
    assert code == 0, out
    header = next(line for line in out.splitlines() if "NAME" in line)
    assert header.split()[:4] == ["ID", "NAME", "ROOM", "DRIVER"]
    row = next(line for line in out.splitlines() if "simulated-sim-water-2" in line)
    assert "Lavatrice" in row and "Bagno" in row

    code, out = await asyncio.to_thread(
        cli.terminal, "pair", "rename", "Lavatrice", answers=[("New name", "Lavatrice bagno"), ("Room", "")]
    )
    assert code == 0, out
    assert "device simulated-sim-water-2 is now Lavatrice bagno in Bagno" in out

    code, out = await asyncio.to_thread(
        cli.terminal, "pair", "remove", "simulated-sim-water-2", answers=[("Remove Lavatrice bagno", "n")]
    )
    assert code == 1 and "casahub: not removed" in out
    code, out = await asyncio.to_thread(
        cli.terminal, "pair", "remove", "simulated-sim-water-2", answers=[("Remove Lavatrice bagno", "y")]
    )
    assert code == 0 and "device simulated-sim-water-2 removed" in out
    assert "simulated-sim-water-2" not in {d["id"] for d in (await api.get("/api/v1/devices"))["items"]}


async def test_patch_device_is_strict(api: Api) -> None:
    device = "simulated-sim-water-1"
    status, body = await api.request("PATCH", f"/api/v1/devices/{device}", {"name": "x", "zones": []})
    assert status == 400 and body["error"] == "invalid_field:zones"
    status, body = await api.request("PATCH", f"/api/v1/devices/{device}", {"name": 5})
    assert status == 400 and body["error"].startswith("invalid_field:name")
    status, body = await api.request("PATCH", f"/api/v1/devices/{device}", {})
    assert status == 200 and body["name"] == "Sensore acqua"
    status, body = await api.request("PATCH", "/api/v1/devices/nope", {"name": "x"})
    assert status == 404 and body["error"] == "unknown_device"
    # a zone renamed by hand keeps its own name when the device is renamed
    await api.request("PATCH", f"/api/v1/zones/{device}", {"name": "Acqua sotto il lavello"})
    status, body = await api.request("PATCH", f"/api/v1/devices/{device}", {"name": "Sensore cucina"})
    assert status == 200 and body["name"] == "Sensore cucina"
    assert (await api.get(f"/api/v1/zones/{device}"))["name"] == "Acqua sotto il lavello"


async def test_names_and_rooms_over_64_characters_are_refused_naming_the_field(cli: Cli, api: Api) -> None:
    long = "N" * 100
    line = await cli.error("pair", "add", "simulated:sim-motion-2", "--name", long, "--room", "Garage", "--new-room")
    assert "name: at most 64 characters" in line, line
    line = await cli.error("pair", "add", "simulated:sim-motion-2", "--name", "Garage", "--room", long)
    assert "room: at most 64 characters" in line, line
    assert "simulated:sim-motion-2" in {c["id"] for c in await cli.json("pair", "scan", "--seconds", "1")}
    device = await cli.json(
        "pair", "add", "simulated:sim-motion-2", "--name", "G" * 64, "--room", "Garage", "--new-room"
    )  # fmt: skip
    line = await cli.error("pair", "rename", device["id"], "--name", long)
    assert "name: at most 64 characters" in line, line
    line = await cli.error("pair", "rename", device["id"], "--room", long)
    assert "room: at most 64 characters" in line, line
    assert (await api.get("/api/v1/devices"))["items"] and long not in json.dumps(await api.get("/api/v1/devices"))


async def test_pairing_chooses_behaviour_modes_chime_and_rooms(cli: Cli, api: Api) -> None:
    """Issue 17: the installer sets what a zone does at pairing; what is not set is the safe
    proposal (a bedroom window: instant in every mode, never a delayed entry off at home); a room
    is one in use or created on purpose."""
    # an unknown room is refused, naming the rooms in use and --new-room; nothing is paired
    line = await cli.error("pair", "add", "simulated:sim-window-2", "--name", "Finestra camera", "--room", "Camra")
    assert "there is no room 'Camra'" in line and "Camera da letto" in line and "--new-room" in line, line
    assert "simulated:sim-window-2" in {c["id"] for c in await cli.json("pair", "scan", "--seconds", "1")}
    line = await cli.error("pair", "add", "sim-window-2", "--name", "F", "--room", "Cucina", "--modes", "home,weekend")
    assert "--modes" in line and "weekend" in line, line

    # everything chosen, into a new room
    device = await cli.json(
        "pair", "add", "simulated:sim-window-2", "--name", "Finestra camera", "--behaviour", "instant",
        "--modes", "home,night,away,vacation", "--chime", "--room", "Camera", "--new-room",
    )  # fmt: skip
    assert device["room"] == "Camera"
    zone = await api.get(f"/api/v1/zones/{device['zones'][0]}")
    assert (zone["behaviour"], zone["modes"], zone["chime"], zone["home"], zone["room"]) == (
        "instant",
        ["home", "away", "night", "vacation"],
        True,
        True,
        "Camera",
    )
    await cli.json("pair", "remove", device["id"])

    # nothing chosen: the proposal; the room in any case is the room in use
    device = await cli.json("pair", "add", "sim-window-2", "--name", "Finestra camera", "--room", "camera DA letto")
    assert device["room"] == "Camera da letto"
    zone = await api.get(f"/api/v1/zones/{device['zones'][0]}")
    assert (zone["behaviour"], zone["modes"], zone["chime"]) == (
        "instant",
        ["home", "away", "night", "vacation"],
        False,
    )

    # on a terminal the proposal is shown and may be changed
    code, out = await asyncio.to_thread(
        cli.terminal,
        "pair",
        "add",
        "simulated:sim-motion-2",
        "--name",
        "Sensore garage",
        "--room",
        "Soggiorno",
        answers=[
            ("motion zone: follower, armed in away, vacation. Keep it?", "n"),
            ("Behaviour", "instant"),
            ("Armed in", "night,away"),
            ("Chime", "y"),
        ],
    )
    assert code == 0, out
    assert "paired Sensore garage in Soggiorno" in out and "(instant, armed in away, night, chime)" in out, out
    zone = await api.get("/api/v1/zones/simulated-sim-motion-2")
    assert (zone["behaviour"], zone["modes"], zone["chime"]) == ("instant", ["away", "night"], True)


async def test_pair_zone_changes_what_pairing_set_while_disarmed(cli: Cli, api: Api) -> None:
    device = await cli.json("pair", "add", "simulated:sim-motion-2", "--name", "Sensore garage", "--room", "Soggiorno")
    zone = await cli.json(
        "pair", "zone", "sensore GARAGE", "--behaviour", "instant", "--modes", "night,away", "--chime",
        "--watch-days", "7",
    )  # fmt: skip
    assert (zone["id"], zone["behaviour"], zone["modes"], zone["chime"], zone["watch_days"]) == (
        device["zones"][0],
        "instant",
        ["away", "night"],
        True,
        7,
    )
    line = await cli.error("pair", "zone", device["zones"][0])
    assert "--behaviour" in line
    line = await cli.error("pair", "zone", "simulated-sim-water-1", "--behaviour", "instant")
    assert "always 24h" in line, line
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status in (200, 202), body
    line = await cli.error("pair", "zone", device["zones"][0], "--no-chime")
    assert "armed" in line, line
    assert (await api.get(f"/api/v1/zones/{device['zones'][0]}"))["chime"] is True
