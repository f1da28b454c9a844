"""Builds the delivery transports the config asks for, and checks them for `casahub doctor`.

Transport modules are imported only when their section is configured: a hub without
email does not pay for aiosmtplib at start-up (memory and start time on a Pi).

A channel whose section is not configured has no transport. Outside the demo it is
`NOT_CONFIGURED` ("none"): the outbox writes its messages as `dead` with `last_error`
"not_configured" and sends nothing, so the incident page says what did not go out. Only
`casahub serve --demo` lets the `log` transport stand in for every missing channel, and
everything that shows a transport calls that a demo.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alarms.policy import CHANNELS, Contact
from hub.config import Config
from hub.transports.base import Channel
from hub.transports.log import LogChannel

log = logging.getLogger(__name__)

# Which transport carries each channel when its section is configured.
DEFAULT_PUSH_SUBJECT = "mailto:casahub@localhost.localdomain"
NOT_CONFIGURED = "none"  # the transport of a channel with no section, outside the demo
DEMO = "log"  # the demo's stand-in for every channel without a section
NOT_CONFIGURED_ERROR = "not_configured"  # last_error of a message whose channel has no transport
# The household's channels: what no_notification_channel counts (the centre is not the household;
# gsm is the modem that carries sms). A choice, so not derived from the Literal:
# tests/unit/test_vocabulary_lists.py checks it keeps to CHANNELS and their order.
HOUSEHOLD_CHANNELS = ("sms", "email", "push", "ntfy", "voice")


def is_real(transport: str | None) -> bool:
    """Whether a transport delivers to someone: not the demo's log, not missing."""
    return transport is not None and transport not in (NOT_CONFIGURED, DEMO)


@dataclass
class Transports:
    """transport name -> implementation, plus channel -> transport name."""

    by_name: dict[str, Channel] = field(default_factory=dict)
    for_channel: dict[str, str] = field(default_factory=dict)
    push_store: Any = None
    vapid_public_key: str | None = None


def build(
    config: Config,
    *,
    data_dir: Path,
    on_centre_link: Callable[[bool], Awaitable[None]],
    users_for_contact: Callable[[str], list[str]],
    push_store: Any = None,
    clock: Callable[[], float] | None = None,
    demo: bool = False,
) -> Transports:
    result = Transports()
    by_name = result.by_name
    if demo:
        by_name[DEMO] = LogChannel()
    if config.sms is not None:
        from hub.transports.twilio import TwilioChannel

        by_name["twilio"] = TwilioChannel(config.sms)
    if config.gsm is not None:
        from hub.transports.gsm import GsmModem

        by_name["gsm"] = GsmModem(config.gsm)
    if config.email is not None:
        from hub.transports.email import SmtpEmail

        by_name["smtp"] = SmtpEmail(config.email)
    if config.ntfy is not None:
        from hub.transports.ntfy import NtfyChannel

        by_name["ntfy"] = NtfyChannel(config.ntfy)
    if push_store is not None:
        from hub.transports.vapid import load_or_create
        from hub.transports.webpush import WebPushChannel

        keys = load_or_create(config.push, data_dir)
        result.vapid_public_key = keys.public_key
        # Push services want a contact for the sender (a mailto: link); without [push] subject
        # the household's first email address is the natural one.
        first_email = next((c.email for c in config.contacts if c.email), None)
        subject = (
            config.push.subject
            if config.push is not None
            else f"mailto:{first_email}"
            if first_email
            else DEFAULT_PUSH_SUBJECT
        )
        by_name["webpush"] = WebPushChannel(
            private_key_pem_or_path=keys.private_key,
            subject=subject,
            store=push_store,
            users_for=users_for_contact,
            allow_private=config.push is not None and config.push.allow_private_endpoints,
        )
        result.push_store = push_store
    if config.centre is not None:
        if config.centre.protocol == "dc09":
            from hub.transports.dc09 import DC09Channel

            kwargs: dict[str, Any] = {"sequence_path": data_dir / "centre.seq", "on_link": on_centre_link}
            if clock is not None:
                kwargs["clock"] = clock
            by_name["dc09"] = DC09Channel(config.centre, **kwargs)
        else:
            from hub.transports.webhook import WebhookCentre

            by_name["webhook"] = WebhookCentre(config.centre)
    wanted = {
        # Without Twilio the GSM modem carries the SMS; with both it is Twilio's fallback (hub/core/outbox.py).
        "sms": "twilio" if "twilio" in by_name else "gsm",
        "voice": "twilio",
        "email": "smtp",
        "push": "webpush",
        "ntfy": "ntfy",
        "gsm": "gsm",
        "centre": "dc09" if config.centre is not None and config.centre.protocol == "dc09" else "webhook",
    }
    missing = DEMO if demo else NOT_CONFIGURED
    result.for_channel = {ch: wanted[ch] if wanted[ch] in by_name else missing for ch in CHANNELS}
    return result


def household_channels(
    contacts: Sequence[Contact], for_channel: Mapping[str, str], has_app: Callable[[str], bool]
) -> list[str]:
    """The household channels that reach at least one person, in CHANNELS order.

    SMS and voice need a phone, email an address, push a contact with `push` whose dashboard
    user has subscribed an app (`has_app(contact name)`, a blocking store read); ntfy is the
    household's own topic. The demo's log reaches nobody. Empty: `no_notification_channel`.
    """
    reach: dict[str, Callable[[Contact], bool]] = {
        "sms": lambda c: bool(c.phone),
        "email": lambda c: bool(c.email),
        "push": lambda c: c.push and has_app(c.name),
        "voice": lambda c: c.voice and bool(c.phone),
    }
    found = []
    for channel in HOUSEHOLD_CHANNELS:
        if not is_real(for_channel.get(channel)):
            continue
        if channel == "ntfy" or any(reach[channel](c) for c in contacts):
            found.append(channel)
    return found


async def enter_all(stack: contextlib.AsyncExitStack, transports: Transports) -> None:
    """Start the transports that hold connections or tasks; one that fails to start is logged
    and its messages wait in the outbox (retried), the hub keeps running."""
    for name, channel in list(transports.by_name.items()):
        if hasattr(channel, "__aenter__"):
            try:
                await stack.enter_async_context(channel)  # type: ignore[arg-type]
            except Exception as exc:
                log.error("transport %s did not start: %s", name, exc)
