"""A test message on one channel, from the dashboard (issue 18, part 3), through the HTTP API of a
running demo hub: the owner's test goes through the real outbox and its outcome is the
notification's state; it goes to the owner's own contact when there is one; refusals name why;
members cannot; it works while armed; at most 5 in 10 minutes. hub/web/channels_api.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.security.conftest import accounts_of

DEMO_CONTACT = "Famiglia Demo"  # the demo's one contact (hub/daemon.py DEMO_CONTACT)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    running = await start_hub(tmp_path / "data")
    try:
        yield running
    finally:
        await running.stop()


async def owner(hub: RunningHub, session: aiohttp.ClientSession) -> Api:
    api = Api(hub.base, session)
    await api.login()
    return api


async def delivered(api: Api, notification: str) -> dict[str, Any]:
    """The notification once the outbox has settled it (sent or dead); 30 s: busy test machines."""
    for _ in range(300):
        body: dict[str, Any] = await api.get(notification)
        if body["state"] in ("sent", "dead"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{notification} never settled")


async def test_a_test_message_goes_through_the_outbox_to_the_owners_own_contact(hub: RunningHub) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = await owner(hub, session)
        listed = await api.get("/api/v1/channels")
        by_channel = {c["channel"]: c for c in listed["items"]}
        assert listed["own"] is None  # the demo's contact is the family, not the user demo
        assert by_channel["sms"]["configured"] and by_channel["sms"]["recipients"] == [DEMO_CONTACT]
        assert not by_channel["sms"]["failing"]

        # no own contact: the first contact an SMS reaches
        status, body = await api.request("POST", "/api/v1/channels/sms/test", {})
        assert status == 202, body
        assert body["channel"] == "sms" and body["recipient"] == DEMO_CONTACT
        assert body["notification"] == f"/api/v1/notifications/{body['id']}"
        row = await delivered(api, body["notification"])
        assert row["state"] == "sent" and row["template"] == "test" and row["channel"] == "sms"
        assert "messaggio di prova" in row["text"]
        events = (await api.get("/api/v1/events?kind=test_messages_sent"))["items"]
        assert events and events[0]["actor"] == "demo", events

        # the owner adds themself as a contact (named like their username): the test goes to them
        status, _ = await api.request("POST", "/api/v1/contacts", {"name": "demo", "email": "demo@example.org"})
        assert status == 201
        assert (await api.get("/api/v1/channels"))["own"] == "demo"
        status, body = await api.request("POST", "/api/v1/channels/email/test")
        assert status == 202 and body["recipient"] == "demo", body
        assert (await delivered(api, body["notification"]))["address"] == "demo@example.org"
        # ...unless they name another contact
        status, body = await api.request("POST", "/api/v1/channels/email/test", {"contact": DEMO_CONTACT})
        assert status == 202 and body["recipient"] == DEMO_CONTACT, body


async def test_refusals_say_why_and_change_nothing(hub: RunningHub) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = await owner(hub, session)
        before = await hub.hub.db.fetchall("SELECT id FROM outbox")
        # The demo's log stands in for every channel; a hub without [sms] has no voice either.
        hub.hub.transports["voice"] = "none"
        cases = [
            ("/api/v1/channels/fax/test", {}, 404, "unknown_channel"),
            ("/api/v1/channels/gsm/test", {}, 404, "unknown_channel"),  # SMS's fallback, not a channel
            ("/api/v1/channels/sms/test", {"contact": "Nessuno"}, 404, "unknown_contact"),
            ("/api/v1/channels/sms/test", {"contact": "x" * 65}, 400, "invalid_field:contact"),
            ("/api/v1/channels/sms/test", {"to": "+390000"}, 400, "invalid_field:to"),
            ("/api/v1/channels/voice/test", {}, 409, "not_configured"),  # no transport (set below)
        ]
        for path, payload, status, error in cases:
            got, body = await api.request("POST", path, payload)
            assert (got, body.get("error")) == (status, error), (path, payload, body)
        # a contact the channel does not reach
        status, _ = await api.request("POST", "/api/v1/contacts", {"name": "Solo mail", "email": "m@example.org"})
        assert status == 201
        got, body = await api.request("POST", "/api/v1/channels/sms/test", {"contact": "Solo mail"})
        assert (got, body["error"]) == (409, "not_reachable")
        assert await hub.hub.db.fetchall("SELECT id FROM outbox") == before

        # a member may not send tests nor list the channels (phone numbers are the owner's to see)
        await asyncio.to_thread(accounts_of(hub).add_user, "mia", "member-pass", "member", code="54321")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
            member = Api(hub.base, other)
            await member.login("mia", "member-pass")
            assert (await member.request("POST", "/api/v1/channels/sms/test", {}))[0] == 403
            assert (await member.request("GET", "/api/v1/channels"))[0] == 403


async def test_allowed_while_armed_and_limited_to_five_in_ten_minutes(hub: RunningHub) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = await owner(hub, session)
        status, body = await api.request("POST", "/api/v1/system/arm", {"mode": "away", "code": "12345"})
        assert status == 200, body
        accepted = []
        for _ in range(5):
            status, body = await api.request("POST", "/api/v1/channels/sms/test", {})
            assert status == 202, body  # a channel can be checked while the family is away
            accepted.append(body["id"])
        status, body = await api.request("POST", "/api/v1/channels/sms/test", {})
        assert (status, body["error"]) == (429, "too_many_tests")
        assert int(api.last_headers["Retry-After"]) > 0
        rows = await hub.hub.db.fetchall("SELECT id FROM outbox WHERE template = 'test'")
        assert sorted(str(r["id"]) for r in rows) == sorted(accepted)
