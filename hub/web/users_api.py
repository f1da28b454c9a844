"""Users and their alarm codes, managed by the owner from the dashboard; everyone's own language.

    GET    /api/v1/users                {"items": [{"username","role","language","has_code","has_duress","window",
                                        "areas"}]}
    POST   /api/v1/users                {"username","password","role","code"?,"duress_code"?,"language"?,"window"?,
                                        "areas"?} -> 201 user
    PATCH  /api/v1/users/{username}     any of {"password","role","code","duress_code","language","window","areas"}
                                        -> 200 user ("" for code or duress_code removes it; "window": null: always
                                        valid; "areas": null: every area; an owner is never limited to areas)
    DELETE /api/v1/users/{username}     -> 204
    PATCH  /api/v1/session              {"language": "it"|"en"}: the logged-in user's own language

Rules (owner only, sessions and owner tokens, except the last route which any dashboard login
may use for itself):
- the last owner can be neither removed nor demoted (409 `last_owner`), and an owner cannot
  remove themself (409 `self`): the hub must always keep somebody who can manage it;
- codes are 4 to 12 digits; 4 is accepted with `"warnings": ["code_short"]`, since EN 50131
  grade 2 wants 5 or more and installers shorten codes to test;
- a duress code never equals anybody's alarm code (nor the reverse): the keypad tells them
  apart only by value, and a duress disarm must raise the silent alarm, not a normal one;
- a temporary code: `window` {"valid_from","valid_until","weekdays","hours"} (hub/store/code_window.py,
  the hub's time zone) limits when the user's alarm and duress codes work; outside it they are
  refused like wrong codes. An owner may have one only while another owner keeps a code that
  always works (409 `owner_window`): an owner must never be unable to disarm their own house.
  A window already over is accepted with `"warnings": ["window_ended"]`.
Every change is in the audit trail with who made it, and never with a code or a password.
Hashing (argon2) runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import msgspec
from aiohttp import web

from alarms.messages import Language
from hub.store.accounts import (
    UNCHANGED,
    AccountError,
    CodeClashError,
    LastOwnerError,
    OwnerWindowError,
    Role,
    Unchanged,
    User,
)
from hub.store.code_window import CodeWindow, WindowError, ended, parse_window
from hub.web.auth import EVERYONE, OWNERS, require, session_payload
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body

__all__ = ["add_users_routes", "saved_language"]

USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD = 8
MIN_CODE, GRADE2_CODE, MAX_CODE = 4, 5, 12


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str
    role: Role
    code: str | None = None
    duress_code: str | None = None
    language: Language | None = None
    window: dict[str, Any] | None = None
    areas: list[str] | None = None  # the areas the user's codes arm and disarm (None: every area)


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    password: str | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    code: str | msgspec.UnsetType = msgspec.UNSET
    duress_code: str | msgspec.UnsetType = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    window: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    areas: list[str] | msgspec.UnsetType | None = msgspec.UNSET


class SessionPatch(msgspec.Struct, forbid_unknown_fields=True):
    language: Language


def _invalid(field: str, message: str, reason: str) -> ApiError:
    """A 400 naming the field; `reason` is a stable code the dashboard words in its own language."""
    return ApiError(400, f"invalid_field:{field}", f"{field}: {message}", field=field, reason=reason)


def user_json(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "language": user.language,
        "has_code": user.has_code,
        "has_duress": user.has_duress,
        "window": None if user.window is None else user.window.as_json(),
        "areas": None if user.areas is None else list(user.areas),
    }


def read_areas(ctx: WebContext, raw: list[str] | None, role: str) -> tuple[str, ...] | None:
    """A user's areas: known ids, at least one; None: every area. An owner is never limited."""
    if raw is None:
        return None
    if role == "owner":
        raise _invalid("areas", "an owner's codes work in every area", "owner_areas")
    unknown = [a for a in raw if ctx.hub.state.settings.area(a) is None]
    if unknown or not raw:
        return_reason = "unknown_area" if unknown else "no_area"
        raise _invalid("areas", f"unknown area {unknown[0]!r}" if unknown else "at least one area", return_reason)
    return tuple(dict.fromkeys(raw))


