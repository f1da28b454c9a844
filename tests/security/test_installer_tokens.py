"""Installer tokens: granted by an owner, expiring, listed and revoked, dying with their owner.

Through the HTTP API of a running demo hub (the dashboard's Settings) and the `casahub token`
command on a data dir.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp

from hub.store.accounts import Accounts
from hub.store.db import open_sync
from tests.conftest import Api, RunningHub
from tests.security.conftest import accounts_of
from tests.security.test_armed_access import bearer, grant_installer, session_of

TOKENS = "/api/v1/tokens"


async def works(running: RunningHub, token: str) -> bool:
    async with bearer(running, token) as client:
        status, _ = await client.request("GET", "/api/v1/pairing/candidates")
        return status == 200


async def test_owner_grants_lists_and_revokes_installer_access(running_hub: RunningHub) -> None:
    async with session_of(running_hub, "demo", "demo") as owner:
        granted = await grant_installer(owner)  # no ttl: 8 hours
        left = datetime.fromisoformat(granted["expires_at"]).timestamp() - time.time()
        assert 8 * 3600 - 60 < left <= 8 * 3600 + 1, granted
        assert granted["user"] == "demo" and await works(running_hub, granted["token"])
        listed = (await owner.get(TOKENS))["items"]
        assert [(t["id"], t["role"], t["user"]) for t in listed] == [(granted["id"], "installer", "demo")]
        assert granted["token"] not in json.dumps(listed) and "token" not in listed[0]  # the secret once only
        # at most 7 days
        status, body = await owner.post(TOKENS, {"role": "installer", "ttl": 7 * 24 * 3600 + 1})
        assert (status, body.get("field")) == (400, "ttl"), body
        # revoked: it stops working at once and leaves the list
        status, body = await owner.request("DELETE", f"{TOKENS}/{granted['id']}")
        assert status == 200 and body == {"id": granted["id"], "revoked": True}, body
        assert not await works(running_hub, granted["token"])
        assert (await owner.get(TOKENS))["items"] == []
        status, body = await owner.request("DELETE", f"{TOKENS}/no-such-token")
        assert (status, body["error"]) == (404, "unknown_token")
        kinds = [e["kind"] for e in (await owner.get("/api/v1/events?limit=20"))["items"]]
        assert "token_created" in kinds and "token_revoked" in kinds
        log = json.dumps((await owner.get("/api/v1/events?limit=50"))["items"])
        assert granted["token"] not in log


async def test_an_expired_installer_token_stops_working_and_leaves_the_list(running_hub: RunningHub) -> None:
    async with session_of(running_hub, "demo", "demo") as owner:
        granted = await grant_installer(owner, ttl=300)
        assert await works(running_hub, granted["token"])
        accounts = accounts_of(running_hub)

        def expire() -> None:
            with accounts._lock:
                accounts.conn.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", (time.time() - 1, granted["id"]))

        await asyncio.to_thread(expire)
        assert not await works(running_hub, granted["token"])
        assert (await owner.get(TOKENS))["items"] == []


async def test_installer_access_dies_with_its_owner(running_hub: RunningHub) -> None:
    async with session_of(running_hub, "demo", "demo") as demo:
        for who in ("olga", "otto"):
            status, body = await demo.post(
                "/api/v1/users", {"username": who, "password": "owner-pass-1", "role": "owner"}
            )
            assert status == 201, body
        async with session_of(running_hub, "olga", "owner-pass-1") as olga:
            from_olga = await grant_installer(olga)
        async with session_of(running_hub, "otto", "owner-pass-1") as otto:
            from_otto = await grant_installer(otto)
        assert await works(running_hub, from_olga["token"]) and await works(running_hub, from_otto["token"])
        users = {t["id"]: t["user"] for t in (await demo.get(TOKENS))["items"]}
        assert users == {from_olga["id"]: "olga", from_otto["id"]: "otto"}
        # olga is removed, otto is no longer an owner: what they granted ends with it
        status, _ = await demo.request("DELETE", "/api/v1/users/olga")
        assert status == 204
        status, body = await demo.request("PATCH", "/api/v1/users/otto", {"role": "member"})
        assert status == 200, body
        assert not await works(running_hub, from_olga["token"])
        assert not await works(running_hub, from_otto["token"])
        assert (await demo.get(TOKENS))["items"] == []


async def test_only_an_owner_logged_in_grants_installer_access(running_hub: RunningHub) -> None:
    accounts = accounts_of(running_hub)
    _, owner_token = await asyncio.to_thread(accounts.create_token, "owner", label="scripts")
    async with bearer(running_hub, owner_token) as scripted:
        status, body = await scripted.post(TOKENS, {"role": "installer"})
        assert (status, body["error"]) == (403, "forbidden"), body  # a token grants nothing: it carries no person
        assert [t["role"] for t in (await scripted.get(TOKENS))["items"]] == ["owner"]  # but lists and revokes
    async with session_of(running_hub, "demo", "demo") as owner:
        granted = await grant_installer(owner)
    async with bearer(running_hub, granted["token"]) as installer:
        for method, path in (("GET", TOKENS), ("POST", TOKENS), ("DELETE", f"{TOKENS}/{granted['id']}")):
            status, body = await installer.request(method, path, {"role": "installer"} if method == "POST" else None)
            assert (status, body["error"]) == (403, "forbidden"), (method, body)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as plain:
        status, _ = await Api(running_hub.base, plain).request("GET", TOKENS)
        assert status == 401


# --------------------------------------------------------------------------- the command line
def casahub(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_token_commands(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    for user, role in (("anna", "owner"), ("bruno", "member")):
        r = casahub("user", "add", user, "--role", role, "--data-dir", d, stdin="long-password\n")
        assert r.returncode == 0, r.stderr
    # who grants it, and for how long
    r = casahub("token", "create", "--role", "installer", "--data-dir", d)
    assert r.returncode == 2 and "--by" in r.stderr and "owner" in r.stderr and not r.stdout, r.stderr
    r = casahub("token", "create", "--role", "installer", "--by", "bruno", "--data-dir", d)
    assert r.returncode == 1 and "not an owner" in r.stderr, r.stderr
    r = casahub("token", "create", "--role", "installer", "--by", "nobody", "--data-dir", d)
    assert r.returncode == 1 and "no user" in r.stderr, r.stderr
    r = casahub("token", "create", "--role", "installer", "--by", "anna", "--ttl", "8d", "--data-dir", d)
    assert r.returncode == 2 and "7d" in r.stderr, r.stderr
    r = casahub("token", "create", "--role", "installer", "--by", "anna", "--json", "--data-dir", d)
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["ttl"] == 8 * 3600 and made["user"] == "anna", made
    r = casahub("token", "create", "--role", "installer", "--by", "anna", "--ttl", "7d", "--data-dir", d)
    assert r.returncode == 0 and r.stdout.startswith("chb_"), r.stderr
    week = r.stdout.strip()

    # listed, never with its secret
    r = casahub("token", "list", "--json", "--data-dir", d)
    listed = json.loads(r.stdout)
    assert {t["id"] for t in listed} == {made["id"], week.split("_")[1]}
    assert all(t["user"] == "anna" and t["role"] == "installer" and t["state"] == "active" for t in listed)
    eight = next(t for t in listed if t["id"] == made["id"])
    assert abs(eight["expires_at"] - eight["created_at"] - 8 * 3600) < 1
    r = casahub("token", "list", "--data-dir", d)
    assert made["id"] in r.stdout and "anna" in r.stdout
    assert made["token"] not in r.stdout and week not in r.stdout

    # revoked: gone from the list, shown with --all
    r = casahub("token", "revoke", made["id"], "--data-dir", d)
    assert r.returncode == 0, r.stderr
    assert [t["id"] for t in json.loads(casahub("token", "list", "--json", "--data-dir", d).stdout)] == [
        week.split("_")[1]
    ]
    states = {
        t["id"]: t["state"] for t in json.loads(casahub("token", "list", "--all", "--json", "--data-dir", d).stdout)
    }
    assert states[made["id"]] == "revoked"

    # the owner removed: what they granted stops working
    accounts = Accounts(open_sync(Path(d) / "casahub.db"))
    try:
        assert accounts.check_token(week, time.time()) is not None
        assert accounts.check_token(week, time.time() + 7 * 24 * 3600 + 1) is None  # expired after its week
    finally:
        accounts.conn.close()
    r = casahub("user", "remove", "anna", "--data-dir", d)
    assert r.returncode == 0, r.stderr
    accounts = Accounts(open_sync(Path(d) / "casahub.db"))
    try:
        assert accounts.check_token(week, time.time()) is None
    finally:
        accounts.conn.close()
    assert casahub("token", "list", "--data-dir", d).stdout.strip() == "no tokens"
