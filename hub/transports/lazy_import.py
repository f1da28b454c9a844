"""Import a heavy module the first time a channel needs it, in a worker thread, once.

The Twilio SDK (14 MB, 80 ms here) and aiosmtplib (15 ms) are not imported at start (issue 15:
a hub without `[sms]` or `[email]` never needs them), and not on the event loop either: the
first alarm's centre report and engine steps need the loop while the import runs.

    await import_off_loop("aiosmtplib")   # then `import aiosmtplib` is a dictionary lookup
"""

from __future__ import annotations

import asyncio
import importlib
import threading

__all__ = ["import_off_loop"]

# Set once a module is fully imported; until then it may be half-initialised in sys.modules,
# so that is not the test. Python's import lock serialises two threads importing it at once.
_READY: dict[str, threading.Event] = {}


def _import_now(name: str, ready: threading.Event) -> None:
    importlib.import_module(name)
    ready.set()


async def import_off_loop(name: str) -> None:
    """Import `name` in a worker thread unless that was done already."""
    ready = _READY.setdefault(name, threading.Event())
    if not ready.is_set():
        await asyncio.to_thread(_import_now, name, ready)
