"""The aiohttp application: error handling, auth, security headers and routes.

The error middleware is the outermost layer: whatever goes wrong in a handler, the
client gets JSON with an `error` code and the daemon keeps running.
"""

from __future__ import annotations

import logging

from aiohttp import web

from hub.degraded import DURABLE_REQUIRED, STORAGE_ERRORS, NotDurable
from hub.web.api import add_routes
from hub.web.auth import Handler, auth_middleware
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import MAX_BODY, ApiError, error_response
from hub.web.limits import WebLimits, request_clock, websocket_cap
from hub.web.pages import add_page_routes
from hub.web.rate import write_rate

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Cache-Control": "no-store",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # A change answers 2xx only once it is written (hub/degraded.py); disarm opts out.
        DURABLE_REQUIRED.set(True)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except (NotDurable, *STORAGE_ERRORS) as exc:
        log.error("%s %s: not written, not made: %s", request.method, request.path, exc)
        response = error_response(
            503, "storage_error", "the hub cannot write to its storage (disk full or failing): the change was not made"
        )
    except web.HTTPRequestEntityTooLarge:
        response = error_response(413, "body_too_large", f"request bodies are limited to {MAX_BODY // 1024} KiB")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        response = error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = error_response(500, "internal", "internal error; the hub log has the details")
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def make_app(ctx: WebContext, limits: WebLimits | None = None) -> web.Application:
    limits = limits or WebLimits()
    # request_clock outermost (the request head is in: stop its clock); the WebSocket cap inside
    # auth, where the principal is known (hub/web/limits.py).
    middlewares = [
        request_clock,
        error_middleware,
        auth_middleware,
        websocket_cap(limits.max_websockets_per_user),
        write_rate(),  # per-user and per-token write rate, never on disarm (hub/web/rate.py)
    ]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[CONTEXT] = ctx
    add_routes(app)
    add_page_routes(app)
    return app
