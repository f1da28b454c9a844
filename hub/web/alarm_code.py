"""The alarm code a request carries (arming, disarming, isolating or restoring a zone)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from hub.store.accounts import Principal
from hub.web.api_common import ctx_of
from hub.web.errors import ApiError


async def check_code(request: web.Request, principal: Principal, code: str) -> tuple[str, bool]:
    """Returns (who, duress) for a valid code; raises 403 bad_code or 429 locked (code_use)."""
    use = await code_use(request, principal, code)
    return use.who, use.duress


@dataclass(frozen=True)
class CodeUse:
    who: str  # "anna", or "anna (token:ab12)" when a token carried anna's code
    duress: bool
    areas: tuple[str, ...] | None  # the areas the code's user may arm and disarm; None: every one


async def code_use(request: web.Request, principal: Principal, code: str) -> CodeUse:
    """Whose valid code this is; raises 403 bad_code or 429 locked.

    The throttle (hub/core/throttle.py) is the one MQTT commands share, kept in the database: 3 wrong
    codes lock this caller for 90 s, each further run twice as long (at most 1 h), and 10 wrong
    codes within an hour from anyone alert the household and the centre. A code outside its
    user's window is refused like a wrong one (and counted like one, except an owner's).
    """
    ctx = ctx_of(request)
    key = principal.name
    now = ctx.clock()
    # Counted before the (slow, threaded) hash check, so that concurrent guesses cannot all
    # get past the lock; a right code takes it back below.
    wait = await ctx.code_throttle.begin(key, now)
    if wait is not None:
        raise _locked(wait)
    match = await asyncio.to_thread(ctx.accounts.match_code, code, now, ctx.hub.tz) if code else None
    if match is None or not match.inside:
        if match is None:
            await ctx.hub.audit("bad_code", actor=principal.name)
        else:
            # A temporary code outside its window (hub/store/code_window.py) is refused exactly like
            # a wrong one, so a guest learns nothing; the log says what it was.
            await ctx.hub.audit("code_outside_window", actor=principal.name, data={"user": match.username})
            if match.role == "owner":  # no lockout penalty for an owner's own code
                ctx.code_throttle.forgive(key, now)
                raise ApiError(403, "bad_code", "wrong code")
        # The alert names a token by its user, as arming does: "anna (token:ab12)".
        by = principal.name if principal.user is None else f"{principal.user} ({principal.name})"
        await ctx.code_throttle.wrong(key, now, by=by)
        wait = ctx.code_throttle.retry_after(key, now)
        if wait is not None:
            raise _locked(wait)
        raise ApiError(403, "bad_code", "wrong code")
    await ctx.code_throttle.right(key)
    who = match.username if match.username == principal.name else f"{match.username} ({principal.name})"
    return CodeUse(who, match.duress, match.areas)


def _locked(wait: float) -> ApiError:
    error = ApiError(429, "locked", f"too many wrong codes; try again in {int(wait) + 1} s")
    error.headers["Retry-After"] = str(int(wait) + 1)
    return error
