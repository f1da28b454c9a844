"""The `ntfy` transport: one household topic on a (self-hosted) ntfy server, for phone push.

`POST {url}/{topic}` with the message body as the request body and the rest in headers
(https://docs.ntfy.sh/publish/): `Title`, `Priority` (5 = max for an alarm, 4 for an
anomaly, 3 = default otherwise), `Tags` (emoji shortcodes the app shows before the title)
and, when `[ntfy] token` is set, `Authorization: Bearer <token>`. Header values must be
latin-1 for HTTP, so the title goes RFC 2047-encoded when it is not plain ASCII, which
ntfy decodes (server 2.4 and later).

Outcome: 2xx delivered; 429 and 5xx transient (Retry-After honoured); 401/403 permanent
(the token); any other 4xx permanent; network errors and timeouts transient. Redirects are
never followed (a 3xx is permanent, logged): a POST sent on to wherever a server points
could reach a service on the hub or the LAN, and `[ntfy] url` should name the server itself.
"""

from __future__ import annotations

import logging
from email.header import Header
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp

from hub.transports.base import (
    Delivered,
    Outcome,
    OutgoingMessage,
    Permanent,
    Transient,
    TransportError,
    redirect_refused,
    retry_after,
)

if TYPE_CHECKING:
    from hub.config import NtfyConfig

__all__ = ["NtfyChannel", "NtfyCheckError", "headers_for"]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 15.0


class NtfyCheckError(TransportError):
    """`NtfyChannel.check()` failed; the message says what to fix."""


def _header_text(text: str) -> str:
    """A header value ntfy reads back as `text`: ASCII as is, anything else RFC 2047 (UTF-8)."""
    text = " ".join(text.split())
    if text.isascii():
        return text
    return Header(text, "utf-8").encode(linesep=" ")


def headers_for(message: OutgoingMessage, token: str | None) -> dict[str, str]:
    if message.incident:
        priority, tags = "5", "rotating_light"
    elif message.anomaly:
        priority, tags = "4", "warning"
    else:
        priority, tags = "3", "house"
    headers = {
        "Title": _header_text(message.subject),
        "Priority": priority,
        "Tags": tags,
        "Content-Type": "text/plain; charset=utf-8",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class NtfyChannel:
    transport = "ntfy"

    def __init__(self, config: NtfyConfig, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.config = config
        self.url = f"{config.url.rstrip('/')}/{config.topic}"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> NtfyChannel:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self) -> str:
        """For `casahub doctor`, publishing nothing: the server answers `/v1/health`, and the token
        (when set) is accepted by `/v1/account`. Raises NtfyCheckError saying what is wrong."""
        base = self.config.url.rstrip("/")
        token = self.config.token.reveal() if self.config.token is not None else None
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.get(f"{base}/v1/health", allow_redirects=False) as resp:
                    if resp.status != 200:
                        raise NtfyCheckError(f"{base}/v1/health answered {resp.status}: is this an ntfy server?")
                if token is None:
                    return f"{base} reachable; topic {self.config.topic} (no token)"
                async with session.get(
                    f"{base}/v1/account", headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
                ) as resp:
                    if resp.status in (401, 403):
                        raise NtfyCheckError(f"{base} refused the token ({resp.status}); check [ntfy] token")
                    if resp.status != 200:
                        raise NtfyCheckError(f"{base}/v1/account answered {resp.status}")
                    account = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NtfyCheckError(f"{base} unreachable: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
        user = account.get("username", "?") if isinstance(account, dict) else "?"
        return f"{base} reachable; token accepted (user {user}); topic {self.config.topic}"

    async def send(self, message: OutgoingMessage) -> Outcome:
        token = self.config.token.reveal() if self.config.token is not None else None
        headers = headers_for(message, token)
        body = message.body.encode("utf-8")
        try:
            if self._session is not None:
                return await self._post(self._session, headers, body)
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                return await self._post(session, headers, body)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Transient(f"ntfy server unreachable: {type(exc).__name__}: {exc}".rstrip(": "))

    async def _post(self, session: aiohttp.ClientSession, headers: dict[str, str], body: bytes) -> Outcome:
        async with session.post(
            self.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
        ) as resp:
            text = (await resp.text(errors="replace"))[:200].strip()
            status = resp.status
            if 200 <= status < 300:
                return Delivered(f"ntfy {status}")
            if 300 <= status < 400:
                return redirect_refused("ntfy server", status, resp.headers.get("Location"), "[ntfy] url", log)
            reason = f"ntfy answered {status}" + (f": {text}" if text else "")
            if status == 429 or status >= 500:
                return Transient(reason, retry_after(resp.headers.get("Retry-After")))
            if status in (401, 403):
                return Permanent(f"{reason} (check [ntfy] token)")
            return Permanent(reason)