def read_window(ctx: WebContext, raw: dict[str, Any] | None) -> tuple[CodeWindow | None, list[str]]:
    """The body's window in the hub's time zone (400 naming its part), and its warnings."""
    try:
        window = parse_window(raw, ctx.hub.tz)
    except WindowError as exc:
        raise ApiError(400, f"invalid_field:{exc.field}", str(exc), field=exc.field, reason=exc.reason) from None
    return window, ["window_ended"] if ended(window, ctx.clock()) else []


def check_code(field: str, code: str | None) -> list[str]:
    """400 for a code that cannot be used; the warnings for one that is accepted."""
    if code is None or code == "":
        return []
    if not (code.isascii() and code.isdigit()):
        raise _invalid(field, "digits only", "code_digits")
    if not MIN_CODE <= len(code) <= MAX_CODE:
        raise _invalid(
            field, f"{MIN_CODE} to {MAX_CODE} digits ({GRADE2_CODE} or more for EN 50131 grade 2)", "code_length"
        )
    return ["code_short"] if len(code) < GRADE2_CODE else []


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise _invalid("password", f"at least {MIN_PASSWORD} characters", "password_length")


def _account_error(exc: AccountError) -> ApiError:
    """The accounts layer names the field before the colon ("duress code: ...")."""
    if isinstance(exc, LastOwnerError):
        return ApiError(409, "last_owner", str(exc))
    if isinstance(exc, OwnerWindowError):
        return ApiError(409, "owner_window", str(exc))
    field = str(exc).split(":", 1)[0].strip().replace(" ", "_") if ":" in str(exc) else "body"
    if isinstance(exc, CodeClashError):
        return ApiError(400, f"invalid_field:{field}", str(exc), field=field, reason="code_clash")
    if str(exc).startswith("no user"):
        return ApiError(404, "unknown_user", str(exc))
    if "already exists" in str(exc):
        return ApiError(409, "user_exists", str(exc))
    return ApiError(400, f"invalid_field:{field}", str(exc), field=field)


def _ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


async def _user_or_404(ctx: WebContext, username: str) -> User:
    user = await asyncio.to_thread(ctx.accounts.get_user, username)
    if user is None:
        raise ApiError(404, "unknown_user", f"no user {username!r}")
    return user


async def saved_language(ctx: WebContext, name: str) -> str | None:
    """The language `name` chose in the dashboard, or None (never chosen, or a token)."""
    user = await asyncio.to_thread(ctx.accounts.get_user, name)
    return user.language if user is not None and user.language_saved else None


# ---------------------------------------------------------------- routes
async def users(request: web.Request) -> web.Response:
    require(request, OWNERS)
    found = await asyncio.to_thread(_ctx(request).accounts.list_users)
    return web.json_response({"items": [user_json(u) for u in found]})


