"""The `webhook` transport: the centre report as a signed JSON POST (`[centre] protocol = "webhook"`).

`POST [centre] url` with a JSON body::

    {"id": <outbox id>, "channel": "centre", "type": "report", "incident": ..., "anomaly": ...,
     "report": <the engine's Report payload>, "subject": ..., "text": <message body>,
     "language": ..., "timestamp": "<ISO 8601 UTC>"}

and the headers
- `X-Casahub-Signature: sha256=<hex HMAC-SHA256 of the raw body, key = [centre] secret>`
- `X-Casahub-Timestamp: <POSIX seconds>` (also in the signed body: the receiver can
  refuse old deliveries), `X-Casahub-Message-Id: <outbox id>` (to drop duplicates: the
  outbox delivers at least once).

Photo verification: after an alarm's after-trigger window the hub sends one more POST per
incident (same headers, same signature) with the camera frames, instead of `report`::

    {"id": ..., "channel": "centre", "type": "snapshots", "incident": ..., "subject": ..., "text": ...,
     "language": ..., "timestamp": ...,
     "snapshots": [{"name": "<camera>-<ms>.jpg", "camera": ..., "at": "<ISO 8601 UTC>",
                    "content_type": "image/jpeg", "data": "<base64>"}, ...]}

(at most MAX_SNAPSHOTS frames and MAX_SNAPSHOT_BYTES of JPEG; a frame whose file is gone is
left out).

The receiver verifies with `hmac.compare_digest("sha256=" + hmac_sha256(secret, body), header)`.
Outcome: 2xx delivered; 408, 429, 5xx, network errors and timeouts transient (Retry-After
honoured); any other status permanent (3xx too, logged: redirects are never followed, a POST
that is redirected is not delivered, and the next hop could be the hub itself or the LAN).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp

from hub.transports.base import (
    Delivered,
    Outcome,
    OutgoingMessage,
    Permanent,
    Transient,
    redirect_refused,
    retry_after,
)
from hub.transports.email import Photo, read_photos

if TYPE_CHECKING:
    from hub.config import CentreConfig

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookCentre", "sign"]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 15.0
SIGNATURE_HEADER = "X-Casahub-Signature"
TIMESTAMP_HEADER = "X-Casahub-Timestamp"
MESSAGE_ID_HEADER = "X-Casahub-Message-Id"
MAX_SNAPSHOTS = 12
MAX_SNAPSHOT_BYTES = 4 << 20


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

    def body_of(self, message: OutgoingMessage, now: float, photos: list[Photo] | None = None) -> bytes:
        document: dict[str, object] = {
            "id": message.id,
            "channel": message.channel,
            "type": "report",
            "incident": message.incident,
            "anomaly": message.anomaly,
            "report": message.payload,
            "subject": message.subject,
            "text": message.body,
            "language": message.language,
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        }
        if photos is not None:
            del document["report"]
            document["type"] = "snapshots"
            document["snapshots"] = [_snapshot_json(name, data) for name, data in photos]
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def send(self, message: OutgoingMessage) -> Outcome:
        now = self._clock()
        photos = None
        if message.payload is not None and "photos" in message.payload:
            photos = await asyncio.to_thread(
                read_photos, message.payload, limit=MAX_SNAPSHOTS, max_bytes=MAX_SNAPSHOT_BYTES
            )
        body = self.body_of(message, now, photos)
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
                return redirect_refused("centre webhook", status, resp.headers.get("Location"), "[centre] url", log)
            return Permanent(reason)


def _snapshot_json(name: str, data: bytes) -> dict[str, str]:
    camera, _, ms = name.removesuffix(".jpg").rpartition("-")
    return {
        "name": name,
        "camera": camera,
        "at": datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="milliseconds"),
        "content_type": "image/jpeg",
        "data": base64.b64encode(data).decode("ascii"),
    }
