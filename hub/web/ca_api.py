"""A phone learns to trust the hub (README, "Phones: push notifications"): the local CA's root.

    GET /ca.crt                the root certificate (DER), for Android's "CA certificate" install
    GET /ca.mobileconfig       the same root in an iOS configuration profile (com.apple.security.root)
    GET /api/v1/phone-setup    the household: is the root served, its fingerprint, the URLs to scan

The two downloads need no login: a phone that does not trust the hub yet cannot log in
comfortably, and they hold only the public root (hub/system/local_ca.py keeps the key). They
answer 404 when the hub serves no certificate of its own CA (`tls = "off"`, or the owner's own
certificate with `tls = {cert, key}`). The Settings page (static/phone_setup.js) shows the URLs
as QR codes and the fingerprint to compare on the phone.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import plistlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.system.local_ca import LocalCA
from hub.web.api_common import ctx_of
from hub.web.auth import HOUSEHOLD, require
from hub.web.context import WebContext
from hub.web.errors import ApiError

CA_CRT = "/ca.crt"
CA_PROFILE = "/ca.mobileconfig"

# What the phone shows when it installs the profile, in the hub's language.
PROFILE_TEXTS = {
    "it": (
        "casahub: certificato della centrale",
        "Fa riconoscere al telefono la centrale casahub di casa, per aprirla in HTTPS e ricevere le notifiche.",
    ),
    "en": (
        "casahub: the hub's certificate",
        "Lets this phone recognise the casahub hub at home, to open it over HTTPS and receive notifications.",
    ),
}


@dataclass(frozen=True)
class Served:
    """The local CA whose root the hub hands out, or why there is none."""

    ca: LocalCA | None
    reason: str | None  # "tls_off" or "own_certificate" when ca is None


def served(ctx: WebContext) -> Served:
    if not ctx.tls or ctx.config is None or ctx.data_dir is None:
        return Served(None, "tls_off")
    if not isinstance(ctx.config.web.tls, str):
        return Served(None, "own_certificate")
    ca = LocalCA(Path(ctx.data_dir) / "certs")
    return Served(ca, None) if ca.root_path.is_file() else Served(None, "tls_off")


def _the_ca(request: web.Request) -> LocalCA:
    ca = served(ctx_of(request)).ca
    if ca is None:
        raise ApiError(404, "no_local_ca", "this hub serves no certificate of its own certificate authority")
    return ca


def mobileconfig(root_der: bytes, root_fingerprint: str, language: str) -> bytes:
    """An unsigned iOS configuration profile that installs `root_der` as a trusted root.

    Its identifiers come from the root's fingerprint: installing it again replaces the profile,
    and a new root (a new hub) is a profile of its own."""
    name, description = PROFILE_TEXTS.get(language, PROFILE_TEXTS["en"])
    key = root_fingerprint.replace(":", "").lower()
    payload = {
        "PayloadCertificateFileName": "casahub-ca.cer",
        "PayloadContent": root_der,
        "PayloadDescription": description,
        "PayloadDisplayName": name,
        "PayloadIdentifier": f"local.casahub.ca.{key[:16]}.root",
        "PayloadType": "com.apple.security.root",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"casahub-ca:{key}:root")).upper(),
        "PayloadVersion": 1,
    }
    profile = {
        "PayloadContent": [payload],
        "PayloadDescription": description,
        "PayloadDisplayName": name,
        "PayloadIdentifier": f"local.casahub.ca.{key[:16]}",
        "PayloadOrganization": "casahub",
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"casahub-ca:{key}")).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-cache"},
    )


async def ca_certificate(request: web.Request) -> web.Response:
    der = await asyncio.to_thread(_the_ca(request).root_der)
    return _download(der, "application/x-x509-ca-cert", "casahub-ca.crt")


async def ca_profile(request: web.Request) -> web.Response:
    ca = _the_ca(request)
    config = ctx_of(request).config
    language = config.hub.language if config is not None else "en"
    der, fp = await asyncio.to_thread(lambda: (ca.root_der(), ca.root_fingerprint()))
    return _download(mobileconfig(der, fp, language), "application/x-apple-aspen-config", "casahub.mobileconfig")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url(request: web.Request, names: list[str], addresses: list[str]) -> str:
    """Where a phone on the LAN reaches the hub: the address this page came from when the
    certificate covers it and it is not loopback, else the hub's first LAN address, else it anyway."""
    host = (request.url.host or "").strip("[]")
    port = request.url.port
    chosen = host
    if _is_loopback(host) or (host not in names and host not in addresses):
        lan = [a for a in addresses if not _is_loopback(a)]
        chosen = lan[0] if lan else host
    shown = f"[{chosen}]" if ":" in chosen else chosen
    return f"https://{shown}" + (f":{port}" if port not in (None, 443) else "")


async def phone_setup(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    found = served(ctx_of(request))
    if found.ca is None:
        return web.json_response({"local_ca": False, "reason": found.reason})
    ca = found.ca
    fp, record = await asyncio.to_thread(lambda: (ca.root_fingerprint(), ca.record() or {}))
    names = [n for n in record.get("names", []) if isinstance(n, str)]
    addresses = [a for a in record.get("addresses", []) if isinstance(a, str)]
    base = base_url(request, names, addresses)
    not_after = record.get("not_after")
    body: dict[str, Any] = {
        "local_ca": True,
        "reason": None,
        "fingerprint": fp,
        "urls": {"android": base + CA_CRT, "ios": base + CA_PROFILE},
        "names": names,
        "addresses": addresses,
        "certificate_ends": (
            datetime.datetime.fromtimestamp(not_after, datetime.UTC).isoformat()
            if isinstance(not_after, int | float)
            else None
        ),
    }
    return web.json_response(body)


def add_ca_routes(app: web.Application) -> None:
    app.router.add_get(CA_CRT, ca_certificate)
    app.router.add_get(CA_PROFILE, ca_profile)
    app.router.add_get("/api/v1/phone-setup", phone_setup)
