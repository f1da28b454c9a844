"""A real SMTP server (aiosmtpd) on loopback with STARTTLS or implicit TLS, and AUTH.

`serve_smtp(cert)` runs aiosmtpd's `Controller` (its own thread and loop) requiring STARTTLS and
AUTH as `USER` / `PASSWORD`, like a submission port (587); `implicit_tls=True` gives a port-465
server. The `Mailbox` handler refuses some recipients as a real MTA does (`nobody@` permanently,
`full@` for now) and keeps every message it accepts, parsed, with the session's TLS and AUTH state.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.peers import free_port
from tests.peers.tls import Cert

__all__ = ["PASSWORD", "USER", "Mailbox", "Received", "Server", "authenticator", "serve_smtp"]

USER, PASSWORD = "hub@casa.example", "s3greta-è"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool
    tls: bool
    at: float = field(default_factory=time.perf_counter)  # when DATA was accepted


@dataclass
class Mailbox:
    """The aiosmtpd handler: refuses some recipients as a real MTA does, and keeps what it accepts.

    It runs in the controller's thread: read `received` from the test's loop only by polling.
    """

    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@casa.example>: Recipient address rejected: User unknown"
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # Every line a real MTA would accept: 7-bit clean, under the 998-octet limit.
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=parsed,
                    authenticated=bool(session.authenticated),
                    tls=server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
                )
            )
        return "250 2.0.0 Ok: queued"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode("utf-8")
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    port: int
    mailbox: Mailbox


@contextmanager
def serve_smtp(cert: Cert, *, implicit_tls: bool = False) -> Iterator[Server]:
    mailbox = Mailbox()
    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if implicit_tls:
        # aiosmtpd's auth_require_tls only recognises STARTTLS; here every byte is TLS anyway.
        options["ssl_context"] = cert.server_context()
        options["auth_require_tls"] = False
    else:
        options["tls_context"] = cert.server_context()
        options["require_starttls"] = True
        options["auth_require_tls"] = True
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield Server(port, mailbox)
    finally:
        controller.stop()
