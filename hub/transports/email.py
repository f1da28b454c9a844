"""The `smtp` transport: the `email` channel, one connection per message through aiosmtplib.

Security follows `[email] security`: "starttls" (plain connection upgraded by STARTTLS,
which is then required, port 587), "tls" (implicit TLS, port 465) or "none" (no TLS at all,
for a relay on the LAN). AUTH is used when `[email] username` is set. Server certificates
are verified against the system CAs, or `tls_context` when given (tests, private CAs).

The message is multipart/alternative: the text as rendered (UTF-8) and the same text as
simple HTML with the subject as headline, so mail apps that prefer HTML show something
readable rather than a wall of monospace.

Photo verification: when the row's payload lists camera frames (`{"photos": [path, ...]}`, files
under `data_dir/snapshots/<incident>/`, written by hub/cameras), the first MAX_PHOTOS of them, at
most MAX_PHOTO_BYTES in all, are attached as image/jpeg. The files are read when the message is
sent (the rows stay small); a file that is gone (retention, a restore) is skipped with a log line
and the e-mail goes out without it: an alarm e-mail never fails for a picture.

Outcome:
- 535 (and other 5xx) on AUTH             -> Permanent: the credentials are wrong
- 5xx on MAIL FROM / RCPT TO / DATA       -> Permanent: that address or message is refused
- the server lacks STARTTLS, AUTH, SMTPUTF8 -> Permanent: [email] security/username do not fit it
- 4xx anywhere, connection errors, timeouts, TLS handshake problems -> Transient

aiosmtplib is imported at the first send or check, not at start (issue 15: the hub's footprint;
a hub without `[email]` never needs it), in a worker thread: 15 ms here and several times that
on a Pi, while the same alarm's centre report and SMS need the event loop.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from hub.transports.base import Delivered, Outcome, OutgoingMessage, Permanent, Transient, TransportError
from hub.transports.lazy_import import import_off_loop

if TYPE_CHECKING:
    from hub.config import EmailConfig

__all__ = ["EmailCheckError", "Photo", "SmtpEmail", "build_message", "html_body", "read_photos"]

log = logging.getLogger(__name__)

TIMEOUT = 15.0  # per SMTP command; the outbox gives a whole send 30 s
MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 1 << 20  # a phone on a mobile network fetches the alarm e-mail fast
# Only the recorder's own files: <data_dir>/snapshots/<incident>/<camera>-<milliseconds>.jpg.
_PHOTO_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}-[0-9]{10,16}\.jpg$")
AUTH_FAILED = "authentication failed; check [email] username/password"


class EmailCheckError(TransportError):
    """`SmtpEmail.check()` failed; the message says what to fix."""


def html_body(subject: str, body: str, language: str) -> str:
    """The text part as minimal, escaped HTML: paragraphs at blank lines, line breaks kept."""
    paragraphs = [p for p in body.replace("\r\n", "\n").split("\n\n") if p.strip()]
    rendered = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.strip("\n").split("\n")) + "</p>" for p in paragraphs
    )
    title = html.escape(subject)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(language, quote=True)}">\n'
        '<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>\n"
        '<body style="font-family: -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif;'
        ' font-size: 16px; line-height: 1.5; color: #1a1a1a; max-width: 40em; margin: 0 auto; padding: 1em;">\n'
        f'<h1 style="font-size: 1.4em; margin: 0 0 0.8em;">{title}</h1>\n'
        f"{rendered}\n"
        '<p style="color: #666; font-size: 0.85em; border-top: 1px solid #ddd; padding-top: 0.8em;">casahub</p>\n'
        "</body>\n</html>\n"
    )


Photo = tuple[str, bytes]  # file name, JPEG bytes


def read_photos(payload: dict[str, object] | None, *, limit: int, max_bytes: int) -> list[Photo]:
    """The camera frames a row refers to (`payload["photos"]`), up to `limit` files and `max_bytes`;
    missing or foreign files are skipped with a log line. Blocking: call it in a thread."""
    paths = payload.get("photos") if payload else None
    if not isinstance(paths, list):
        return []
    photos: list[Photo] = []
    total = 0
    for item in paths:
        if len(photos) >= limit:
            break
        path = Path(str(item))
        if not _PHOTO_NAME.match(path.name) or path.parent.parent.name != "snapshots":
            log.warning("photo %s skipped: not a camera snapshot", path.name)
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("photo %s skipped: %s", path.name, exc.strerror or exc)
            continue
        if total + len(data) > max_bytes:
            log.info("photo %s skipped: the message would exceed %d bytes", path.name, max_bytes)
            continue
        total += len(data)
        photos.append((path.name, data))
    return photos


def build_message(
    message: OutgoingMessage, sender: str, *, now: float | None = None, photos: Sequence[Photo] = ()
) -> EmailMessage:
    """The email for one outbox row: From `sender`, To the row's address, text + HTML alternatives,
    then `photos` as image/jpeg attachments."""
    if not message.address:
        raise ValueError("an email message needs an address")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = formataddr((message.recipient, message.address)) if message.recipient else message.address
    mail["Date"] = formatdate(now, localtime=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    mail["Message-ID"] = make_msgid(idstring=f"casahub.{message.id}", domain=domain)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to the hub
    # quoted-printable: 7-bit clean for any relay, still readable in a raw view.
    mail.set_content(message.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    text_html = html_body(message.subject, message.body, message.language)
    mail.add_alternative(text_html, subtype="html", charset="utf-8", cte="quoted-printable")
    for name, data in photos:
        mail.add_attachment(data, maintype="image", subtype="jpeg", filename=name)
    # After the content and the attachments: both move Content-* headers into the first part.
    mail["Content-Language"] = message.language
    return mail


def _classify(exc: Exception) -> Outcome:
    """Transient or Permanent for an aiosmtplib (or socket/TLS) error."""
    import aiosmtplib  # imported already: the error came from it

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusals = exc.recipients
        if not refusals:
            return Transient("recipients refused")
        first = refusals[0]
        if all(r.code >= 500 for r in refusals):
            return Permanent(f"recipient refused: {first.code} {first.message}")
        return Transient(f"recipient deferred: {first.code} {first.message}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if exc.code >= 500:
            return Permanent(f"{AUTH_FAILED} ({exc.code} {exc.message})")
        return Transient(f"authentication deferred: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or type(exc) is aiosmtplib.SMTPException:
        # aiosmtplib raises the bare class only for what the server lacks (STARTTLS, AUTH).
        return Permanent(f"{str(exc).rstrip('.')}; check [email] security and username")
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError):
        return Transient(f"server refused the session: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        if exc.code >= 500:
            return Permanent(f"sender refused: {exc.code} {exc.message}; check [email] from")
        return Transient(f"sender deferred: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        what = "recipient" if isinstance(exc, aiosmtplib.SMTPRecipientRefused) else "message"
        if exc.code >= 500:
            return Permanent(f"{what} refused: {exc.code} {exc.message}")
        return Transient(f"{what} deferred: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Transient(f"server answered {exc.code} {exc.message}")
    if isinstance(exc, ssl.SSLError):
        return Transient(f"TLS failed: {exc}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Transient(f"timed out: {exc}" if str(exc) else "timed out")
    return Transient(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


class SmtpEmail:
    transport = "smtp"

    def __init__(
        self, config: EmailConfig, *, tls_context: ssl.SSLContext | None = None, timeout: float = TIMEOUT
    ) -> None:
        self.config = config
        self.tls_context = tls_context
        self.timeout = timeout
        self.sender = parseaddr(config.from_)[1] or config.from_

    def _credentials(self) -> tuple[str | None, str | None]:
        if not self.config.username:
            return None, None
        password = self.config.password.reveal() if self.config.password is not None else ""
        return self.config.username, password

    async def send(self, message: OutgoingMessage) -> Outcome:
        if not message.address:
            return Permanent(f"no email address for {message.recipient}")
        await import_off_loop("aiosmtplib")
        import aiosmtplib  # imported by now: a dictionary lookup

        photos = await asyncio.to_thread(read_photos, message.payload, limit=MAX_PHOTOS, max_bytes=MAX_PHOTO_BYTES)
        mail = build_message(message, self.config.from_, photos=photos)
        username, password = self._credentials()
        security = self.config.security
        try:
            await aiosmtplib.send(
                mail,
                sender=self.sender,
                recipients=[message.address],
                hostname=self.config.host,
                port=self.config.port,
                username=username,
                password=password,
                timeout=self.timeout,
                use_tls=security == "tls",
                start_tls=security == "starttls",
                tls_context=self.tls_context if security != "none" else None,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _classify(exc)
        return Delivered(f"accepted by {self.config.host}")

    async def check(self) -> str:
        """Connect, EHLO, STARTTLS and AUTH as configured, send no mail: for `casahub doctor`.

        Returns what worked; raises EmailCheckError saying what failed.
        """
        await import_off_loop("aiosmtplib")
        import aiosmtplib  # imported by now: a dictionary lookup

        username, password = self._credentials()
        security = self.config.security
        where = f"{self.config.host}:{self.config.port}"
        smtp = aiosmtplib.SMTP(
            hostname=self.config.host,
            port=self.config.port,
            timeout=self.timeout,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            tls_context=self.tls_context if security != "none" else None,
        )
        try:
            async with smtp:
                done = [f"connected to {where}", {"tls": "TLS", "starttls": "STARTTLS", "none": "no TLS"}[security]]
                if username is not None:
                    await smtp.login(username, password or "")
                    done.append(f"logged in as {username}")
                await smtp.noop()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            outcome = _classify(exc)
            reason = outcome.reason if isinstance(outcome, Transient | Permanent) else str(exc)
            raise EmailCheckError(f"{where}: {reason}") from exc
        return ", ".join(done)
