"""Builds the delivery transports the config asks for, and checks them for `casahub doctor`.

Transport modules are imported only when their section is configured: a hub without
email does not pay for aiosmtplib at start-up (memory and start time on a Pi).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alarms.channels.base import Channel
from alarms.channels.log import LogChannel
from hub.config import Config

log = logging.getLogger(__name__)

# Which transport carries each channel when its section is configured.
DEFAULT_PUSH_SUBJECT = "mailto:casahub@localhost.localdomain"
CHANNELS = ("sms", "email", "push", "ntfy", "voice", "gsm", "centre")


@dataclass
class Transports:
    """transport name -> implementation, plus channel -> transport name."""

    by_name: dict[str, Channel] = field(default_factory=lambda: {"log": LogChannel()})
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
) -> Transports:
    result = Transports()
    by_name = result.by_name
    if config.sms is not None:
        from alarms.channels.twilio import TwilioChannel

        by_name["twilio"] = TwilioChannel(config.sms)
    if config.gsm is not None:
        from alarms.channels.gsm import GsmModem

        by_name["gsm"] = GsmModem(config.gsm)
    if config.email is not None:
        from alarms.channels.email import SmtpEmail

        by_name["smtp"] = SmtpEmail(config.email)
    if config.ntfy is not None:
        from alarms.channels.ntfy import NtfyChannel

        by_name["ntfy"] = NtfyChannel(config.ntfy)
    if push_store is not None:
        from alarms.channels.webpush import WebPushChannel
        from hub.vapid import load_or_create

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
            from alarms.channels.dc09 import DC09Channel

            kwargs: dict[str, Any] = {"sequence_path": data_dir / "centre.seq", "on_link": on_centre_link}
            if clock is not None:
                kwargs["clock"] = clock
            by_name["dc09"] = DC09Channel(config.centre, **kwargs)
        else:
            from alarms.channels.webhook import WebhookCentre

            by_name["webhook"] = WebhookCentre(config.centre)
    wanted = {
        "sms": "twilio",
        "voice": "twilio",
        "email": "smtp",
        "push": "webpush",
        "ntfy": "ntfy",
        "gsm": "gsm",
        "centre": "dc09" if config.centre is not None and config.centre.protocol == "dc09" else "webhook",
    }
    # A channel whose transport is not configured goes to the log, and the outbox says so.
    result.for_channel = {ch: wanted[ch] if wanted[ch] in by_name else "log" for ch in CHANNELS}
    return result


async def enter_all(stack: contextlib.AsyncExitStack, transports: Transports) -> None:
    """Start the transports that hold connections or tasks; one that fails to start is logged
    and its messages wait in the outbox (retried), the hub keeps running."""
    for name, channel in list(transports.by_name.items()):
        if hasattr(channel, "__aenter__"):
            try:
                await stack.enter_async_context(channel)  # type: ignore[arg-type]
            except Exception as exc:
                log.error("transport %s did not start: %s", name, exc)
