"""`casahub doctor`: checks each configured channel without sending an alarm.

Each transport that can check itself (credentials, reachability) does; `--send-test
CHANNEL` sends the "test" message to the first contact (or `--to`) through that channel,
so an installer can prove SMS, email, push or the centre link work end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from alarms.channels.base import Delivered, OutgoingMessage
from alarms.messages import render
from hub.config import Config, ConfigError, load_config
from hub.transports import Transports, build, enter_all

CHECK_TIMEOUT = 20.0


async def _check(name: str, channel: Any) -> tuple[str, bool, str]:
    for method in ("check", "test_link"):
        fn = getattr(channel, method, None)
        if fn is not None:
            try:
                return name, True, str(await asyncio.wait_for(fn(), CHECK_TIMEOUT))
            except Exception as exc:
                return name, False, f"{type(exc).__name__}: {exc}"
    return name, True, "configured (no check available)"


def _test_message(config: Config, channel: str, to: str | None) -> OutgoingMessage:
    contact = config.contacts[0] if config.contacts else None
    language = contact.language if contact else config.hub.language
    address = to
    if address is None and contact is not None:
        address = contact.email if channel == "email" else contact.phone if channel in ("sms", "voice", "gsm") else None
    text = render("test", language, {"channel": channel, "contact": contact.name if contact else "", "time": ""})
    payload = (
        {
            "code": "trouble",
            "restore": False,
            "zone": None,
            "zone_number": None,
            "incident": None,
            "user": "doctor",
            "user_number": None,
            "test": True,
        }
        if channel == "centre"
        else None
    )
    return OutgoingMessage(
        id=0,
        channel=channel,
        recipient=contact.name if contact and channel != "centre" else "centre",
        address=address,
        language=language,
        subject=text.subject,
        body=text.body,
        short=text.short,
        payload=payload,
    )


async def run_doctor(config: Config, data_dir: Path, send_test: str | None, to: str | None) -> list[dict[str, Any]]:
    link_events: list[bool] = []

    async def on_link(up: bool) -> None:
        link_events.append(up)

    from hub.push_store import PushStore
    from hub.storage import open_sync

    # Same choice as `serve` (outside the demo): app push is always on.
    push_store = PushStore(open_sync(data_dir / "casahub.db"))
    transports: Transports = build(
        config, data_dir=data_dir, on_centre_link=on_link, users_for_contact=lambda name: [], push_store=push_store
    )
    results: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        await enter_all(stack, transports)
        for channel_name, transport in transports.for_channel.items():
            if transport == "log":
                results.append(
                    {
                        "channel": channel_name,
                        "transport": "log",
                        "ok": True,
                        "detail": "not configured: messages go to the hub log",
                    }
                )
                continue
            _, ok, detail = await _check(transport, transports.by_name[transport])
            results.append({"channel": channel_name, "transport": transport, "ok": ok, "detail": detail})
        if send_test:
            test_transport = transports.for_channel.get(send_test)
            if test_transport is None:
                raise SystemExit(f"casahub: --send-test: unknown channel {send_test!r}")
            message = _test_message(config, send_test, to)
            outcome = await transports.by_name[test_transport].send(message)
            results.append(
                {
                    "channel": send_test,
                    "transport": test_transport,
                    "ok": isinstance(outcome, Delivered),
                    "detail": f"test message: {type(outcome).__name__.lower()} "
                    f"{getattr(outcome, 'detail', '') or getattr(outcome, 'reason', '')}".strip(),
                }
            )
    return results


def doctor_main(config_path: Path | None, data_dir: Path, send_test: str | None, to: str | None, as_json: bool) -> int:
    try:
        config = load_config(config_path).config
    except ConfigError as exc:
        print(f"casahub: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    results = asyncio.run(run_doctor(config, data_dir, send_test, to))
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            mark = "ok  " if r["ok"] else "FAIL"
            print(f"{mark} {r['channel']:<7} {r['transport']:<8} {r['detail']}")
    return 0 if all(r["ok"] for r in results) else 1
