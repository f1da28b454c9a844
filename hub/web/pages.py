"""The homeowner dashboard: HTML pages, static assets and the first-start setup.

Installer tokens: hub/web/tokens_api.py.

The dashboard is a plain HTML/CSS/ES-module app served from `hub/web/static/` (no build
step). It talks to the hub only through the HTTP API and `/api/v1/ws`.

    GET  /, /incidents, /incidents/{id}, /zones, /history, /anomalies   the app shell (session)
    GET  /settings, /settings/{page}   the app shell, owner only (others get a 403 page)
    GET  /pairing                      the app shell, owner and installer only (pairing, walk test)
    GET  /login                        the login page (public)
    GET  /setup                        first start: create the owner (only while no user exists,
                                       only from loopback/private/link-local addresses)
    GET  /static/{name}                the app's files (public: no secrets in them)
    GET  /manifest.webmanifest, /sw.js the PWA manifest and the service worker (root scope)
    POST /api/v1/setup                 {"username","password","code","language"?} -> cookie + login body
                                       public only while no user exists; 409 afterwards

Every page without a dashboard session redirects to /login (the API answers 401 as before).
The CSRF token of the session is put in the shell's <meta name="casahub-csrf">: a page of
another origin can neither read it (same-origin policy) nor frame the shell (frame-ancestors).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import re
import struct
import zlib
from functools import cache
from pathlib import Path

import msgspec
from aiohttp import web

from alarms.messages import LANGUAGES, Language
from hub.store.accounts import AccountError, Principal, User
from hub.web.auth import COOKIE, authenticate
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body

__all__ = ["STATIC_DIR", "add_page_routes", "is_local_address", "png_icon"]

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
}
APP_PAGES = (
    "/",
    "/incidents",
    "/incidents/{id}",
    "/zones",
    "/history",
    "/anomalies",
    "/settings",
    "/settings/{page}",  # a sub-page of Settings (hub/web/static/settings.js)
    "/pairing",
    "/camera",
)
# Pages only some roles may open (the others get the 403 page); every other page: any session.
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "/settings": ("owner",),
    "/settings/{page}": ("owner",),
    "/pairing": ("owner", "installer"),
}
ICON_SIZES = (192, 512)
MIN_SETUP_CODE = 5  # EN 50131 grade 2: arming codes of at least 5 digits
MIN_SETUP_PASSWORD = 8
SAFE_NEXT = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}){1,4}")  # a page of ours, never "//host"

# RFC 1918, RFC 4193 (ULA), loopback and link-local: the networks a first-start setup may come from.
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)

_SETUP_LOCK = asyncio.Lock()


def is_local_address(address: str | None) -> bool:
    """True for loopback, private (RFC 1918), unique-local (ULA) and link-local addresses."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0: drop the zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in LOCAL_NETWORKS)


