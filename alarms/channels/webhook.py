"""The `webhook` transport: the centre report as a signed JSON POST (`[centre] protocol = "webhook"`).

`POST [centre] url` with a JSON body::

    {"id": <outbox id>, "channel": "centre", "incident": ..., "anomaly": ...,
     "report": <the engine's Report payload>, "subject": ..., "text": <message body>,
     "language": ..., "timestamp": "<ISO 8601 UTC>"}

and the headers
- `X-Casahub-Signature: sha256=<hex HMAC-SHA256 of the raw body, key = [centre] secret>`
- `X-Casahub-Timestamp: <POSIX seconds>` (also in the signed body: the receiver can
  refuse old deliveries), `X-Casahub-Message-Id: <outbox id>` (to drop duplicates: the
  outbox delivers at least once).

The receiver verifies with `hmac.compare_digest("sha256=" + hmac_sha256(secret, body), header)`.
Outcome: 2xx delivered; 408, 429, 5xx, network errors and timeouts transient (Retry-After
honoured); any other status permanent (3xx too: redirects are not followed, a POST that is
redirected is not delivered).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp

from alarms.channels.base import Delivered, Outcome, OutgoingMessage, Permanent, Transient, retry_after

if TYPE_CHECKING:
    from hub.config import CentreConfig

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookCentre", "sign"]

REQUEST_TIMEOUT = 15.0
SIGNATURE_HEADER = "X-Casahub-Signature"
TIMESTAMP_HEADER = "X-Casahub-Timestamp"
MESSAGE_ID_HEADER = "X-Casahub-Message-Id"


def sign(secret: str, body: bytes) -> str:
    """The `X-Casahub-Signature` value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookCentre:
    transport = "webhook"

    def __init__(
        self, config: CentreConfig, *, clock: Callable[[], float] = time.time, timeout: float = REQUEST_TIMEOUT
    ) -> None:
        if not config.url or config.secret is None:
            raise ValueError("[centre] protocol = 'webhook' needs url and secret")
        self.config = config
        self.url = config.url
        self._secret = config.secret
        self._clock = clock
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookCentre:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def body_of(self, message: OutgoingMessage, now: float) -> bytes:
        document = {
            "id": message.id,
            "channel": message.channel,
            "incident": message.incident,
            "anomaly": message.anomaly,
            "report": message.payload,
            "subject": message.subject,
            "text": message.body,
            "language": message.language,
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def send(self, message: OutgoingMessage) -> Outcome:
        now = self._clock()
        body = self.body_of(message, now)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self._secret.reveal(), body),
            TIMESTAMP_HEADER: str(int(now)),
            MESSAGE_ID_HEADER: str(message.id),
        }
        try:
            if self._session is not None:
                return await self._post(self._session, headers, body)
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                return await self._post(session, headers, body)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Transient(f"centre webhook unreachable: {type(exc).__name__}: {exc}".rstrip(": "))

    async def _post(self, session: aiohttp.ClientSession, headers: dict[str, str], body: bytes) -> Outcome:
        async with session.post(self.url, data=body, headers=headers, allow_redirects=False) as resp:
            status = resp.status
            text = (await resp.text(errors="replace"))[:200].strip()
            reason = f"centre webhook answered {status}" + (f": {text}" if text else "")
            if 200 <= status < 300:
                return Delivered(f"centre webhook {status}")
            if status in (408, 429) or status >= 500:
                return Transient(reason, retry_after(resp.headers.get("Retry-After"), self._clock))
            if status in (401, 403):
                return Permanent(f"{reason} (check [centre] secret with the centre)")
            if 300 <= status < 400:
                location = resp.headers.get("Location", "")
                return Permanent(f"{reason}: redirected to {location!r}; set [centre] url to the final address")
            return Permanent(reason)
