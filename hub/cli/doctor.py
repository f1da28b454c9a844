"""`casahub doctor`: checks each configured channel without sending an alarm.

Each transport that can check itself (credentials, reachability) does; `--send-test
CHANNEL` sends the "test" message to the first contact (or `--to`) through that channel,
so an installer can prove SMS, email, push or the centre link work end to end.

A channel without its section is "not configured", never "ok": outside the demo nothing
carries its messages (hub/transports/registry.py). It is a failure (exit status 1) when a contact
would need it (a phone and no [sms]); a channel nobody needs (voice, gsm, the centre of a
self-monitored home) is only listed.

It then says, in the hub's language, what the status LED is showing (the pattern the running
daemon records in the data dir, hub/system/led_state.py) and how the last nightly backup went
(hub/backup/schedule.py), so an installer standing by the Pi can read the blinking.

`--groups` checks only that the user it runs as (the service's: the unit runs it before every
start) is in the groups its configured drivers need: a membership changed since install.sh
would otherwise show as a driver failing later, far from its cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import grp
import json
import os
import pwd
import sys
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alarms.messages import render
from hub.config import Config, ConfigError, ContactConfig, load_config
from hub.transports.base import Delivered, OutgoingMessage
from hub.transports.registry import NOT_CONFIGURED, Transports, build, enter_all

CHECK_TIMEOUT = 20.0


async def _check(name: str, channel: Any) -> tuple[str, bool, str]:
    for method in ("check", "test_link"):
        fn = getattr(channel, method, None)
        if fn is not None:
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    return name, True, str(await fn())
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


# channel -> (who needs it, what they would miss) for the "not configured" line.
_NEEDS: dict[str, tuple[Callable[[ContactConfig], bool], str]] = {
    "sms": (lambda c: bool(c.phone), "no SMS will be sent"),
    "email": (lambda c: bool(c.email), "no email will be sent"),
    "voice": (lambda c: c.voice and bool(c.phone), "no voice call will be made"),
}


def _not_configured(config: Config, channel: str) -> dict[str, Any]:
    wants, missed = _NEEDS.get(channel, (lambda c: False, ""))
    needed_by = [c.name for c in config.contacts if wants(c)]
    detail = f"not configured: no [{'sms' if channel == 'voice' else channel}] section"
    if needed_by:
        detail += f"; {missed} to {', '.join(needed_by)}"
    return {
        "channel": channel,
        "transport": NOT_CONFIGURED,
        "ok": False,
        "configured": False,
        "needed_by": needed_by,
        "detail": detail,
    }


async def run_doctor(config: Config, data_dir: Path, send_test: str | None, to: str | None) -> list[dict[str, Any]]:
    link_events: list[bool] = []

    async def on_link(up: bool) -> None:
        link_events.append(up)

    from hub.store.db import open_sync
    from hub.store.push_subscriptions import PushStore

    # Same choice as `serve` (outside the demo): app push is always on.
    push_store = PushStore(open_sync(data_dir / "casahub.db"))
    transports: Transports = build(
        config, data_dir=data_dir, on_centre_link=on_link, users_for_contact=lambda name: [], push_store=push_store
    )
    results: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        await enter_all(stack, transports)
        for channel_name, transport in transports.for_channel.items():
            if transport == NOT_CONFIGURED:
                results.append(_not_configured(config, channel_name))
                continue
            _, ok, detail = await _check(transport, transports.by_name[transport])
            results.append(
                {"channel": channel_name, "transport": transport, "ok": ok, "configured": True, "detail": detail}
            )
        if send_test:
            test_transport = transports.for_channel.get(send_test)
            if test_transport is None:
                raise SystemExit(f"casahub: --send-test: unknown channel {send_test!r}")
            if test_transport == NOT_CONFIGURED:
                results.append(
                    {
                        "channel": send_test,
                        "transport": NOT_CONFIGURED,
                        "ok": False,
                        "configured": False,
                        "detail": f"test message: not sent, {send_test} is not configured",
                    }
                )
                return results
            message = _test_message(config, send_test, to)
            outcome = await transports.by_name[test_transport].send(message)
            results.append(
                {
                    "channel": send_test,
                    "transport": test_transport,
                    "ok": isinstance(outcome, Delivered),
                    "configured": True,
                    "detail": f"test message: {type(outcome).__name__.lower()} "
                    f"{getattr(outcome, 'detail', '') or getattr(outcome, 'reason', '')}".strip(),
                }
            )
    return results


_TEXTS: dict[str, dict[str, str]] = {
    "it": {
        "led": "LED: {pattern} ({text})",
        "since": ", dalle {at}",
        "no_led": "; nessun [led] configurato: è lo stato che il LED mostrerebbe",
        "not_running": "LED: spento (casahub non è in esecuzione su {data_dir}; ultimo stato registrato: {at})",
        "never": "LED: nessuno stato registrato in {data_dir} (casahub non è mai stato avviato con questa cartella)",
        "backup_ok": "ultimo backup riuscito {at}: {file} ({bytes} byte, {duration:.1f} s)",
        "backup_failed": "ultimo backup non riuscito {at}: {error}",
        "backup_last_good": "; ultimo riuscito {at}",
        "backup_never": "nessun backup ancora: il primo alle {time} in {dir}",
    },
    "en": {
        "led": "LED: {pattern} ({text})",
        "since": ", since {at}",
        "no_led": "; no [led] configured: this is what the LED would show",
        "not_running": "LED: off (casahub is not running on {data_dir}; last recorded state: {at})",
        "never": "LED: no state recorded in {data_dir} (casahub was never started with this data dir)",
        "backup_ok": "last backup succeeded {at}: {file} ({bytes} bytes, {duration:.1f} s)",
        "backup_failed": "last backup failed {at}: {error}",
        "backup_last_good": "; last good one {at}",
        "backup_never": "no backup yet: the first at {time} in {dir}",
    },
}


def _when(config: Config, ts: float) -> str:
    try:
        tz: datetime.tzinfo | None = zoneinfo.ZoneInfo(config.hub.timezone)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        tz = None
    return datetime.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def led_line(config: Config, data_dir: Path) -> str:
    """What the status LED shows now and what it means, in the hub's language."""
    from hub.system.led import describe
    from hub.system.led_state import read_led_state

    language = config.hub.language
    texts = _TEXTS.get(language, _TEXTS["en"])
    state = read_led_state(data_dir)
    if state is None:
        return texts["never"].format(data_dir=data_dir)
    if not state.running:
        return texts["not_running"].format(data_dir=data_dir, at=_when(config, state.since))
    text = describe(state.pattern, language) + texts["since"].format(at=_when(config, state.since))
    if config.led is None:
        text += texts["no_led"]
    return texts["led"].format(pattern=state.pattern.name, text=text)