# ---------------------------------------------------------------- icons (PNG without Pillow)
def png_icon(size: int) -> bytes:
    """The app icon as a PNG: a house on a rounded blue square, drawn with zlib and struct only."""
    bg, fg, edge = (0x1E, 0x3A, 0x8A), (0xFF, 0xFF, 0xFF), (0x0B, 0x1B, 0x4D)
    radius = size * 0.18
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type 0 for each scanline
        for x in range(size):
            u, v = (x + 0.5) / size, (y + 0.5) / size
            # rounded square mask
            dx = max(radius - x - 0.5, 0, x + 0.5 - (size - radius))
            dy = max(radius - y - 0.5, 0, y + 0.5 - (size - radius))
            inside = dx * dx + dy * dy <= radius * radius
            roof = 0.22 <= v <= 0.5 and abs(u - 0.5) <= (v - 0.22) * 1.15
            body = 0.48 <= v <= 0.8 and 0.27 <= u <= 0.73
            door = 0.6 <= v <= 0.8 and 0.45 <= u <= 0.55
            if not inside:
                row += bytes((0, 0, 0, 0))
            elif door:
                row += bytes((*edge, 255))
            elif roof or body:
                row += bytes((*fg, 255))
            else:
                row += bytes((*bg, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


@cache
def _icon(size: int) -> bytes:
    return png_icon(size)


# ---------------------------------------------------------------- static files
@cache
def _static_files() -> dict[str, tuple[Path, str]]:
    """name -> (path, content type): only the files shipped in the package, nothing computed from the URL."""
    files: dict[str, tuple[Path, str]] = {}
    for path in STATIC_DIR.iterdir():
        content_type = STATIC_TYPES.get(path.suffix)
        # Pages are templates served by their own routes; only the offline page is a plain file.
        page = path.suffix == ".html" and path.name != "offline.html"
        if path.is_file() and content_type and path.name != "sw.js" and not page:
            files[path.name] = (path, content_type)
    return files


def _file_response(path: Path, content_type: str, *, status: int = 200) -> web.Response:
    charset = None if content_type.startswith("image/png") else "utf-8"
    response = web.Response(body=path.read_bytes(), status=status, content_type=content_type, charset=charset)
    response.headers["Cache-Control"] = "no-cache"  # revalidate: a hub update must reach the phone
    return response


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name in {f"icon-{s}.png" for s in ICON_SIZES}:
        size = int(name[5:-4])
        body = await asyncio.to_thread(_icon, size)
        response = web.Response(body=body, content_type="image/png")
        response.headers["Cache-Control"] = "no-cache"
        return response
    found = _static_files().get(name)
    if found is None:
        raise ApiError(404, "not_found", f"no file {name!r}")
    return _file_response(*found)


async def manifest(request: web.Request) -> web.Response:
    return _file_response(STATIC_DIR / "manifest.webmanifest", "application/manifest+json")


async def service_worker(request: web.Request) -> web.Response:
    response = _file_response(STATIC_DIR / "sw.js", "text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


# ---------------------------------------------------------------- pages
def _redirect(location: str) -> web.Response:
    # A plain response (not a raised HTTPFound) so that the security headers are added to it too.
    return web.Response(status=302, headers={"Location": location}, text="")


def _html(name: str, *, status: int = 200, values: dict[str, str] | None = None) -> web.Response:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    for key, value in (values or {}).items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def _session_of(ctx: WebContext, request: web.Request) -> Principal | None:
    principal = await authenticate(ctx, request)
    # The shell needs a dashboard login (its CSRF token); a bearer token is for API clients.
    return principal if principal is not None and principal.kind == "session" else None


async def _no_users(ctx: WebContext) -> bool:
    return await asyncio.to_thread(ctx.accounts.user_count) == 0


def page_language(user: User | None, accept_language: str, hub_language: str) -> str:
    """The dashboard's language: the one the user saved, else the browser's first choice among
    ours (Accept-Language, by q-value), else the hub's [hub] language."""
    if user is not None and user.language_saved:
        return user.language
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        match = re.fullmatch(r"\s*q=([01](?:\.\d{0,3})?)\s*", params)
        if params and match:
            q = float(match.group(1))
        primary = tag.strip().lower().split("-", 1)[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, index, primary))
    return min(ranked)[2] if ranked else hub_language


async def app_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    principal = await _session_of(ctx, request)
    if principal is None:
        if await _no_users(ctx) and is_local_address(request.remote):
            return _redirect("/setup")
        target = request.path if SAFE_NEXT.fullmatch(request.path) and request.path != "/" else ""
        return _redirect("/login" + (f"?next={target}" if target else ""))
    canonical = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    if principal.role not in PAGE_ROLES.get(canonical, (principal.role,)):
        return _html("denied.html", status=403)
    user = await asyncio.to_thread(ctx.accounts.get_user, principal.name)
    return _html(
        "index.html",
        values={
            "csrf": principal.csrf or "",
            "user": principal.name,
            "role": principal.role,
            "language": page_language(user, request.headers.get("Accept-Language", ""), ctx.hub.language),
            "demo": "1" if ctx.demo else "",
        },
    )


async def login_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if await _no_users(ctx) and is_local_address(request.remote):
        return _redirect("/setup")
    return _html("login.html")


async def setup_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if not await _no_users(ctx):
        return _redirect("/login")
    if not is_local_address(request.remote):
        return _html("setup-remote.html", status=403)
    return _html("setup.html")


# ---------------------------------------------------------------- API: setup
class SetupBody(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str
    code: str
    language: Language = "it"


async def setup(request: web.Request) -> web.Response:
    """Create the first user, the owner, and log them in. Public only while no user exists."""
    ctx = request.app[CONTEXT]
    body = await read_body(request, SetupBody)
    async with _SETUP_LOCK:
        if not await _no_users(ctx):
            raise ApiError(409, "already_set_up", "the hub already has an owner: log in")
        if not is_local_address(request.remote):
            raise ApiError(403, "not_local", "the first setup is only possible from the home network")
        if len(body.password) < MIN_SETUP_PASSWORD:
            raise ApiError(
                400, "invalid_field:password", f"password: at least {MIN_SETUP_PASSWORD} characters", field="password"
            )
        if not re.fullmatch(rf"[0-9]{{{MIN_SETUP_CODE},12}}", body.code):
            raise ApiError(400, "invalid_field:code", f"code: {MIN_SETUP_CODE} to 12 digits", field="code")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", body.username):
            raise ApiError(
                400, "invalid_field:username", "username: 1-64 letters, digits, '.', '-' or '_'", field="username"
            )
        try:
            user = await asyncio.to_thread(
                ctx.accounts.add_user, body.username, body.password, "owner", code=body.code, language=body.language
            )
        except AccountError as exc:
            field = str(exc).split(":", 1)[0].replace(" ", "_")
            raise ApiError(400, f"invalid_field:{field}", str(exc), field=field) from None
    now = ctx.clock()
    secret, csrf = await asyncio.to_thread(ctx.accounts.create_session, user.username, now)
    await ctx.hub.audit("owner_created", actor=user.username, data={"address": request.remote or "?"}, notify=False)
    response = web.json_response(
        {"user": user.username, "role": user.role, "csrf": csrf, "language": user.language}, status=201
    )
    response.set_cookie(
        COOKIE, secret, httponly=True, samesite="Strict", secure=ctx.tls, path="/", max_age=30 * 24 * 3600
    )
    return response


def add_page_routes(app: web.Application) -> None:
    r = app.router
    for path in APP_PAGES:
        r.add_get(path, app_page)
    r.add_get("/login", login_page)
    r.add_get("/setup", setup_page)
    r.add_get("/static/{name}", static_file)
    r.add_get("/manifest.webmanifest", manifest)
    r.add_get("/sw.js", service_worker)
    r.add_post("/api/v1/setup", setup)
