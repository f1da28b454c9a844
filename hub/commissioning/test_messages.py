"""The test messages that prove each channel works: one per channel in use, sent straight through
the channel's transport (not the outbox: a test must neither wait behind queued alarms nor be
retried for a day), each awaited up to a timeout and recorded. A channel the config lacks is
`not_configured` and nothing is sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from alarms.messages import render
from alarms.policy import Contact
from hub.commissioning.channels import _address, _recipient_label, channels_in_use
from hub.commissioning.facts import ChannelTestResult
from hub.commissioning_limits import DEFAULT_TEST_TIMEOUT as DEFAULT_TEST_TIMEOUT
from hub.commissioning_limits import TEST_TIMEOUT_RANGE as TEST_TIMEOUT_RANGE
from hub.transports.base import Channel, Delivered, OutgoingMessage, Permanent
from hub.transports.registry import NOT_CONFIGURED

log = logging.getLogger("hub.commissioning")  # the name users' [log] levels know (README)


def make_test_message(channel: str, contact: Contact | None, language: str, by: str, time: str) -> OutgoingMessage:
    """The `test` template for a person, or a DC-09 periodic test report (CID 602 / SIA RP) for the centre."""
    lang = contact.language if contact is not None else language
    rendered = render("test", lang, {"channel": channel, "user": by, "time": time})
    payload: dict[str, object] | None = None
    if channel == "centre":
        # What `casahub doctor --send-test centre` sends: the receiver logs a periodic test.
        payload = {
            "code": "trouble",
            "restore": False,
            "zone": None,
            "zone_number": None,
            "incident": None,
            "user": by,
            "user_number": None,
            "test": True,
        }
    recipient = contact.name if contact is not None else ("centre" if channel == "centre" else "household")
    return OutgoingMessage(
        id=0,
        channel=channel,
        recipient=recipient,
        address=_address(channel, contact),
        language=lang,
        subject=rendered.subject,
        body=rendered.body,
        short=rendered.short,
        payload=payload,
    )


async def _send_one(channel: Channel | None, message: OutgoingMessage, timeout: float) -> tuple[str, str | None]:
    if channel is None:  # no section for it: nothing is sent, and no log pretends it was
        return "not_configured", f"no [{'sms' if message.channel == 'voice' else message.channel}] in the config"
    try:
        async with asyncio.timeout(timeout):
            outcome = await channel.send(message)
    except TimeoutError:
        return "timeout", f"no answer within {timeout:g} s"
    except Exception as exc:  # a channel bug is a failed test, never a failed request
        log.exception("test message on %s failed", message.channel)
        return "failed", f"{type(exc).__name__}: {exc}"
    if isinstance(outcome, Delivered):
        return "sent", None
    if isinstance(outcome, Permanent):
        return "failed", outcome.reason
    return "failed", f"{outcome.reason} (not retried: this was a test)"


async def send_test_messages(hub: Any, *, by: str, timeout: float = DEFAULT_TEST_TIMEOUT) -> list[ChannelTestResult]:
    """One test message per channel in use, to its first recipient, all at once; results are stored."""
    if hub.dispatcher is None:
        raise RuntimeError("the hub is still starting: its transports are not ready")
    transports: Mapping[str, Channel] = hub.dispatcher.channels
    used = channels_in_use(hub.contacts, hub.transports)
    now = hub.clock()
    when = hub.format_time(now)
    plans = []
    for channel, who in used.items():
        contact = who[0]
        transport = hub.transports.get(channel, NOT_CONFIGURED)
        implementation = transports.get(transport)
        message = make_test_message(channel, contact, hub.language, by, when)
        plans.append((channel, transport, _recipient_label(channel, contact), implementation, message))
    outcomes = await asyncio.gather(*(_send_one(impl, msg, timeout) for _, _, _, impl, msg in plans))
    results = [
        ChannelTestResult(channel=ch, transport=tr, recipient=rc, state=state, error=error, at=hub.clock())
        for (ch, tr, rc, _, _), (state, error) in zip(plans, outcomes, strict=True)
    ]
    async with hub.db.transaction() as conn:
        for r in results:
            await conn.execute(
                "INSERT INTO test_messages (at, channel, transport, recipient, state, error, actor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.at, r.channel, r.transport, r.recipient, r.state, (r.error or "")[:500] or None, by),
            )
    await hub.audit("test_messages_sent", actor=by, data={"channels": {r.channel: r.state for r in results}})
    return results


def result_json(result: ChannelTestResult, hub: Any) -> dict[str, Any]:
    return result.as_json(hub.tz)