def backup_check(config: Config, data_dir: Path) -> tuple[bool, str] | None:
    """(ok, what) of the nightly backup as the daemon recorded it; None without `[backup]`."""
    from hub.backup.schedule import read_status

    if config.backup is None:
        return None
    texts = _TEXTS.get(config.hub.language, _TEXTS["en"])
    status = read_status(data_dir)
    if status is None or status.ok is None or status.last_attempt is None:
        return True, texts["backup_never"].format(time=config.backup.time, dir=config.backup.dir)
    if status.ok:
        return True, texts["backup_ok"].format(
            at=_when(config, status.last_attempt),
            file=status.file,
            bytes=status.bytes,
            duration=status.duration or 0.0,
        )
    text = texts["backup_failed"].format(at=_when(config, status.last_attempt), error=status.error)
    if status.last_success is not None:
        text += texts["backup_last_good"].format(at=_when(config, status.last_success))
    return False, text


# Where a configured feature reaches its device, and the group that usually owns it. A device
# node that exists tells its own group (a udev rule may give it to casahub instead).
_BLUETOOTH = "bluetooth"  # BlueZ's D-Bus policy lets this group talk to org.bluez


def _device_group(path: str, fallback: str) -> str:
    try:
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return fallback


def needed_groups(config: Config) -> dict[str, list[str]]:
    """Group -> what in the config needs it (only groups that exist on this system)."""
    needs: dict[str, list[str]] = {}
    for driver in config.drivers:
        if driver.type == "bthome":
            needs.setdefault(_BLUETOOTH, []).append("the bthome driver (BlueZ)")
        elif driver.type == "gpio":
            chip = str(driver.options.get("chip", "/dev/gpiochip0"))
            needs.setdefault(_device_group(chip, "gpio"), []).append(f"the gpio driver ({chip})")
    if config.led is not None and config.led.line is not None:
        needs.setdefault(_device_group(config.led.chip, "gpio"), []).append(f"[led] line ({config.led.chip})")
    if config.gsm is not None:
        needs.setdefault(_device_group(config.gsm.device, "dialout"), []).append(f"[gsm] ({config.gsm.device})")
    existing = {g.gr_name for g in grp.getgrall()}
    return {group: why for group, why in needs.items() if group in existing and group != "root"}


