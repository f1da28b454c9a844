"""Every peer of a fully configured hub at once, and the hub config that points at them.

`household(folder)` runs, on loopback: the Twilio double, aiosmtpd (STARTTLS + AUTH), the push
service over HTTPS and the pysiaalarm receiver, all TLS peers with one self-signed certificate.
`Household.write_config()` writes the TOML a demo hub needs to reach them: one contact (phone,
email, the app of the dashboard user `demo`), `[sms]` with `base_url` at the double, `[email]`,
`[push]` and `[centre]` DC-09 (AES-128, `key_format = "ascii"`). The hub must trust the
certificate: run it inside `tests.peers.tls.trusted(household.cert)`.

Used by tests/e2e and bench/latency.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.peers.push import SUBJECT, Browser, Delivery, PushService
from tests.peers.sia import AES128_ACCOUNT, AES128_KEY, Receiver
from tests.peers.smtp import PASSWORD, USER, Received, Server, serve_smtp
from tests.peers.tls import Cert, self_signed_cert
from tests.peers.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, TwilioDouble

if TYPE_CHECKING:
    from tests.conftest import Api

__all__ = ["CONTACT", "Household", "household", "logged_in", "subscribe_app"]

CONTACT = {"name": "Anna Rossi", "phone": "+393331234567", "email": "anna@casa.example", "user": "demo"}
SENDER = "Casa Rossi <hub@casa.example>"


@dataclass
class Household:
    folder: Path
    cert: Cert
    twilio: TwilioDouble
    smtp: Server
    push: PushService
    centre: Receiver
    vapid_key_file: Path

    def write_config(
        self,
        path: Path,
        *,
        language: str = "en",
        supervision_interval: float = 90,
        ack_timeout: float = 3600,
    ) -> Path:
        """The hub config for these peers; `ack_timeout` long so that reminder SMS stay scheduled."""

        def q(value: object) -> str:
            return json.dumps(value)  # a TOML basic string or number

        contact = "\n".join(f"{key} = {q(value)}" for key, value in {**CONTACT, "language": language}.items())
        path.write_text(
            f"""\
[escalation]
ack_timeout = {q(ack_timeout)}

[[contacts]]
{contact}

[sms]
account_sid = {q(ACCOUNT_SID)}
auth_token = {q(AUTH_TOKEN)}
from = {q(FROM)}
base_url = {q(self.twilio.base_url)}

[email]
host = "127.0.0.1"
port = {self.smtp.port}
security = "starttls"
username = {q(USER)}
password = {q(PASSWORD)}
from = {q(SENDER)}

[push]
vapid_private_key_file = {q(str(self.vapid_key_file))}
subject = {q(self.push.subject)}
allow_private_endpoints = true  # the push service double runs on loopback

[centre]
protocol = "dc09"
host = "127.0.0.1"
port = {self.centre.port}
account = {q(AES128_ACCOUNT)}
key = {q(AES128_KEY)}
key_format = "ascii"
supervision_interval = {q(supervision_interval)}
""",
            encoding="utf-8",
        )
        return path

    def emails(self) -> list[Received]:
        return self.smtp.mailbox.messages()

    def pushes(self, incident: str | None = None) -> list[Delivery]:
        """Push messages accepted so far (for `incident` only, when given)."""
        return [d for d in self.push.deliveries if incident is None or d.payload.get("incident") == incident]


def _keys(folder: Path) -> tuple[Cert, Path]:
    """The peers' TLS certificate and the hub's VAPID key file (`[push] vapid_private_key_file`)."""
    folder.mkdir(parents=True, exist_ok=True)
    vapid_key_file = folder / "vapid.pem"
    vapid_key_file.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return self_signed_cert(folder / "tls"), vapid_key_file


@asynccontextmanager
async def household(folder: Path) -> AsyncIterator[Household]:
    cert, vapid_key_file = _keys(folder)
    async with AsyncExitStack() as stack:
        twilio = TwilioDouble()
        await twilio.start()
        stack.push_async_callback(twilio.stop)
        smtp = stack.enter_context(serve_smtp(cert))
        push = PushService(subject=SUBJECT)
        await push.start(cert.server_context())
        stack.push_async_callback(push.stop)
        centre = Receiver()
        await centre.start()
        stack.push_async_callback(centre.stop)
        yield Household(folder, cert, twilio, smtp, push, centre, vapid_key_file)


@asynccontextmanager
async def logged_in(base: str, username: str = "demo", password: str = "demo") -> AsyncIterator[Api]:
    """A dashboard-like API client of the hub at `base`, logged in (cookie session + CSRF)."""
    from tests.conftest import Api

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(base, session)
        await api.login(username, password)
        yield api


async def subscribe_app(api: Api, push: PushService) -> Browser:
    """What the dashboard PWA does: fetch the hub's VAPID key, subscribe a browser, register it."""
    key = (await api.get("/api/v1/push/vapid"))["public_key"]
    browser = push.subscribe(key)
    status, body = await api.post("/api/v1/push/subscriptions", browser.json())
    assert status == 201, body
    return browser
