"""`casahub status | arm | disarm`: talk to a running hub over its HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import Any

import aiohttp

DEFAULT_HUB = "http://127.0.0.1:8080"


class RemoteError(Exception):
    pass


async def _call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    base = (args.hub or os.environ.get("CASAHUB_HUB") or DEFAULT_HUB).rstrip("/")
    token = args.token or os.environ.get("CASAHUB_TOKEN")
    if not token:
        raise RemoteError("no token: pass --token or set CASAHUB_TOKEN (casahub token create --role member)")
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=15)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, base + path, json=body, headers=headers) as resp,
        ):
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                message = data.get("message", resp.reason) if isinstance(data, dict) else resp.reason
                extra = ""
                if isinstance(data, dict) and data.get("not_ready"):
                    extra = "\n" + "\n".join(f"  - {z['name']}: {z['reason']}" for z in data["not_ready"])
                raise RemoteError(f"{message} (HTTP {resp.status}){extra}")
            return data
    except aiohttp.ClientConnectionError as exc:
        raise RemoteError(f"cannot reach the hub at {base}: {exc}; is it running? (--hub URL)") from None
    except TimeoutError:
        raise RemoteError(f"the hub at {base} did not answer within 15 s") from None


def _code(args: argparse.Namespace) -> str:
    if args.code:
        return str(args.code)
    if os.environ.get("CASAHUB_CODE"):
        return os.environ["CASAHUB_CODE"]
    if sys.stdin.isatty():
        return getpass.getpass("Alarm code: ")
    raise RemoteError("no code: pass --code or set CASAHUB_CODE")


def _describe(system: dict[str, Any]) -> str:
    lines = [f"mode: {system['mode']}", f"ready: {'yes' if system['ready'] else 'no'}"]
    for item in system.get("not_ready", []):
        lines.append(f"  not ready: {item['name']} ({item['reason']})")
    for name, delay in system.get("delays", {}).items():
        lines.append(f"{name} delay: {delay['remaining']} s left")
    for inc in system.get("incidents", []):
        zones = ", ".join(a.get("name", a["zone"]) for a in inc["activations"])
        lines.append(f"incident {inc['id']}: {inc['kind']} {inc['state']} ({zones})")
    for ano in system.get("anomalies", []):
        lines.append(f"anomaly {ano['id']}: {ano['kind']} {ano.get('device') or ano.get('subject') or ''}")
    return "\n".join(lines)


async def _run(args: argparse.Namespace) -> Any:
    if args.command == "status":
        return await _call(args, "GET", "/api/v1/system")
    if args.command == "arm":
        return await _call(
            args, "POST", "/api/v1/system/arm", {"mode": args.mode, "code": _code(args), "force": args.force}
        )
    if args.command == "disarm":
        return await _call(args, "POST", "/api/v1/system/disarm", {"code": _code(args)})
    raise RemoteError(f"unknown command {args.command}")


def run_remote(args: argparse.Namespace) -> int:
    try:
        system = asyncio.run(_run(args))
    except RemoteError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(system, indent=2) if args.json else _describe(system))
    return 0
