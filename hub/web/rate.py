"""Write rate limit: each user and each token may change things at most RATE times a second on
average, BURST at once; beyond that the API answers 429 with `Retry-After`.

Why: every accepted change is a journal row and a disk write; a script gone wrong (or a stolen
token) renaming a zone in a loop would fill the SD card. What it never does:

- it never limits disarm, arm, acknowledging or resolving an incident, or putting a zone back
  into protection (`PEOPLE_FIRST`): a homeowner must always be able to stop an alarm; those
  routes have their own wrong-code throttle (hub/core/throttle.py);
- it never counts a request that changed nothing: the token taken before the handler runs is
  given back when the answer is a 4xx (a refused body, a 404, a 409), so concurrent requests
  cannot slip past the bucket, and a client that only gets its input wrong is told why, not 429;
- it never limits reads (GET, HEAD, OPTIONS), the login (its own throttle, hub/web/auth.py) or
  requests without a principal.

One bucket per principal name: a user's sessions on several phones share theirs; each token
("token:<id>") has its own. Buckets live in memory (a restart refills them) and are dropped
once full again, so the table never grows beyond the principals active in the last seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from hub.web.auth import PRINCIPAL, SAFE_METHODS, Handler
from hub.web.errors import ApiError

__all__ = ["BURST", "PEOPLE_FIRST", "RATE", "WriteRate", "write_rate"]

RATE = 5.0  # writes per second, on average
BURST = 20  # writes at once

# (method, route) never limited: people first.
PEOPLE_FIRST = frozenset(
    {
        ("POST", "/api/v1/system/disarm"),
        ("POST", "/api/v1/system/arm"),
        ("POST", "/api/v1/incidents/{id}/ack"),
        ("POST", "/api/v1/incidents/{id}/resolve"),
        ("POST", "/api/v1/zones/{id}/restore"),
        ("DELETE", "/api/v1/session"),  # logging out
        ("POST", "/api/v1/demo/zones/{id}/trigger"),  # demo only: stands for a sensor, not a person
    }
)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class WriteRate:
    """Token buckets per principal; `take` answers None (go) or the seconds to wait."""

    rate: float = RATE
    burst: int = BURST
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _refill(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def take(self, key: str) -> float | None:
        now = self.clock()
        self._forget_full(now)
        bucket = self._refill(key, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def give_back(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1)

    def _forget_full(self, now: float) -> None:
        if len(self._buckets) < 64:
            return
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def write_rate(limiter: WriteRate | None = None) -> Middleware:
    """The middleware; registered inside auth (hub/web/app.py), where the principal is known."""
    limiter = limiter or WriteRate()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        unrouted = request.match_info.http_exception is not None  # a 404/405 changes nothing
        people_first = (request.method, _route(request)) in PEOPLE_FIRST
        if principal is None or unrouted or request.method in SAFE_METHODS or people_first:
            return await handler(request)
        key = principal.name
        wait = limiter.take(key)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            error = ApiError(429, "too_many_changes", f"too many changes at once; try again in {seconds} s")
            error.headers["Retry-After"] = str(seconds)
            raise error
        try:
            response = await handler(request)
        except ApiError as exc:
            if 400 <= exc.status < 500:
                limiter.give_back(key)
            raise
        except web.HTTPException as exc:
            if 400 <= exc.status < 500:
                limiter.give_back(key)
            raise
        if 400 <= response.status < 500:
            limiter.give_back(key)
        return response

    return middleware
