"""The `casahub` command line: local account commands, config check, remote arm/disarm."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Api, RunningHub


def casahub(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_user_commands_on_the_data_dir(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    secrets = "# anna\npassword=s3cret-pw\ncode=24680\n"
    r = casahub("user", "add", "anna", "--role", "owner", "--codes-from-stdin", "--data-dir", d, stdin=secrets)
    assert r.returncode == 0, r.stderr
    r = casahub("user", "add", "anna", "--data-dir", d, stdin="other-pw\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = casahub("user", "add", "bob", "--codes-from-stdin", "--data-dir", d, stdin="password=pw-bob1\ncode=12\n")
    assert r.returncode == 1 and "code" in r.stderr
    r = casahub("user", "list", "--json", "--data-dir", d)
    assert json.loads(r.stdout) == [
        # window: issue 17's temporary codes (null: the codes always work); areas: null, every area
        {
            "user": "anna",
            "role": "owner",
            "language": "it",
            "code": True,
            "duress_code": False,
            "window": None,
            "areas": None,
        }
    ]
    r = casahub("user", "passwd", "anna", "--data-dir", d, stdin="new-pass\n")
    assert r.returncode == 0, r.stderr
    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(Path(d) / "casahub.db"))
    assert accounts.check_password("anna", "new-pass") is not None
    assert accounts.check_password("anna", "s3cret-pw") is None
    row = accounts.conn.execute("SELECT password_hash FROM users WHERE username='anna'").fetchone()
    assert row[0].startswith("$argon2id$")
    accounts.conn.close()
    r = casahub("user", "remove", "anna", "--data-dir", d)
    assert r.returncode == 0
    r = casahub("user", "remove", "anna", "--data-dir", d)
    assert r.returncode == 1 and "no user" in r.stderr


def test_user_secrets_never_in_argv(tmp_path: Path) -> None:
    """No --password, --code or --duress-code: `ps` and shell history would show them. Codes come
    from stdin (`key=value` lines) or from a terminal prompt without echo."""
    d = str(tmp_path / "data")
    for verb in ("add", "passwd"):
        for flag in ("--password", "--code", "--duress-code"):
            r = casahub("user", verb, "anna", flag, "24680", "--data-dir", d, stdin="password=s3cret-pw\n")
            assert r.returncode == 2 and "unrecognized arguments" in r.stderr, (verb, flag, r.stderr)
        assert "--codes-from-stdin" in casahub("user", verb, "--help").stdout
    stdin = "password=s3cret-pw\ncode=24680\nduress_code=86420\n"
    r = casahub("user", "add", "anna", "--role", "owner", "--codes-from-stdin", "--data-dir", d, stdin=stdin)
    assert r.returncode == 0, r.stderr
    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(Path(d) / "casahub.db"))
    try:
        assert accounts.check_password("anna", "s3cret-pw") is not None
        assert (m := accounts.match_code("24680")) is not None and not m.duress
        assert (m := accounts.match_code("86420")) is not None and m.duress
        # A bad line names its number, never its value; a missing password is refused.
        r = casahub("user", "add", "bob", "--codes-from-stdin", "--data-dir", d, stdin="pin=99999\n")
        assert r.returncode != 0 and "line 1" in r.stderr and "99999" not in r.stderr
        r = casahub("user", "add", "bob", "--codes-from-stdin", "--data-dir", d, stdin="code=99999\n")
        assert r.returncode != 0 and "password" in r.stderr
        r = casahub("user", "add", "u" * 65, "--codes-from-stdin", "--data-dir", d, stdin="password=long-enough\n")
        assert r.returncode == 1 and "username: at most 64 characters" in r.stderr, r.stderr
        r = casahub("token", "create", "--role", "member", "--label", "l" * 201, "--data-dir", d)
        assert r.returncode == 1 and "label: at most 200 characters" in r.stderr, r.stderr
        # passwd changes only what stdin gives; a new password ends the user's sessions and tokens.
        _, secret = accounts.create_token("owner", username="anna")
        r = casahub("user", "passwd", "anna", "--codes-from-stdin", "--data-dir", d, stdin="code=13579\n")
        assert r.returncode == 0, r.stderr
        assert accounts.match_code("13579") is not None and accounts.match_code("24680") is None
        assert accounts.check_password("anna", "s3cret-pw") is not None
        assert accounts.check_token(secret, 0) is not None
        r = casahub("user", "passwd", "anna", "--codes-from-stdin", "--data-dir", d, stdin="password=another-pw\n")
        assert r.returncode == 0, r.stderr
        assert accounts.check_password("anna", "another-pw") is not None
        assert accounts.check_token(secret, 0) is None, "a new password revokes the user's tokens"
        assert (m := accounts.match_code("86420")) is not None and m.duress, "codes not given stay"
    finally:
        accounts.conn.close()


def test_token_create_json(tmp_path: Path) -> None:
    r = casahub("user", "add", "anna", "--role", "owner", "--data-dir", str(tmp_path), stdin="s3cret-pw\n")
    assert r.returncode == 0, r.stderr
    r = casahub(
        "token", "create", "--role", "installer", "--by", "anna", "--ttl", "8h", "--json", "--data-dir", str(tmp_path)
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["token"].startswith("chb_") and data["ttl"] == 8 * 3600 and data["user"] == "anna"
    r = casahub(
        "token", "create", "--role", "installer", "--by", "anna", "--ttl", "forever", "--data-dir", str(tmp_path)
    )
    assert r.returncode == 2 and "--ttl" in r.stderr


def test_invalid_config_stops_serve_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[alarm]\nentry_delay = -5\n")
    r = casahub("config", "check", str(cfg))
    assert r.returncode == 2
    assert "alarm.entry_delay" in r.stdout + r.stderr
    r = casahub("serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:1")
    assert r.returncode == 2
    assert "alarm.entry_delay" in r.stdout + r.stderr and str(cfg) in r.stdout + r.stderr


async def test_remote_status_arm_disarm(running_hub: RunningHub, api: Api) -> None:
    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(running_hub.data_dir / "casahub.db"))
    _, token = await asyncio.to_thread(accounts.create_token, "member")
    accounts.conn.close()
    common = ["--hub", running_hub.base, "--token", token]

    def run(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
        return casahub(*args, *common, stdin=code)

    r = await asyncio.to_thread(run, "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["mode"] == "disarmed"
    door = await api.zone_id("contact")
    await api.trigger(door)
    r = await asyncio.to_thread(run, "arm", "away", "--code", "12345")
    assert r.returncode == 2 and "--code" in r.stderr  # a code is never an argument: ps would show it
    r = await asyncio.to_thread(run, "arm", "away")
    assert r.returncode == 1 and "no code" in r.stderr, r.stderr
    r = await asyncio.to_thread(run, "arm", "away", code="12345\n")
    assert r.returncode == 1 and "Porta ingresso" in r.stderr
    assert "arm anyway with --force" in r.stderr, r.stderr  # the refusal names the way out (issue 18)
    r = await asyncio.to_thread(run, "arm", "away", "--force", "--json", code="12345\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["mode"] == "arming_away"
    r = await asyncio.to_thread(run, "disarm", code="12345\n")
    assert r.returncode == 0 and "mode: disarmed" in r.stdout
    # One area (issue 17): the demo's one, by its id; an unknown one is named in the refusal.
    await api.trigger(door, False)
    r = await asyncio.to_thread(run, "arm", "night", "--area", "casa", "--json", code="12345\n")
    assert r.returncode == 0 and json.loads(r.stdout)["mode"] == "arming_night", r.stderr
    r = await asyncio.to_thread(run, "disarm", "--area", "cantina", code="12345\n")
    assert r.returncode == 1 and "cantina" in r.stderr, r.stderr
    r = await asyncio.to_thread(run, "disarm", "--area", "casa", code="12345\n")
    assert r.returncode == 0 and "mode: disarmed" in r.stdout, r.stderr
    r = casahub("status", "--hub", "http://127.0.0.1:9", "--token", token)
    assert r.returncode == 1 and "cannot reach" in r.stderr


def test_doctor_reports_each_channel(tmp_path: Path) -> None:
    r = casahub("doctor", "--json", "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {row["channel"] for row in rows} >= {"sms", "email", "push", "centre"}
    assert {row["channel"]: row["transport"] for row in rows}["push"] == "webpush"
    # Not configured is never "ok" (nothing carries those messages), and with no contact that
    # needs them it is not a failure either (exit 0).
    others = [row for row in rows if row["channel"] != "push"]
    assert all((row["transport"], row["ok"], row["configured"]) == ("none", False, False) for row in others)
    assert all(row["detail"].startswith("not configured") and row["needed_by"] == [] for row in others)

    from tests.conftest import free_port

    cfg = tmp_path / "centre.toml"
    cfg.write_text(
        f'[centre]\nprotocol = "dc09"\nhost = "127.0.0.1"\nport = {free_port()}\naccount = "1234"\n'
        "supervision_interval = 90\n"
    )
    r = casahub("doctor", "--config", str(cfg), "--data-dir", str(tmp_path))
    assert r.returncode == 1
    line = next(line for line in r.stdout.splitlines() if " centre " in line)
    assert line.startswith("FAIL") and "dc09" in line


async def test_remote_zone_exclusions(running_hub: RunningHub, api: Api) -> None:
    """`casahub zone`: a member excludes and includes, the owner isolates and restores with the code."""
    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(running_hub.data_dir / "casahub.db"))
    _, member = await asyncio.to_thread(accounts.create_token, "member")
    _, owner = await asyncio.to_thread(accounts.create_token, "owner")
    accounts.conn.close()

    def run(token: str, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
        return casahub("zone", *args, "--hub", running_hub.base, "--token", token, stdin=code)

    r = await asyncio.to_thread(run, member, "exclude", "Rilevatore fumo")
    assert r.returncode == 1 and "isolate" in r.stderr, r.stderr
    r = await asyncio.to_thread(run, member, "exclude", "Sensore movimento")
    assert r.returncode == 0 and "excluded until disarm" in r.stdout, (r.stdout, r.stderr)
    r = await asyncio.to_thread(run, member, "list", "--json")
    excluded = {z["name"]: z["excluded"] for z in json.loads(r.stdout) if z["excluded"]}
    assert list(excluded) == ["Sensore movimento"], excluded
    r = await asyncio.to_thread(run, member, "include", "Sensore movimento")
    assert r.returncode == 0 and "protecting" in r.stdout
    args = ("isolate", "Rilevatore fumo", "--reason", "Lavori in cucina", "--hours", "3")
    r = await asyncio.to_thread(run, owner, *args, code="12345\n")
    assert r.returncode == 0 and "isolated until" in r.stdout and "Lavori in cucina" in r.stdout, r.stderr
    r = await asyncio.to_thread(run, owner, "restore", "Rilevatore fumo", code="12345\n")
    assert r.returncode == 0 and "protecting" in r.stdout, r.stderr
    r = await asyncio.to_thread(run, member, "exclude", "nessuna")
    assert r.returncode == 1 and "no zone named" in r.stderr
