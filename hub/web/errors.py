"""JSON error responses and strict request-body decoding.

Every error the API returns has the shape {"error": "<code>", "message": "..."}; body
problems also carry "field". Bodies are decoded with msgspec against a Struct that
forbids unknown fields, so a typo in a field name is an error, not silently ignored.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web

T = TypeVar("T")

MAX_BODY = 64 * 1024


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

    def response(self) -> web.Response:
        body = {"error": self.error, "message": self.message, **self.extra}
        return web.json_response(body, status=self.status, headers=self.headers)


def error_response(status: int, error: str, message: str, **extra: Any) -> web.Response:
    return ApiError(status, error, message, **extra).response()


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD = re.compile(r"field `(?P<name>[^`]+)`")
_TOO_LONG = re.compile(r"^Expected `str` of length <= (?P<limit>\d+)")


def _field_of(message: str) -> str:
    path = ""
    match = _AT.search(message)
    if match:
        path = match.group("path").lstrip(".")
    named = _FIELD.search(message)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return path or "body"


async def read_body(request: web.Request, schema: type[T]) -> T:
    """Decode the JSON body into `schema`, or raise ApiError 400/413 naming the problem."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "body_too_large", f"request bodies are limited to {MAX_BODY // 1024} KiB")
    # read(n) returns what has arrived so far, not n bytes: read to the end (chunked bodies
    # have no Content-Length), stopping as soon as the limit is passed.
    buffer = bytearray()
    while chunk := await request.content.readany():
        buffer += chunk
        if len(buffer) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"request bodies are limited to {MAX_BODY // 1024} KiB")
    raw = bytes(buffer)
    if not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = _field_of(text)
        longest = _TOO_LONG.search(text)
        if longest:
            # A name, room, reason or label over its bound (hub/bounds.py), in people's words.
            limit = longest.group("limit")
            message = f"{field}: at most {limit} characters"
            raise ApiError(400, f"invalid_field:{field}", message, field=field, reason="too_long") from None
        raise ApiError(400, f"invalid_field:{field}", f"{field}: {text.split(' - at ')[0]}", field=field) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
