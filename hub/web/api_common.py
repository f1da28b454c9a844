"""What the /api/v1 resource modules share: the context, who acts, and what an installer may see."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.store.accounts import Principal
from hub.web.context import CONTEXT, WebContext
from hub.web.installer_view import for_installer, is_installer


def ctx_of(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def actor(principal: Principal) -> str:
    return principal.name


def shown(principal: Principal, body: Any) -> Any:
    """What this reader may see of a JSON body: installers never see the household's names
    (hub/web/installer_view.py)."""
    return for_installer(body, principal.name) if is_installer(principal) else body
