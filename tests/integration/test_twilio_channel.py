"""The twilio transport against a local double of Twilio's REST API, driven by the real `twilio` SDK.

The double (`tests.peers.twilio.TwilioDouble`) checks what Twilio checks and answers with
Twilio's shapes and magic test numbers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import msgspec
import pytest

from hub.config import Secret, SmsConfig
from hub.transports.base import Delivered, OutgoingMessage, Permanent, Transient
from hub.transports.twilio import SMS_MAX, TwilioChannel, TwilioCheckError, TwilioSms, twiml_for
from tests.peers.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, TwilioDouble

ITALIAN = "casahub: ALLARME allagamento in cucina (piano terra) alle 03:12. È già scattata la sirena: perché? àèéìòù €"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    the_double = TwilioDouble()
    await the_double.start()
    try:
        yield the_double
    finally:
        await the_double.stop()


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


async def test_a_long_sms_is_cut_on_a_word_boundary_never_refused(channel: TwilioChannel, double: TwilioDouble) -> None:
    """Twilio refuses bodies over 1600 characters (the double too): a 60 KB zone name from an old
    database must still give a sendable SMS, cut to three segments on a word boundary."""
    huge = "casahub: ALLARME allagamento in " + "Cucina " * 9_000 + "alle 03:12."
    outcome = await channel.send(message(short=huge))
    assert isinstance(outcome, Delivered), outcome
    body = double.requests[0].form["Body"]
    assert len(body) <= SMS_MAX and body.endswith("...") and huge.startswith(body[:-3])
    assert huge[len(body) - 3] == " ", body[-20:]  # the last word is whole
    one_word = "casahub: " + "x" * 60_000
    assert isinstance(await channel.send(message(short=one_word)), Delivered)
    assert len(double.requests[1].form["Body"]) <= SMS_MAX
    call = msgspec.structs.replace(message(channel="voice"), body="Allarme in " + "cucina " * 9_000)
    assert isinstance(await channel.send(call), Delivered)  # the double refuses TwiML over 4000


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
