"""Users limited to areas from the command line (issue 17, item 2): `casahub user add --areas` and
`casahub user areas NAME IDS|--all`, checked against the [[areas]] of --config before anything is
written; `user list` shows them. Then a hub started on that data dir with that config lets the
garage's user arm the garage and refuses the flat (403 forbidden_area).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.conftest import Api, start_hub

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """[alarm]
exit_delay = 1

[[areas]]
id = "casa"
name = "Appartamento"

[[areas]]
id = "garage"
name = "Garage"
"""
GARAGE_CODE = "24680"


def casahub(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def listed_areas(data: str) -> dict[str, list[str] | None]:
    r = casahub("user", "list", "--json", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    return {u["user"]: u["areas"] for u in json.loads(r.stdout)}


def test_the_cli_limits_a_user_to_areas_and_back(tmp_path: Path) -> None:
    data, config = str(tmp_path / "data"), tmp_path / "casahub.toml"
    config.write_text(CONFIG, encoding="utf-8")
    local = ("--config", str(config), "--data-dir", data)
    assert casahub("user", "add", "anna", "--role", "owner", "--data-dir", data, stdin="owner-pw1\n").returncode == 0

    # Refused before anything is written, naming why: an owner, an unknown area, no area at all.
    r = casahub("user", "add", "bruno", "--role", "owner", "--areas", "garage", *local, stdin="bruno-pw1\n")
    assert r.returncode == 1 and "owner" in r.stderr, r.stderr
    r = casahub("user", "add", "bruno", "--areas", "cantina", *local, stdin="bruno-pw1\n")
    assert r.returncode == 1 and "'cantina'" in r.stderr and "casa, garage" in r.stderr, r.stderr
    r = casahub("user", "add", "bruno", "--areas", ",", *local, stdin="bruno-pw1\n")
    assert r.returncode == 1 and "at least one area" in r.stderr, r.stderr
    # Without --config the CLI knows only the default area, and says where the others are.
    r = casahub("user", "add", "bruno", "--areas", "garage", "--data-dir", data, stdin="bruno-pw1\n")
    assert r.returncode == 1 and "--config" in r.stderr, r.stderr
    assert listed_areas(data) == {"anna": None}

    secrets = f"password=bruno-pw1\ncode={GARAGE_CODE}\n"
    r = casahub("user", "add", "bruno", "--areas", "garage", "--codes-from-stdin", *local, stdin=secrets)
    assert r.returncode == 0 and "areas: garage" in r.stdout, r.stderr
    assert listed_areas(data) == {"anna": None, "bruno": ["garage"]}
    assert "areas: garage" in casahub("user", "list", "--data-dir", data).stdout

    # Changed later: a list (repeats dropped), every area again, refusals.
    r = casahub("user", "areas", "bruno", "casa,garage,casa", "--json", *local)
    assert r.returncode == 0 and json.loads(r.stdout) == {"user": "bruno", "areas": ["casa", "garage"]}, r.stderr
    r = casahub("user", "areas", "anna", "casa", *local)
    assert r.returncode == 1 and "owner" in r.stderr, r.stderr
    r = casahub("user", "areas", "ospite", "casa", *local)
    assert r.returncode == 1 and "no user" in r.stderr, r.stderr
    r = casahub("user", "areas", "bruno", *local)
    assert r.returncode == 2 and "--all" in r.stderr, r.stderr
    r = casahub("user", "areas", "bruno", "garage", "--all", *local)
    assert r.returncode == 2, r.stderr
    assert listed_areas(data) == {"anna": None, "bruno": ["casa", "garage"]}
    r = casahub("user", "areas", "bruno", "--all", "--data-dir", data)
    assert r.returncode == 0 and "every area" in r.stdout, r.stderr
    assert listed_areas(data) == {"anna": None, "bruno": None}
    assert "areas:" not in casahub("user", "list", "--data-dir", data).stdout


async def test_a_hub_holds_the_limit_the_cli_set(tmp_path: Path) -> None:
    data, config = tmp_path / "data", tmp_path / "casahub.toml"
    config.write_text(CONFIG, encoding="utf-8")
    secrets = f"password=bruno-pw1\ncode={GARAGE_CODE}\n"
    args = ("user", "add", "bruno", "--areas", "garage", "--codes-from-stdin", "--config", str(config))
    r = await asyncio.to_thread(casahub, *args, "--data-dir", str(data), stdin=secrets)
    assert r.returncode == 0, r.stderr
    running = await start_hub(data, config)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            users = {u["username"]: u["areas"] for u in (await api.get("/api/v1/users"))["items"]}
            assert users == {"bruno": ["garage"], "demo": None}
            status, body = await api.post("/api/v1/areas/casa/arm", {"mode": "away", "code": GARAGE_CODE})
            assert (status, body.get("error")) == (403, "forbidden_area"), body
            status, body = await api.post("/api/v1/areas/garage/arm", {"mode": "away", "code": GARAGE_CODE})
            assert status < 300, body
            modes = {a["id"]: a["mode"] for a in (await api.get("/api/v1/system"))["areas"]}
            assert modes == {"casa": "disarmed", "garage": "arming_away"}, modes
    finally:
        await running.stop()
