"""The peers casahub talks to, run on loopback: for integration tests, end-to-end tests and `bench/`.

Each module holds one peer: a real server where one exists (aiosmtpd, pysiaalarm, ...) or a
double that checks what the real service checks (Twilio's REST API, a Web Push service). The
notification peers note `time.perf_counter()` when a message reaches them, so `bench/` can time
deliveries. Among them:

- `twilio`: `TwilioDouble`, Twilio's Messages/Calls/Account endpoints
- `smtp`:   `Mailbox` + `serve_smtp`, an aiosmtpd server with STARTTLS (or implicit TLS) and AUTH
- `push`:   `PushService`, a push service that verifies VAPID and decrypts (http_ece), and `Browser`
- `sia`:    `Receiver`, the real pysiaalarm DC-09 receiver over TCP
- `tls`:    `Cert`, a self-signed certificate for 127.0.0.1, and `trusted`, to make a process trust it
- `household`: all of the above at once, and the hub config that points at them
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

__all__ = ["free_port", "wait_until"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `condition` until it is truthy; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)
