"""The twilio transport against a local double of Twilio's REST API, driven by the real `twilio` SDK.

There is no Twilio to run on loopback, so `TwilioDouble` implements the three endpoints the channel
uses and checks what Twilio checks: HTTP Basic auth (account SID + auth token, the SID matching the
URL), the form encoding, the required fields, E.164 `To` numbers, a `From` number the account owns,
well-formed TwiML. Its answers have Twilio's shapes: 201 with `sid`/`status`, errors as
`{"code", "message", "more_info", "status"}`, and Twilio's magic test numbers (+15005550001 invalid,
+15005550004 unsubscribed) behave as with Twilio's test credentials.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from alarms.channels.base import Delivered, OutgoingMessage, Permanent, Transient
from alarms.channels.twilio import TwilioChannel, TwilioCheckError, TwilioSms, twiml_for
from hub.config import Secret, SmsConfig

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tok-" + "5ecret" * 5
FROM = "+15005550006"
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
ITALIAN = "casahub: ALLARME allagamento in cucina (piano terra) alle 03:12. È già scattata la sirena: perché? àèéìòù €"


# --------------------------------------------------------------------------- the double


@dataclass
class Seen:
    method: str
    path: str
    form: dict[str, str]
    user_agent: str


@dataclass
class TwilioDouble:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    owned_numbers: tuple[str, ...] = (FROM,)
    account_status: str = "active"
    requests: list[Seen] = field(default_factory=list)
    # Answers forced on the next requests, after authentication: (status, code, message, headers).
    forced: list[tuple[int, int, str, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    base_url: str = ""  # set once the server listens

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.messages)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", self.calls)
        app.router.add_get("/2010-04-01/Accounts/{sid}.json", self.account)
        return app

    @staticmethod
    def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return web.json_response({**body, "status": status}, status=status, headers=headers)

    async def _common(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        form: dict[str, str] = {}
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                return self.error(400, 20001, "Content-Type must be application/x-www-form-urlencoded"), form
            form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(Seen(request.method, request.path, form, request.headers.get("User-Agent", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._authorised(request):
            return self.error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'}), form
        if self.forced:
            status, code, message, headers = self.forced.pop(0)
            return self.error(status, code, message, headers), form
        return None, form

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (
            user == self.account_sid
            and request.match_info["sid"] == self.account_sid
            and secrets.compare_digest(password, self.auth_token)
        )

    def _check_numbers(self, form: dict[str, str], what: str) -> web.Response | None:
        to, sender = form.get("To"), form.get("From")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(to) or to == "+15005550001":
            return self.error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if sender not in self.owned_numbers:
            return self.error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, {what}-capable phone number for your account.",
            )
        return None

    def _created(self, prefix: str, kind: str, form: dict[str, str], extra: dict[str, Any]) -> web.Response:
        sid = prefix + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        body = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "from": form["From"],
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{sid}.json",
            **extra,
        }
        return web.json_response(body, status=201)

    async def messages(self, request: web.Request) -> web.Response:
        failed, form = await self._common(request)
        if failed is not None:
            return failed
        numbers = self._check_numbers(form, "SMS")
        if numbers is not None:
            return numbers
        text = form.get("Body", "")
        if not text:
            return self.error(400, 21602, "Message body is required.")
        if len(text) > 1600:
            return self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if form["To"] == "+15005550004":
            return self.error(400, 21610, "Attempt to send to unsubscribed recipient")
        gsm7 = all(ord(char) < 128 or char in "èéùìòàÈÉ€£¥" for char in text)
        segments = 1 if len(text) <= (160 if gsm7 else 70) else -(-len(text) // (153 if gsm7 else 67))
        return self._created("SM", "Messages", form, {"body": text, "num_segments": str(segments), "num_media": "0"})

    async def calls(self, request: web.Request) -> web.Response:
        failed, form = await self._common(request)
        if failed is not None:
            return failed
        numbers = self._check_numbers(form, "voice")
        if numbers is not None:
            return numbers
        given = [name for name in ("Url", "Twiml", "ApplicationSid") if form.get(name)]
        if len(given) != 1:
            return self.error(400, 21205, "Exactly one of Url, Twiml or ApplicationSid is required.")
        if "Twiml" in given:
            try:
                root = ET.fromstring(form["Twiml"])
            except ET.ParseError:
                return self.error(400, 12100, "Document parse failure")
            if root.tag != "Response" or len(form["Twiml"]) > 4000:
                return self.error(400, 12100, "Document parse failure")
        return self._created("CA", "Calls", form, {})

    async def account(self, request: web.Request) -> web.Response:
        failed, _ = await self._common(request)
        if failed is not None:
            return failed
        return web.json_response(
            {
                "sid": self.account_sid,
                "friendly_name": "casahub test account",
                "status": self.account_status,
                "type": "Full",
                "auth_token": self.auth_token,  # Twilio does return it: the channel must never show it
                "date_created": format_datetime(datetime(2024, 1, 2, tzinfo=UTC), usegmt=True),
                "uri": f"/2010-04-01/Accounts/{self.account_sid}.json",
            }
        )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    the_double = TwilioDouble()
    runner = web.AppRunner(the_double.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    the_double.base_url = f"http://127.0.0.1:{port}"
    try:
        yield the_double
    finally:
        await runner.cleanup()


def sms_config(double: TwilioDouble, token: str = AUTH_TOKEN, base_url: str | None = None) -> SmsConfig:
    return SmsConfig(
        account_sid=ACCOUNT_SID,
        auth_token=Secret(token),
        from_=FROM,
        base_url=base_url or double.base_url,
    )


def message(
    channel: str = "sms", address: str | None = "+393331234567", short: str = ITALIAN, language: str = "it"
) -> OutgoingMessage:
    return OutgoingMessage(
        id=7,
        channel=channel,
        recipient="Anna",
        address=address,
        language=language,
        subject="Allarme allagamento",
        body="Attenzione, questo è l'allarme di casa. Allarme allagamento in cucina.",
        short=short,
    )


@pytest.fixture
async def channel(double: TwilioDouble) -> AsyncIterator[TwilioChannel]:
    async with TwilioChannel(sms_config(double), timeout=2.0) as the_channel:
        yield the_channel


# --------------------------------------------------------------------------- SMS


async def test_sms_delivered_with_italian_text_intact(channel: TwilioChannel, double: TwilioDouble) -> None:
    outcome = await channel.send(message())
    assert isinstance(outcome, Delivered)
    assert re.fullmatch(r"SM[0-9a-f]{32} queued", outcome.detail)
    assert len(double.requests) == 1
    seen = double.requests[0]
    assert (seen.method, seen.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert seen.form == {"To": "+393331234567", "From": FROM, "Body": ITALIAN}
    assert seen.user_agent.startswith("twilio-python/")  # the real SDK made the request


@pytest.mark.parametrize(
    ("address", "code"),
    [("3331234567", 21211), ("+15005550001", 21211), ("+15005550004", 21610)],
)
async def test_sms_refused_number_is_permanent(
    channel: TwilioChannel, double: TwilioDouble, address: str, code: int
) -> None:
    outcome = await channel.send(message(address=address))
    assert isinstance(outcome, Permanent)
    assert f"twilio 400 error {code}:" in outcome.reason
    assert len(double.requests) == 1


async def test_bad_credentials_are_permanent_and_the_token_stays_secret(
    double: TwilioDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + AUTH_TOKEN
    async with TwilioChannel(sms_config(double, token=wrong)) as channel:
        outcome = await channel.send(message())
        voice = await channel.send(message(channel="voice"))
    assert isinstance(outcome, Permanent) and isinstance(voice, Permanent)
    assert "20003" in outcome.reason and "Authenticate" in outcome.reason
    for text in (outcome.reason, voice.reason, caplog.text, repr(outcome)):
        assert wrong not in text and AUTH_TOKEN not in text
        assert "5ecret" not in text


async def test_rate_limit_is_transient_with_retry_after(channel: TwilioChannel, double: TwilioDouble) -> None:
    double.forced.append((429, 20429, "Too Many Requests", {"Retry-After": "7"}))
    outcome = await channel.send(message())
    assert outcome == Transient("twilio 429 error 20429: Too Many Requests", retry_after=7.0)


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503)])
async def test_server_error_is_transient_and_not_retried_by_the_sdk(
    channel: TwilioChannel, double: TwilioDouble, status: int, code: int
) -> None:
    double.forced.append((status, code, "Internal Server Error", {}))
    outcome = await channel.send(message())
    assert isinstance(outcome, Transient) and outcome.retry_after is None
    assert f"twilio {status} error {code}" in outcome.reason
    await asyncio.sleep(0.2)  # an SDK retry would arrive now
    assert len(double.requests) == 1  # one POST per send: a retried POST could send the SMS twice
    assert isinstance(await channel.send(message()), Delivered)  # the outbox's retry works
    assert len(double.requests) == 2


async def test_server_error_retry_after_is_passed_on(channel: TwilioChannel, double: TwilioDouble) -> None:
    double.forced.append((503, 20503, "Service Unavailable", {"Retry-After": "30"}))
    outcome = await channel.send(message())
    assert isinstance(outcome, Transient) and outcome.retry_after == 30.0


async def test_timeout_is_transient(double: TwilioDouble) -> None:
    double.delay = 1.5
    async with TwilioChannel(sms_config(double), timeout=0.3) as channel:
        outcome = await channel.send(message())
    assert isinstance(outcome, Transient) and "0.3 s" in outcome.reason
    assert len(double.requests) == 1


async def test_unreachable_api_is_transient(double: TwilioDouble) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with TwilioChannel(sms_config(double, base_url=closed), timeout=2.0) as channel:
        outcome = await channel.send(message())
    assert isinstance(outcome, Transient) and outcome.reason.startswith("twilio unreachable:")
    assert AUTH_TOKEN not in outcome.reason


async def test_twilio_edge_and_region_from_the_environment_are_ignored(
    double: TwilioDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-the-environment")
    async with TwilioChannel(sms_config(double)) as channel:
        assert isinstance(await channel.send(message()), Delivered)
    assert len(double.requests) == 1


async def test_message_without_number_or_for_another_channel_is_permanent(
    channel: TwilioChannel, double: TwilioDouble
) -> None:
    assert isinstance(await channel.send(message(address=None)), Permanent)
    assert isinstance(await channel.send(message(channel="email", address="anna@example.org")), Permanent)
    async with TwilioSms(sms_config(double)) as sms_only:
        refused = await sms_only.send(message(channel="voice"))
    assert isinstance(refused, Permanent) and "voice" in refused.reason
    assert double.requests == []


async def test_send_outside_the_context_is_a_programming_error(double: TwilioDouble) -> None:
    with pytest.raises(RuntimeError):
        await TwilioChannel(sms_config(double)).send(message())


# --------------------------------------------------------------------------- voice


@pytest.mark.parametrize(("language", "spoken"), [("it", "it-IT"), ("en", "en-US"), ("de", "it-IT")])
async def test_voice_call_says_the_body_twice(
    channel: TwilioChannel, double: TwilioDouble, language: str, spoken: str
) -> None:
    outcome = await channel.send(message(channel="voice", language=language))
    assert isinstance(outcome, Delivered) and outcome.detail.startswith("CA")
    (seen,) = double.requests
    assert seen.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert set(seen.form) == {"To", "From", "Twiml"}
    assert (seen.form["To"], seen.form["From"]) == ("+393331234567", FROM)
    root = ET.fromstring(seen.form["Twiml"])
    says = root.findall("Say")
    assert root.tag == "Response" and len(says) == 2 and len(root.findall("Pause")) == 1
    for say in says:
        assert say.text == "Attenzione, questo è l'allarme di casa. Allarme allagamento in cucina."
        assert say.get("language") == spoken and say.get("voice")


async def test_voice_errors_are_classified_like_sms(channel: TwilioChannel, double: TwilioDouble) -> None:
    invalid = await channel.send(message(channel="voice", address="+15005550001"))
    assert isinstance(invalid, Permanent) and "21211" in invalid.reason
    double.forced.append((500, 20500, "Internal Server Error", {}))
    assert isinstance(await channel.send(message(channel="voice")), Transient)
    assert len(double.requests) == 2


def test_twiml_escapes_markup() -> None:
    xml = twiml_for("Porta <ingresso> & finestra", "it")
    say = ET.fromstring(xml).find("Say")
    assert say is not None and say.text == "Porta <ingresso> & finestra"


# --------------------------------------------------------------------------- doctor


async def test_check_fetches_the_account_without_sending(
    channel: TwilioChannel, double: TwilioDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    summary = await channel.check()
    assert ACCOUNT_SID in summary and "active" in summary
    assert [(seen.method, seen.path) for seen in double.requests] == [
        ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json")
    ]
    assert AUTH_TOKEN not in summary and AUTH_TOKEN not in caplog.text


async def test_check_reports_bad_credentials_and_suspended_accounts(double: TwilioDouble) -> None:
    async with TwilioChannel(sms_config(double, token="not-the-token")) as channel:
        with pytest.raises(TwilioCheckError, match="20003") as failed:
            await channel.check()
    assert "not-the-token" not in str(failed.value)
    double.account_status = "suspended"
    async with TwilioChannel(sms_config(double)) as channel:
        with pytest.raises(TwilioCheckError, match="suspended"):
            await channel.check()
