"""Dashboards and API clients as a process of their own (they run on other devices in a home).

    python -m bench.loadgen --base URL --token TOKEN --dashboards 20 --rps 100 --seconds 6 --out FILE

Connects `dashboards` WebSocket clients to /api/v1/ws (bearer token), each waiting for its
first `system` message, then prints `ready` and, for `seconds` s, sends `rps` GET requests
per second (open loop, round-robin over the dashboard's read endpoints) while every
WebSocket client records what it receives. Writes JSON to `--out`: per client the message
count and, per zone, when (time.perf_counter(), CLOCK_MONOTONIC: the same clock as the
parent process) an `incident` message first listed that zone as an activation; and every
API request's latency and status. Request loops are bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

PATHS = (
    "/api/v1/system",
    "/api/v1/zones",
    "/api/v1/incidents?state=all",
    "/api/v1/events?limit=50",
    "/api/v1/notifications?limit=50",
    "/api/v1/devices",
    "/api/v1/anomalies",
)


async def dashboard(
    session: aiohttp.ClientSession, base: str, token: str, ready: asyncio.Event, out: dict[str, Any]
) -> None:
    seen: dict[str, float] = {}
    out["zone_seen"] = seen
    out["messages"] = 0
    out["types"] = {}
    url = base.replace("http", "ws", 1) + "/api/v1/ws"
    async with session.ws_connect(url, heartbeat=None, compress=15, headers={"Authorization": f"Bearer {token}"}) as ws:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.perf_counter()
            data = json.loads(msg.data)
            out["messages"] += 1
            kind = data.get("type", "?")
            out["types"][kind] = out["types"].get(kind, 0) + 1
            if kind == "system":
                ready.set()
            elif kind == "incident":
                for activation in data["incident"].get("activations", ()):
                    seen.setdefault(activation["zone"], now)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    # The hub allows a few live streams per principal (hub/web/limits.py): the dashboards take the
    # tokens in turn, as the phones and tablets of several people would.
    tokens: list[str] = args.token
    headers = {"Authorization": f"Bearer {tokens[0]}"}
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:
        clients: list[dict[str, Any]] = [{} for _ in range(args.dashboards)]
        readies = [asyncio.Event() for _ in clients]
        tasks = [
            asyncio.create_task(dashboard(session, args.base, tokens[n % len(tokens)], ready, out))
            for n, (ready, out) in enumerate(zip(readies, clients, strict=True))
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        print("ready", flush=True)

        latencies: list[float] = []
        statuses: dict[str, int] = {}

        async def one(path: str) -> None:
            started = time.perf_counter()
            try:
                async with session.get(args.base + path) as resp:
                    await resp.read()
                    key = str(resp.status)
            except Exception as exc:  # counted, not fatal: the hub may be slow to answer
                key = type(exc).__name__
            latencies.append(time.perf_counter() - started)
            statuses[key] = statuses.get(key, 0) + 1

        requests: list[asyncio.Task[None]] = []
        t0 = time.perf_counter()
        total = int(args.rps * args.seconds)
        for n in range(total):
            delay = t0 + n / args.rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            requests.append(asyncio.create_task(one(PATHS[n % len(PATHS)])))
        await asyncio.gather(*requests)
        sent_for = time.perf_counter() - t0
        if sent_for < args.seconds:  # dashboards stay connected for `seconds` even without API load
            await asyncio.sleep(args.seconds - sent_for)
        await asyncio.sleep(args.linger)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return {
            "dashboards": clients,
            "api": {"latencies": latencies, "statuses": statuses, "seconds": sent_for, "requests": total},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True, action="append", help="a bearer token (repeat: used in turn)")
    parser.add_argument("--dashboards", type=int, default=20)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--linger", type=float, default=1.0, help="seconds to keep listening after the last request")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
