"""The sections about reaching people: [[contacts]], [sms], [email], [push], [ntfy], [gsm] and [centre]."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from hub.config.addresses import _EMAIL, _HEX, _NTFY_TOPIC, _PHONE
from hub.config.errors import _Context
from hub.config.model import (
    CENTRE_FORMATS,
    CENTRE_PROTOCOLS,
    EMAIL_SECURITIES,
    ENV_VARS,
    KEY_FORMATS,
    LANGUAGES,
    SMS_PROVIDERS,
    CentreConfig,
    ContactConfig,
    EmailConfig,
    GsmConfig,
    Language,
    NtfyConfig,
    PushConfig,
    Secret,
    SmsConfig,
)
from hub.config.toml_load import _Table


def _phone(t: _Table, name: str) -> str | None:
    value = t.optional_string(name)
    if value is None:
        return None
    normalised = re.sub(r"[\s().-]", "", value)
    if not _PHONE.match(normalised):
        t.error(name, f'{value!r} is not an international phone number (E.164, e.g. "+393331234567")')
        return None
    return normalised


def _contacts(ctx: _Context, items: list[Any], default_language: Language) -> tuple[ContactConfig, ...]:
    contacts: list[ContactConfig] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"contacts[{index}]"
        t = _Table(ctx, item, path, ("name", "phone", "email", "language", "push", "voice", "user"))
        name = t.required_string("name")
        if name in first_index:
            t.error("name", f'duplicate contact name "{name}" (also contacts[{first_index[name]}])')
        elif name:
            first_index[name] = index
        phone = _phone(t, "phone")
        email = t.optional_string("email")
        if email is not None and not _EMAIL.match(email):
            t.error("email", f"{email!r} is not an email address")
        voice = t.boolean("voice", False)
        if voice and phone is None and not t.has("phone"):
            t.error("voice", "voice = true needs a phone number")
        contacts.append(
            ContactConfig(
                name=name,
                phone=phone,
                email=email,
                language=t.choice("language", LANGUAGES, default_language),
                push=t.boolean("push", True),
                voice=voice,
                user=t.optional_string("user"),
            )
        )
    return tuple(contacts)


def _unreachable_contacts(
    ctx: _Context, contacts: Iterable[ContactConfig], *, sms: bool, email: bool, gsm: bool
) -> None:
    """Warn, per contact, of a way to reach them that no section carries: outside the demo nothing
    stands in for a missing channel (hub/transports/registry.py), so that message would never be sent."""
    for index, c in enumerate(contacts):
        path = f"contacts[{index}]"
        if c.phone and not sms and not gsm:
            ctx.warn(
                f"{path}.phone",
                f"{c.name} has a phone but no [sms] (or [gsm] modem) is configured: no SMS will be sent",
            )
        if c.email and not email:
            ctx.warn(
                f"{path}.email", f"{c.name} has an email address but no [email] is configured: no email will be sent"
            )
        if c.voice and not sms:
            ctx.warn(
                f"{path}.voice",
                f"{c.name} wants a voice call but no [sms] (Twilio) is configured: no call will be made",
            )
        reached = (c.phone and (sms or gsm)) or (c.email and email) or c.push
        if not reached:
            ctx.warn(path, f"{c.name} would not be told of any alarm: no configured channel reaches them")


def _sms(ctx: _Context, raw: Mapping[str, Any]) -> SmsConfig:
    t = _Table(ctx, raw, "sms", ("provider", "account_sid", "auth_token", "auth_token_file", "from", "base_url"))
    provider = t.choice("provider", SMS_PROVIDERS, "twilio")
    account_sid = t.required_string("account_sid")
    token = t.secret("auth_token", env=ENV_VARS["sms", "auth_token"], required=True)
    sender = t.required_string("from")
    return SmsConfig(
        provider=provider,
        account_sid=account_sid,
        auth_token=token or Secret(""),
        from_=sender,
        base_url=t.url("base_url", required=False),
    )


_EMAIL_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def _email(ctx: _Context, raw: Mapping[str, Any]) -> EmailConfig:
    known = ("host", "port", "security", "username", "password", "password_file", "from")
    t = _Table(ctx, raw, "email", known)
    security = t.choice("security", EMAIL_SECURITIES, "starttls")
    host = t.host("host", required=True) or ""
    port = t.port("port", default=_EMAIL_PORTS[security])
    username = t.optional_string("username")
    password = t.secret("password", env=ENV_VARS["email", "password"])
    if username is not None and password is None and not t.has("password") and not t.has("password_file"):
        t.error(
            "password",
            "required key missing in [email] when username is set (set password, password_file "
            f"or the {ENV_VARS['email', 'password']} environment variable)",
        )
    if password is not None and username is None and not t.has("username"):
        t.warn("username", "a password is set but no username: it will not be used")
    sender = t.required_string("from")
    if sender:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
        if not _EMAIL.match(address):
            t.error("from", f"{sender!r} is not an email address")
    return EmailConfig(
        host=host,
        port=port or _EMAIL_PORTS[security],
        security=security,
        username=username,
        password=password,
        from_=sender,
    )


def _push(ctx: _Context, raw: Mapping[str, Any]) -> PushConfig:
    t = _Table(ctx, raw, "push", ("vapid_private_key", "vapid_private_key_file", "subject", "allow_private_endpoints"))
    key = t.secret("vapid_private_key", required=False)
    subject = t.required_string("subject")
    if subject and not subject.startswith(("mailto:", "https://")):
        t.error("subject", f'expected "mailto:you@example.org" or an https:// URL, got {subject!r}')
    return PushConfig(
        vapid_private_key=key or Secret(""),
        subject=subject,
        vapid_private_key_file=t.path_value("vapid_private_key_file"),
        allow_private_endpoints=t.boolean("allow_private_endpoints", False),
    )


def _ntfy(ctx: _Context, raw: Mapping[str, Any]) -> NtfyConfig:
    t = _Table(ctx, raw, "ntfy", ("url", "topic", "token", "token_file"))
    url = t.url("url", required=True) or ""
    topic = t.required_string("topic")
    if topic and not _NTFY_TOPIC.match(topic):
        t.error("topic", f"{topic!r} is not an ntfy topic (1-64 letters, digits, - or _)")
    token = t.secret("token", env=ENV_VARS["ntfy", "token"])
    return NtfyConfig(url=url.rstrip("/"), topic=topic, token=token)


def _gsm(ctx: _Context, raw: Mapping[str, Any]) -> GsmConfig:
    t = _Table(ctx, raw, "gsm", ("device", "baudrate"))
    return GsmConfig(device=t.string("device", "/dev/ttyUSB2"), baudrate=t.integer("baudrate", 115200, minimum=1))


_CENTRE_DC09_KEYS = (
    "host",
    "port",
    "account",
    "receiver",
    "line",
    "format",
    "key",
    "key_file",
    "key_format",
    "backup_host",
    "backup_port",
)
_CENTRE_WEBHOOK_KEYS = ("url", "secret", "secret_file")
_CENTRE_KEYS = ("protocol", *_CENTRE_DC09_KEYS, "supervision_interval", *_CENTRE_WEBHOOK_KEYS)
_KEY_LENGTHS: dict[str, tuple[int, ...]] = {"hex": (32, 48, 64), "ascii": (16, 24, 32)}


def _hex_field(t: _Table, name: str, default: str | None, lengths: tuple[int, int]) -> str | None:
    value = t.optional_string(name)
    if value is None:
        return default
    low, high = lengths
    if not (_HEX.match(value) and low <= len(value) <= high):
        t.error(name, f"{value!r} must be {low}-{high} hex digits (0-9, A-F), as a quoted string")
        return default
    return value


def _centre(ctx: _Context, raw: Mapping[str, Any]) -> CentreConfig:
    t = _Table(ctx, raw, "centre", _CENTRE_KEYS)
    protocol = t.choice("protocol", CENTRE_PROTOCOLS, "dc09")
    # With an unknown protocol, which keys are required is unknown too: report only the protocol.
    known_protocol = raw.get("protocol", "dc09") in ("dc09", "webhook")
    dc09 = protocol == "dc09" and known_protocol
    webhook = protocol == "webhook" and known_protocol
    unused = _CENTRE_WEBHOOK_KEYS if dc09 else _CENTRE_DC09_KEYS if webhook else ()
    for name in unused:
        if t.has(name):
            t.warn(name, f'ignored with protocol = "{protocol}"')
    key_format = t.choice("key_format", KEY_FORMATS, "hex")
    key = t.secret("key", env=ENV_VARS["centre", "key"])
    if key is not None and raw.get("key_format", "hex") in KEY_FORMATS:
        _check_centre_key(t, key, key_format)
    host = t.host("host", required=dc09)
    port = t.port("port", required=dc09)
    account = _hex_field(t, "account", None, (3, 16))
    if dc09 and account is None and not t.has("account"):
        t.missing("account")
    backup_host = t.host("backup_host", required=False)
    backup_port = t.port("backup_port")
    if t.has("backup_host") != t.has("backup_port"):
        present, absent = ("backup_host", "backup_port") if t.has("backup_host") else ("backup_port", "backup_host")
        t.error(absent, f"required key missing in [centre] when {present} is set")
    url = t.url("url", required=webhook)
    secret = t.secret("secret", env=ENV_VARS["centre", "secret"], required=webhook)
    return CentreConfig(
        protocol=protocol,
        host=host,
        port=port,
        account=account,
        receiver=_hex_field(t, "receiver", "0", (1, 6)) or "0",
        line=_hex_field(t, "line", "0", (1, 6)) or "0",
        format=t.choice("format", CENTRE_FORMATS, "cid"),
        key=key,
        key_format=key_format,
        supervision_interval=t.duration("supervision_interval", 90, positive=True),
        backup_host=backup_host,
        backup_port=backup_port,
        url=url,
        secret=secret,
    )


def _check_centre_key(t: _Table, key: Secret, key_format: str) -> None:
    value = key.reveal()
    env = ENV_VARS["centre", "key"]
    where = f" (from {env})" if t.ctx.env_value(env) is not None else ""
    lengths = _KEY_LENGTHS[key_format]
    name = "key_file" if t.has("key_file") and not where else "key"
    if key_format == "hex":
        if not _HEX.match(value) or len(value) not in lengths:
            t.error(
                name,
                f'an AES key with key_format = "hex" must be 32, 48 or 64 hex digits{where} '
                f"(got {len(value)} characters{'' if _HEX.match(value) else ', not all hex digits'})",
            )
    elif len(value) not in lengths or not value.isascii():
        t.error(
            name,
            f'an AES key with key_format = "ascii" must be 16, 24 or 32 ASCII characters{where} (got {len(value)})',
        )
