"""The smtp transport against a real SMTP server (aiosmtpd, `tests.peers.smtp`) with STARTTLS, implicit TLS and AUTH."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hub.config import EmailConfig, Secret
from hub.transports import lazy_import
from hub.transports.base import Delivered, OutgoingMessage, Permanent, Transient
from hub.transports.email import EmailCheckError, SmtpEmail
from tests.peers import free_port
from tests.peers.smtp import PASSWORD, USER, Server, serve_smtp
from tests.peers.tls import Cert, self_signed_cert

SUBJECT = "ALLARME: perdita d'acqua in Cucina"
BODY = (
    "Allarme acqua: il sensore «Lavello» in Cucina ha rilevato una perdita alle 03:12.\n"
    "Chiudi il rubinetto generale e verifica.\n"
    "\n"
    "Perché ricevi questo messaggio? Sei un contatto della casa <Rossi> & co."
)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for 127.0.0.1 (IP SAN), trusted by the client as its own CA."""
    return self_signed_cert(tmp_path_factory.mktemp("smtp-tls"), "casahub test smtp")


@pytest.fixture
def starttls_server(cert: Cert) -> Iterator[Server]:
    with serve_smtp(cert) as server:
        yield server


@pytest.fixture
def tls_server(cert: Cert) -> Iterator[Server]:
    with serve_smtp(cert, implicit_tls=True) as server:
        yield server


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


async def test_the_first_send_imports_the_smtp_client_off_the_event_loop(
    cert: Cert, tls_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first e-mail of an alarm goes out while its centre report and SMS need the loop.
    threads: list[int] = []
    real = lazy_import._import_now

    def import_now(name: str, ready: threading.Event) -> None:
        threads.append(threading.get_ident())
        real(name, ready)

    monkeypatch.setattr(lazy_import, "_READY", {})  # as at start
    monkeypatch.setattr(lazy_import, "_import_now", import_now)
    outcome = await channel(cert, tls_server.port, security="tls").send(outgoing())
    assert isinstance(outcome, Delivered), outcome
    assert threads and threading.get_ident() not in threads
    threads.clear()
    assert isinstance(await channel(cert, tls_server.port, security="tls").send(outgoing()), Delivered)
    assert threads == []  # once
