"""The parts of the `twilio` SDK the twilio transport uses, kept apart so that the hub does not load them at start.

The SDK with its REST API classes costs about 14 MB and 80 ms to import (issue 15: the hub's
footprint). hub.transports.twilio imports this module at the first send or check, in a worker
thread (see `TwilioChannel._ensure_client`), never at import or start-up.

`make_client` must run on the event loop's thread: the SDK creates its aiohttp session in the
constructor. Nothing here imports the SDK lazily behind the caller's back: importing this module
imports every SDK module a send, a call or a check touches (`twilio.rest.api` is what the
client's `api` property would otherwise import on the loop).
"""

from __future__ import annotations

import base64
import contextvars
from collections.abc import Mapping
from typing import Any

import twilio.rest.api  # type: ignore[import-untyped]  # noqa: F401  (see the docstring)
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

__all__ = [
    "HttpClient",
    "RequestRecord",
    "TwilioException",
    "TwilioRestException",
    "TwilioServiceException",
    "VoiceResponse",
    "current_record",
    "make_client",
]


class RequestRecord:
    """Response headers of the request made by one `send`, for Retry-After (the SDK's exceptions drop them)."""

    __slots__ = ("headers",)

    def __init__(self) -> None:
        self.headers: Mapping[str, str] = {}


current_record: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "casahub_twilio_record", default=None
)


class HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp client with three fixes: the client timeout applies (the SDK passes None per
    request, which aiohttp reads as "no timeout"), Basic auth goes in a header (aiohttp deprecates its
    `auth` argument; the SDK's request log leaves Authorization headers out), and the response headers
    are kept for the calling task (Retry-After: the SDK's exceptions drop them)."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        headers = dict(headers or {})
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {credentials}"
        response = await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        record = current_record.get()
        if record is not None:
            record.headers = dict(response.headers or {})
        return response


def make_client(account_sid: str, auth_token: str, *, base_url: str | None, timeout: float) -> tuple[HttpClient, Any]:
    """The HTTP client and the REST client of one channel; call it on the event loop's thread."""
    # max_retries=None: no aiohttp_retry wrapper around the session, so one send is one POST.
    http = HttpClient(timeout=timeout, max_retries=None)
    client = Client(account_sid, auth_token, http_client=http)
    # The SDK falls back to TWILIO_EDGE / TWILIO_REGION when these are None: clear that influence.
    client.edge = None
    client.region = None
    if base_url:
        client.api.base_url = base_url.rstrip("/")
    return http, client
