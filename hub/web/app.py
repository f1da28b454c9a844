"""The aiohttp application: error handling, auth, security headers and routes.

`make_app` is the one place that assembles the routes: every hub/web module exposes an
`add_*_routes(app)` and imports nothing from this module, so the package has no import cycle
(pyproject's import-linter contract keeps it so). The daemon passes in what only it can build
(the push store's routes, the /metrics handler) and adds no route afterwards.

The error middleware is the outermost layer: whatever goes wrong in a handler, the
client gets JSON with an `error` code and the daemon keeps running.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from hub.core.degraded import DURABLE_REQUIRED, STORAGE_ERRORS, NotDurable
from hub.web.areas_api import add_areas_routes
from hub.web.auth import Handler, auth_middleware
from hub.web.ca_api import add_ca_routes
from hub.web.camera_api import add_camera_routes
from hub.web.channels_api import add_channels_routes
from hub.web.contacts_api import add_contacts_routes
from hub.web.context import CONTEXT, WebContext
from hub.web.devices_api import add_devices_routes
from hub.web.errors import MAX_BODY, ApiError, error_response
from hub.web.events_api import add_events_routes
from hub.web.headers import SECURITY_HEADERS
from hub.web.limits import WebLimits, request_clock, websocket_cap
from hub.web.outputs_api import add_outputs_routes
from hub.web.pages import add_page_routes
from hub.web.rate import write_rate
from hub.web.report_api import add_report_routes
from hub.web.schedules_api import add_schedules_routes
from hub.web.settings_api import add_settings_routes
from hub.web.system_api import add_system_routes
from hub.web.tokens_api import add_token_routes
from hub.web.users_api import add_users_routes
from hub.web.walktest_api import add_walktest_routes
from hub.web.ws import add_ws_routes
from hub.web.zones_api import add_zones_routes

if TYPE_CHECKING:
    from hub.web.push import PushWeb

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # A change answers 2xx only once it is written (hub/core/degraded.py); disarm opts out.
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


def make_app(
    ctx: WebContext,
    limits: WebLimits | None = None,
    *,
    push: PushWeb | None = None,
    metrics: Handler | None = None,
) -> web.Application:
    """The application with every route: the API, the pages, and, when given, /metrics and the
    Web Push routes (hub/web/push.py, imported only then: it pulls in the push transport)."""
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
    add_system_routes(app)
    add_areas_routes(app)
    add_zones_routes(app)
    add_outputs_routes(app)
    add_devices_routes(app)
    add_events_routes(app)
    add_ws_routes(app)
    add_users_routes(app)
    add_contacts_routes(app)
    add_report_routes(app)
    add_camera_routes(app)
    add_walktest_routes(app)
    add_settings_routes(app)
    add_schedules_routes(app)
    add_token_routes(app)
    add_channels_routes(app)
    add_page_routes(app)
    add_ca_routes(app)  # the local CA root for phones: public (hub/web/ca_api.py)
    if metrics is not None:
        # Prometheus: loopback is trusted, anything else needs a token or a dashboard session.
        app.router.add_get("/metrics", metrics)
    if push is not None:
        from hub.web.push import add_push_routes

        add_push_routes(app, push)
    return app