async def user_add(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    body = await read_body(request, NewUser)
    ctx = _ctx(request)
    if not USERNAME.fullmatch(body.username):
        raise _invalid("username", "1-64 letters, digits, '.', '-' or '_'", "username_chars")
    check_password(body.password)
    warnings = check_code("code", body.code) + check_code("duress_code", body.duress_code)
    window, window_warnings = read_window(ctx, body.window)
    areas = read_areas(ctx, body.areas, body.role)
    if await asyncio.to_thread(ctx.accounts.get_user, body.username) is not None:
        raise ApiError(409, "user_exists", f"user {body.username!r} already exists")
    try:
        user = await asyncio.to_thread(
            ctx.accounts.add_user,
            body.username,
            body.password,
            body.role,
            code=body.code or None,
            duress_code=body.duress_code or None,
            language=body.language or ctx.hub.language,
            language_saved=body.language is not None,
            window=window,
        )
        if areas is not None:
            await asyncio.to_thread(ctx.accounts.set_areas, user.username, areas)
            user = await _user_or_404(ctx, user.username)
    except AccountError as exc:
        raise _account_error(exc) from None
    await ctx.hub.audit(
        "user_added",
        actor=principal.name,
        data={"user": user.username, "role": user.role, "code": user.has_code, "duress_code": user.has_duress}
        | ({"window": window.as_json()} if window is not None else {})
        | ({"areas": list(areas)} if areas is not None else {}),
    )
    return web.json_response(user_json(user) | _warnings(warnings + window_warnings), status=201)


def _warnings(warnings: list[str]) -> dict[str, Any]:
    return {"warnings": sorted(set(warnings))} if warnings else {}


async def user_patch(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    ctx = _ctx(request)
    username = request.match_info["username"]
    await _user_or_404(ctx, username)
    body = await read_body(request, UserPatch)
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
    if not given:
        return web.json_response(user_json(await _user_or_404(ctx, username)))  # nothing to change or audit
    if "password" in given:
        check_password(given["password"])
    warnings = check_code("code", given.get("code")) + check_code("duress_code", given.get("duress_code"))
    window: CodeWindow | Unchanged | None = UNCHANGED
    if "window" in given:
        window, window_warnings = read_window(ctx, given["window"])
        warnings += window_warnings
    current = await _user_or_404(ctx, username)
    areas = read_areas(ctx, given.get("areas"), given.get("role", current.role)) if "areas" in given else None
    try:
        user = await asyncio.to_thread(
            ctx.accounts.update_user,
            username,
            password=given.get("password"),
            role=given.get("role"),
            code=given.get("code"),
            duress_code=given.get("duress_code"),
            language=given.get("language"),
            window=window,
        )
        if "areas" in given or (given.get("role") == "owner" and current.areas is not None):
            # An owner's codes work everywhere: a limit from before the promotion is dropped, so
            # that it does not come back unseen if they are ever a member again.
            await asyncio.to_thread(ctx.accounts.set_areas, username, areas)
            user = await _user_or_404(ctx, username)
    except AccountError as exc:
        raise _account_error(exc) from None
    data: dict[str, Any] = {"user": username, "changed": sorted(given)}
    if "areas" in given:
        data["areas"] = user_json(user)["areas"]
    if "role" in given:
        data["role"] = user.role
    if "window" in given:
        data["window"] = user_json(user)["window"]
    for field in ("code", "duress_code"):
        if given.get(field) == "":
            data[f"{field}_removed"] = True
    await ctx.hub.audit("user_changed", actor=principal.name, data=data)
    return web.json_response(user_json(user) | _warnings(warnings))


async def user_delete(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    ctx = _ctx(request)
    username = request.match_info["username"]
    await _user_or_404(ctx, username)
    if principal.kind == "session" and principal.name == username:
        raise ApiError(409, "self", "you cannot remove yourself: another owner can")
    try:
        await asyncio.to_thread(ctx.accounts.remove_user, username, keep_an_owner=True)
    except AccountError as exc:
        raise _account_error(exc) from None
    await ctx.hub.audit("user_removed", actor=principal.name, data={"user": username})
    return web.Response(status=204)


async def session_patch(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    if principal.kind != "session":
        raise ApiError(403, "forbidden", "a language belongs to a dashboard login, not to a token")
    body = await read_body(request, SessionPatch)
    ctx = _ctx(request)
    try:
        user = await asyncio.to_thread(ctx.accounts.set_language, principal.name, body.language)
    except AccountError as exc:
        raise _account_error(exc) from None
    await ctx.hub.audit("language_changed", actor=principal.name, data={"language": user.language})
    return web.json_response(session_payload(principal) | {"language": user.language})


def add_users_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/users", users)
    r.add_post("/api/v1/users", user_add)
    r.add_patch("/api/v1/users/{username}", user_patch)
    r.add_delete("/api/v1/users/{username}", user_delete)
    r.add_patch("/api/v1/session", session_patch)
