"""Which notification channels are in use and who receives each, shared by the report and the test messages.

Only real transports count (hub/transports/registry.py `is_real`): a channel a contact needs but
the config lacks is `not_configured`, and the demo's `log` proves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alarms.policy import CHANNELS, Contact
from hub.commissioning.masking import mask_address
from hub.transports.registry import NOT_CONFIGURED, is_real

# The report lists the channels in the Literal's order (alarms/policy.py `Channel`).
CHANNEL_ORDER = CHANNELS


def channels_in_use(contacts: Sequence[Contact], transports: Mapping[str, str]) -> dict[str, list[Contact | None]]:
    """channel -> who receives it (None: the household's ntfy topic or the centre), in contact order.

    A channel is in use when someone would receive it: sms/email/push/voice by the contacts'
    details (configured or not: a phone with no [sms] is a gap the report shows), ntfy and the
    gsm modem when configured (the modem apart only when it is the fallback of Twilio), the
    centre when there is one (the demo's log included: the report says it is a demo).
    """
    used: dict[str, list[Contact | None]] = {}
    for channel in CHANNEL_ORDER:
        if channel == "sms":
            who: list[Contact | None] = [c for c in contacts if c.phone]
        elif channel == "email":
            who = [c for c in contacts if c.email]
        elif channel == "push":
            who = [c for c in contacts if c.push]
        elif channel == "voice":
            who = [c for c in contacts if c.voice and c.phone]
        elif channel == "gsm":
            fallback = is_real(transports.get("gsm")) and transports.get("sms") != transports.get("gsm")
            who = [c for c in contacts if c.phone] if fallback else []
        elif channel == "ntfy":
            who = [None] if is_real(transports.get("ntfy")) else []
        else:
            who = [None] if transports.get("centre", NOT_CONFIGURED) != NOT_CONFIGURED else []
        if who:
            used[channel] = who
    return used


def _address(channel: str, contact: Contact | None) -> str | None:
    if contact is None:
        return None
    if channel == "email":
        return contact.email
    if channel in ("sms", "voice", "gsm"):
        return contact.phone
    return None


def _recipient_label(channel: str, contact: Contact | None) -> str:
    if contact is None:
        return "centre" if channel == "centre" else "household"
    masked = mask_address(channel, _address(channel, contact))
    return f"{contact.name} ({masked})" if masked else contact.name