def groups_check(config: Config, uid: int | None = None) -> list[tuple[bool, str]]:
    """(ok, line) per needed group, for the user `uid` (default: the one running) as /etc/group has it."""
    user = pwd.getpwuid(os.geteuid() if uid is None else uid)
    if user.pw_uid == 0:
        return []  # root opens every device: nothing to check (the service never runs as root)
    member_of = {g.gr_name for g in grp.getgrall() if user.pw_name in g.gr_mem}
    with contextlib.suppress(KeyError):
        member_of.add(grp.getgrgid(user.pw_gid).gr_name)
    lines: list[tuple[bool, str]] = []
    for group, why in sorted(needed_groups(config).items()):
        if group in member_of:
            lines.append((True, f"{user.pw_name} is in the group {group}: {', '.join(why)}"))
        else:
            lines.append(
                (
                    False,
                    f"{user.pw_name} is not in the group {group}, which {', '.join(why)} needs: "
                    f"sudo usermod -aG {group} {user.pw_name} && sudo systemctl restart casahub",
                )
            )
    return lines


def _groups_main(config: Config, as_json: bool) -> int:
    checks = groups_check(config)
    if as_json:
        print(json.dumps([{"ok": ok, "detail": line} for ok, line in checks], indent=2))
    else:
        for ok, line in checks:
            print(f"{'ok  ' if ok else 'FAIL'} groups  {line}", file=sys.stdout if ok else sys.stderr)
    return 0 if all(ok for ok, _ in checks) else 1


def doctor_main(
    config_path: Path | None,
    data_dir: Path,
    send_test: str | None,
    to: str | None,
    as_json: bool,
    groups_only: bool = False,
) -> int:
    try:
        config = load_config(config_path).config
    except ConfigError as exc:
        print(f"casahub: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if groups_only:
        return _groups_main(config, as_json)
    results = asyncio.run(run_doctor(config, data_dir, send_test, to))
    backup = backup_check(config, data_dir)
    groups = groups_check(config)
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            mark = "ok  " if r["ok"] else "FAIL" if _fails(r) else "--  "
            print(f"{mark} {r['channel']:<7} {r['transport']:<8} {r['detail']}")
        if backup is not None:
            print(f"{'ok  ' if backup[0] else 'FAIL'} backup  {backup[1]}")
        for ok, line in groups:
            print(f"{'ok  ' if ok else 'FAIL'} groups  {line}")
        print(led_line(config, data_dir))
    backup_ok = backup is None or backup[0]
    groups_ok = all(ok for ok, _ in groups)
    return 0 if not any(_fails(r) for r in results) and backup_ok and groups_ok else 1


def _fails(row: dict[str, Any]) -> bool:
    """A configured channel whose check failed, or a missing one that a contact needs."""
    if row.get("configured", True):
        return not row["ok"]
    return bool(row.get("needed_by", True))
