"""The smtp transport against a real SMTP server (aiosmtpd) on loopback, with STARTTLS, implicit TLS and AUTH."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alarms.channels.base import Delivered, OutgoingMessage, Permanent, Transient
from alarms.channels.email import EmailCheckError, SmtpEmail
from hub.config import EmailConfig, Secret
from tests.conftest import free_port

USER, PASSWORD = "hub@casa.example", "s3greta-è"
SUBJECT = "ALLARME: perdita d'acqua in Cucina"
BODY = (
    "Allarme acqua: il sensore «Lavello» in Cucina ha rilevato una perdita alle 03:12.\n"
    "Chiudi il rubinetto generale e verifica.\n"
    "\n"
    "Perché ricevi questo messaggio? Sei un contatto della casa <Rossi> & co."
)


@dataclass
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for 127.0.0.1 (IP SAN), trusted by the client as its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "casahub test smtp")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    paths = Cert(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool
    tls: bool


@dataclass
class Mailbox:
    """The aiosmtpd handler: refuses some recipients as a real MTA does, and keeps what it accepts."""

    received: list[Received] = field(default_factory=list)

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


def _serve(cert: Cert, *, implicit_tls: bool) -> Iterator[Server]:
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


@pytest.fixture
def starttls_server(cert: Cert) -> Iterator[Server]:
    yield from _serve(cert, implicit_tls=False)


@pytest.fixture
def tls_server(cert: Cert) -> Iterator[Server]:
    yield from _serve(cert, implicit_tls=True)


def channel(
    cert: Cert,
    port: int,
    *,
    security: str = "starttls",
    password: str = PASSWORD,
    username: str | None = USER,
    timeout: float = 5,
) -> SmtpEmail:
    config = EmailConfig(
        host="127.0.0.1",
        port=port,
        security=security,  # type: ignore[arg-type]
        username=username,
        password=Secret(password),
        from_="Casa Rossi <hub@casa.example>",
    )
    return SmtpEmail(config, tls_context=cert.client_context(), timeout=timeout)


def outgoing(address: str | None = "maria@casa.example", **changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "id": 42,
        "channel": "email",
        "recipient": "Maria Rossi",
        "address": address,
        "language": "it",
        "subject": SUBJECT,
        "body": BODY,
        "short": "ALLARME acqua Cucina",
        "incident": "inc-7",
    }
    values.update(changes)
    return OutgoingMessage(**values)


async def test_starttls_auth_delivers_text_and_html_parts(cert: Cert, starttls_server: Server) -> None:
    outcome = await channel(cert, starttls_server.port).send(outgoing())

    assert isinstance(outcome, Delivered), outcome
    [got] = starttls_server.mailbox.received
    assert got.tls and got.authenticated
    assert got.mail_from == "hub@casa.example"
    assert got.rcpt_tos == ["maria@casa.example"]
    message = got.message
    assert message["Subject"] == SUBJECT
    assert message["To"].addresses[0].addr_spec == "maria@casa.example"
    assert message["To"].addresses[0].display_name == "Maria Rossi"
    assert message["From"].addresses[0].addr_spec == "hub@casa.example"
    assert message["Content-Language"] == "it"
    assert message["Date"].datetime is not None
    assert message["Message-ID"].endswith("@casa.example>")
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == BODY
    page = rich.get_content()
    assert "<h1" in page and "ALLARME: perdita d&#x27;acqua in Cucina</h1>" in page
    assert "«Lavello»" in page and "Perché" in page
    assert "&lt;Rossi&gt; &amp; co." in page and "<Rossi>" not in page
    assert page.count("<p>") == 2


IMPLICIT_TLS_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@IMPLICIT_TLS_AUTH
async def test_implicit_tls_delivers(cert: Cert, tls_server: Server) -> None:
    outcome = await channel(cert, tls_server.port, security="tls").send(outgoing())

    assert isinstance(outcome, Delivered), outcome
    [got] = tls_server.mailbox.received
    assert got.tls and got.authenticated and got.message["Subject"] == SUBJECT


async def test_wrong_password_is_permanent(cert: Cert, starttls_server: Server) -> None:
    outcome = await channel(cert, starttls_server.port, password="wrong").send(outgoing())

    assert isinstance(outcome, Permanent), outcome
    assert outcome.reason.startswith("authentication failed; check [email] username/password")
    assert "535" in outcome.reason
    assert starttls_server.mailbox.received == []


async def test_rejected_recipient_is_permanent(cert: Cert, starttls_server: Server) -> None:
    outcome = await channel(cert, starttls_server.port).send(outgoing("nobody@casa.example"))

    assert isinstance(outcome, Permanent), outcome
    assert "550" in outcome.reason
    assert starttls_server.mailbox.received == []


async def test_deferred_recipient_is_transient(cert: Cert, starttls_server: Server) -> None:
    outcome = await channel(cert, starttls_server.port).send(outgoing("full@casa.example"))

    assert isinstance(outcome, Transient), outcome
    assert "452" in outcome.reason


async def test_server_that_demands_auth_refuses_an_anonymous_hub(cert: Cert, starttls_server: Server) -> None:
    outcome = await channel(cert, starttls_server.port, username=None).send(outgoing())

    # aiosmtpd answers MAIL FROM with "530 5.7.0 Authentication required": a config problem.
    assert isinstance(outcome, Permanent), outcome
    assert "530" in outcome.reason


@IMPLICIT_TLS_AUTH
async def test_starttls_against_an_implicit_tls_port_is_transient(cert: Cert, tls_server: Server) -> None:
    # The server waits for a TLS handshake, the client for a greeting: only the timeout ends it.
    outcome = await channel(cert, tls_server.port, security="starttls", timeout=1).send(outgoing())

    assert isinstance(outcome, Transient), outcome
    assert tls_server.mailbox.received == []


async def test_server_down_is_transient(cert: Cert) -> None:
    outcome = await channel(cert, free_port()).send(outgoing())

    assert isinstance(outcome, Transient), outcome


async def test_untrusted_certificate_is_transient_and_sends_nothing(cert: Cert, starttls_server: Server) -> None:
    config = EmailConfig(
        host="127.0.0.1", port=starttls_server.port, username=USER, password=Secret(PASSWORD), from_="hub@casa.example"
    )
    outcome = await SmtpEmail(config, timeout=5).send(outgoing())  # system CAs: the test cert is unknown

    assert isinstance(outcome, Transient), outcome
    assert "TLS" in outcome.reason or "certificate" in outcome.reason.lower()
    assert starttls_server.mailbox.received == []


async def test_missing_address_is_permanent(cert: Cert, starttls_server: Server) -> None:
    outcome = await channel(cert, starttls_server.port).send(outgoing(address=None))

    assert isinstance(outcome, Permanent)


async def test_check_logs_in_without_sending(cert: Cert, starttls_server: Server) -> None:
    report = await channel(cert, starttls_server.port).check()

    assert "STARTTLS" in report and f"logged in as {USER}" in report
    assert starttls_server.mailbox.received == []


async def test_check_names_the_auth_problem(cert: Cert, starttls_server: Server) -> None:
    with pytest.raises(EmailCheckError, match=r"authentication failed; check \[email\] username/password"):
        await channel(cert, starttls_server.port, password="nope").check()


async def test_check_of_a_server_down_says_so(cert: Cert) -> None:
    with pytest.raises(EmailCheckError, match=r"127\.0\.0\.1"):
        await channel(cert, free_port()).check()
