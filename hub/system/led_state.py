"""The status-LED pattern the daemon shows, recorded in the data dir for `casahub doctor`.

`casahub doctor` runs as its own process beside the daemon and reads files, it does not log
in to the API. So the daemon writes the pattern `hub/system/led.py` computes (`pattern_for`) to
`led-state.json` in the data dir whenever it changes (a few times a day: no SD wear), with
its process id, and writes "off" when it stops. `read_led_state` gives it back, and tells a
daemon that died without saying so (kill -9, power loss) by its process id.

The pattern is recorded whether or not a `[led]` is configured: it is the hub's state in one
word, and doctor says which LED would show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.system.led import OFF, PATTERNS, Pattern

__all__ = ["STATE_FILE", "LedState", "read_led_state", "record_led_state", "write_led_state"]

log = logging.getLogger("casahub.led")

STATE_FILE = "led-state.json"
POLL = 1.0


@dataclass(frozen=True, slots=True)
class LedState:
    pattern: Pattern
    since: float  # Unix time the pattern started
    pid: int
    running: bool  # the process that wrote it is alive (and did not write "off")


def write_led_state(data_dir: Path, pattern: Pattern, since: float, pid: int | None = None) -> None:
    """Replace the state file atomically. Raises OSError."""
    body = json.dumps({"pattern": pattern.name, "since": since, "pid": os.getpid() if pid is None else pid})
    fd, name = tempfile.mkstemp(prefix=f".{STATE_FILE}.", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body + "\n")
        os.replace(name, Path(data_dir) / STATE_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (doctor not run as the casahub user)
        return True
    except OSError:
        return False
    return True


def read_led_state(data_dir: Path) -> LedState | None:
    """The recorded pattern, or None when no daemon ever recorded one here (or the file is unreadable)."""
    try:
        raw = json.loads((Path(data_dir) / STATE_FILE).read_text(encoding="utf-8"))
        pattern = PATTERNS[str(raw["pattern"])]
        since, pid = float(raw["since"]), int(raw["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    running = pattern != OFF and pid > 0 and _alive(pid)
    return LedState(pattern=pattern if running else OFF, since=since, pid=pid, running=running)


async def record_led_state(
    data_dir: Path, source: Callable[[], Pattern], poll: float = POLL, now: Callable[[], float] = time.time
) -> None:
    """Write `source()` to the state file whenever it changes, until cancelled; then write "off"."""
    shown: Pattern | None = None
    failed = False
    # Written in a thread (a dying SD card may block); on cancel the write in flight finishes
    # first, so it cannot land after the final "off".
    writing: asyncio.Future[None] | None = None
    try:
        while True:
            try:
                pattern = source()
            except Exception:
                log.exception("LED state source failed")
                pattern = shown or OFF
            if pattern != shown:
                writing = asyncio.ensure_future(asyncio.to_thread(write_led_state, data_dir, pattern, now()))
                try:
                    await asyncio.shield(writing)
                except OSError as exc:
                    if not failed:  # say it once: the data dir's trouble is host health's to report
                        log.warning("cannot record the LED pattern in %s: %s", data_dir, exc.strerror or exc)
                    failed = True
                else:
                    shown, failed = pattern, False
            await asyncio.sleep(poll)
    finally:
        if writing is not None:
            if not writing.done():
                await asyncio.wait({writing}, timeout=5)
            if writing.done() and not writing.cancelled():
                writing.exception()  # retrieved: a failed write was already reported, or is moot now
        with contextlib.suppress(OSError):
            write_led_state(data_dir, OFF, now())
