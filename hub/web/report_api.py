"""The commissioning report routes (owner and installer; hub/commissioning/ builds the report).

GET  /api/v1/pairing/report?format=json|md|html&lang=it|en
     JSON object, or text/markdown, or a standalone text/html page (same strict CSP as the
     dashboard: it has no script and needs none)
POST /api/v1/pairing/test-messages   {"timeout"?: 1..120 seconds, default 20}
     one test message per channel in use -> {"items": [{"channel","transport","recipient",
     "state","error","at"}]}; recipients are masked

hub.commissioning is imported by the handlers, at the first report or test: a start only needs
the body's bounds (hub/commissioning_limits.py), not the report code (issue 15).
"""

from __future__ import annotations

import json
from typing import Annotated

import msgspec
from aiohttp import web

from hub.commissioning_limits import DEFAULT_TEST_TIMEOUT, TEST_TIMEOUT_RANGE
from hub.web.auth import INSTALLERS, require
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body
from hub.web.headers import SECURITY_HEADERS

FORMATS = {"json": "application/json", "md": "text/markdown", "html": "text/html"}

Timeout = Annotated[float, msgspec.Meta(ge=TEST_TIMEOUT_RANGE[0], le=TEST_TIMEOUT_RANGE[1])]


class TestMessagesBody(msgspec.Struct, forbid_unknown_fields=True):
    timeout: Timeout = DEFAULT_TEST_TIMEOUT


def _ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise ApiError(400, f"invalid_field:{name}", f"{name}: one of {', '.join(allowed)}", field=name)
    return value


async def report(request: web.Request) -> web.Response:
    from hub import commissioning

    require(request, INSTALLERS)
    ctx = _ctx(request)
    fmt = _choice(request, "format", tuple(FORMATS), "json")
    lang = _choice(request, "lang", commissioning.LANGUAGES, ctx.hub.language)
    facts = await commissioning.gather(
        ctx.hub,
        config=ctx.config,
        data_dir=ctx.data_dir,
        drivers=ctx.drivers,
        code_throttle=ctx.code_throttle,
        version=ctx.version,
        tls=ctx.tls,
    )
    data = commissioning.build_report(facts, lang)
    if fmt == "json":
        return web.json_response(data, dumps=lambda v: json.dumps(v, ensure_ascii=False))
    if fmt == "md":
        return web.Response(text=commissioning.to_markdown(data), content_type=FORMATS[fmt], charset="utf-8")
    # The dashboard's policy, plus the hash of the page's one <style> element (no 'unsafe-inline').
    csp = f"{SECURITY_HEADERS['Content-Security-Policy']}; style-src {commissioning.STYLE_SOURCE}"
    response = web.Response(text=commissioning.to_html(data), content_type=FORMATS[fmt], charset="utf-8")
    response.headers["Content-Security-Policy"] = csp
    return response


async def test_messages(request: web.Request) -> web.Response:
    from hub import commissioning

    principal = require(request, INSTALLERS)
    body = await read_body(request, TestMessagesBody)
    hub = _ctx(request).hub
    try:
        results = await commissioning.send_test_messages(hub, by=principal.name, timeout=body.timeout)
    except RuntimeError as exc:
        raise ApiError(503, "starting", str(exc)) from None
    return web.json_response({"items": [commissioning.result_json(r, hub) for r in results]})


def add_report_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/pairing/report", report)
    app.router.add_post("/api/v1/pairing/test-messages", test_messages)
