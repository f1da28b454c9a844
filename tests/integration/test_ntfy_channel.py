"""The ntfy transport against a local ntfy double that checks what an ntfy server checks on publish."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiohttp import web

from hub.config import NtfyConfig, Secret
from hub.transports.base import Delivered, OutgoingMessage, Permanent, Transient
from hub.transports.ntfy import NtfyChannel, NtfyCheckError
from tests.conftest import free_port

TOKEN = "tk_" + "a" * 29
TOPIC = "casa_rossi-allarmi"
PRIORITIES = {
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "min": 1,
    "low": 2,
    "default": 3,
    "high": 4,
    "max": 5,
    "urgent": 5,
}


@dataclass
class Ntfy:
    """An ntfy server double: `POST /<topic>` publishes (https://docs.ntfy.sh/publish/)."""

    port: int
    token: str | None = TOKEN
    answer: int | None = None  # forced status
    retry_after: str | None = None
    published: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def error(status: int, code: int, text: str) -> web.Response:
        return web.json_response({"code": code, "http": status, "error": text}, status=status)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"healthy": True})

    async def account(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        if auth is None:
            return web.json_response({"username": "*", "role": "anonymous"})
        if auth != f"Bearer {self.token}":
            return self.error(401, 40101, "unauthorized")
        return web.json_response({"username": "casahub", "role": "user"})

    async def publish(self, request: web.Request) -> web.Response:
        topic = request.match_info["topic"]
        if request.method not in ("POST", "PUT"):
            return self.error(405, 40501, "method not allowed")
        if self.token is not None:
            auth = request.headers.get("Authorization")
            if auth is None:
                return self.error(403, 40301, "forbidden")  # anonymous write denied on a protected topic
            if auth != f"Bearer {self.token}":
                return self.error(401, 40101, "unauthorized")
        if self.answer is not None:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.json_response(
                {"code": self.answer * 100, "http": self.answer}, status=self.answer, headers=headers
            )
        priority_text = request.headers.get("Priority", "3")
        if priority_text.lower() not in PRIORITIES:
            return self.error(400, 40007, "invalid priority")
        body = await request.read()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return self.error(400, 40000, "message is not UTF-8")  # ntfy would turn it into an attachment
        title = str(make_header(decode_header(request.headers.get("Title", ""))))  # ntfy decodes RFC 2047
        event = {
            "id": secrets.token_hex(6),
            "time": int(time.time()),
            "event": "message",
            "topic": topic,
            "title": title,
            "message": text,
            "priority": PRIORITIES[priority_text.lower()],
            "tags": [t.strip() for t in request.headers.get("Tags", "").split(",") if t.strip()],
        }
        self.published.append(event)
        return web.json_response(event)


@pytest.fixture
async def ntfy() -> AsyncIterator[Ntfy]:
    server = Ntfy(port=free_port())
    app = web.Application()
    app.router.add_get("/v1/health", server.health)
    app.router.add_get("/v1/account", server.account)
    app.router.add_route("*", "/{topic}", server.publish)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    try:
        yield server
    finally:
        await runner.cleanup()


def channel(url: str, token: str | None = TOKEN) -> NtfyChannel:
    return NtfyChannel(NtfyConfig(url=url, topic=TOPIC, token=Secret(token) if token else None), timeout=5)


def message(
    *, incident: str | None = None, anomaly: str | None = None, subject: str = "Allarme già attivo"
) -> OutgoingMessage:
    return OutgoingMessage(
        id=3,
        channel="ntfy",
        recipient="household",
        address=None,
        language="it",
        subject=subject,
        body="Perdita d'acqua in Cucina (sensore «Lavello») alle 03:12.\nChiudi il rubinetto generale.",
        short="ALLARME acqua Cucina",
        incident=incident,
        anomaly=anomaly,
    )


@pytest.mark.parametrize(
    ("incident", "anomaly", "priority", "tags"),
    [("inc-1", None, 5, ["rotating_light"]), (None, "an-1", 4, ["warning"]), (None, None, 3, ["house"])],
)
async def test_publishes_to_the_topic_with_title_priority_and_tags(
    ntfy: Ntfy, incident: str | None, anomaly: str | None, priority: int, tags: list[str]
) -> None:
    async with channel(ntfy.url) as ch:
        outcome = await ch.send(message(incident=incident, anomaly=anomaly))

    assert isinstance(outcome, Delivered), outcome
    [event] = ntfy.published
    assert event["topic"] == TOPIC
    assert event["title"] == "Allarme già attivo"
    assert (
        event["message"] == "Perdita d'acqua in Cucina (sensore «Lavello») alle 03:12.\nChiudi il rubinetto generale."
    )
    assert event["priority"] == priority and event["tags"] == tags


async def test_ascii_title_and_trailing_slash_in_url(ntfy: Ntfy) -> None:
    outcome = await channel(ntfy.url + "/").send(message(subject="Hub started"))

    assert isinstance(outcome, Delivered), outcome
    assert ntfy.published[0]["title"] == "Hub started" and ntfy.published[0]["topic"] == TOPIC


async def test_open_server_without_token(ntfy: Ntfy) -> None:
    ntfy.token = None

    assert isinstance(await channel(ntfy.url, token=None).send(message()), Delivered)


@pytest.mark.parametrize(("token", "status"), [("tk_wrong", "401"), (None, "403")])
async def test_bad_or_missing_token_is_permanent(ntfy: Ntfy, token: str | None, status: str) -> None:
    outcome = await channel(ntfy.url, token=token).send(message())

    assert isinstance(outcome, Permanent), outcome
    assert status in outcome.reason and "[ntfy] token" in outcome.reason
    assert ntfy.published == []


async def test_rate_limited_is_transient_with_retry_after(ntfy: Ntfy) -> None:
    ntfy.answer, ntfy.retry_after = 429, "12"

    outcome = await channel(ntfy.url).send(message())

    assert isinstance(outcome, Transient) and outcome.retry_after == 12.0 and "429" in outcome.reason


async def test_server_error_is_transient(ntfy: Ntfy) -> None:
    ntfy.answer = 502

    outcome = await channel(ntfy.url).send(message())

    assert isinstance(outcome, Transient) and outcome.retry_after is None and "502" in outcome.reason


async def test_other_client_error_is_permanent(ntfy: Ntfy) -> None:
    ntfy.answer = 413

    assert isinstance(await channel(ntfy.url).send(message()), Permanent)


async def test_server_down_is_transient() -> None:
    outcome = await channel(f"http://127.0.0.1:{free_port()}").send(message())

    assert isinstance(outcome, Transient), outcome


async def test_check_publishes_nothing_and_verifies_the_token(ntfy: Ntfy) -> None:
    report = await channel(ntfy.url).check()

    assert "token accepted (user casahub)" in report and TOPIC in report
    assert ntfy.published == []
    with pytest.raises(NtfyCheckError, match=r"refused the token \(401\); check \[ntfy\] token"):
        await channel(ntfy.url, token="tk_wrong").check()
    assert "no token" in await channel(ntfy.url, token=None).check()


async def test_check_of_a_server_down_says_so() -> None:
    with pytest.raises(NtfyCheckError, match="unreachable"):
        await channel(f"http://127.0.0.1:{free_port()}").check()
