"""A tiny sd_notify(3) client, no dependency: readiness, status and the systemd watchdog.

systemd starts `casahub serve` with `Type=notify` and `WatchdogSec=` (deploy/casahub.service),
and gives it two environment variables:

- `NOTIFY_SOCKET`: the datagram socket to send `KEY=VALUE` lines to; a file system path or,
  starting with `@`, a Linux abstract socket name;
- `WATCHDOG_USEC` (and `WATCHDOG_PID`): the watchdog timeout; the process must send
  `WATCHDOG=1` more often than that, or systemd kills and restarts it.

API:

    notifier = Notifier.from_env()          # a no-op notifier when NOTIFY_SOCKET is unset
    notifier.ready()                        # READY=1: state recovered, serving
    notifier.status("armed_away")           # STATUS=...: shown by `systemctl status casahub`
    notifier.watchdog()                     # WATCHDOG=1
    notifier.stopping()                     # STOPPING=1
    interval = watchdog_interval()          # seconds between pings (half the timeout) or None
    await run_watchdog(notifier, interval, is_healthy=lambda: hub.ready)

`run_watchdog` pings from the event loop itself, so a blocked loop (a synchronous call that
hangs) stops the pings and systemd restarts the hub; it also stops pinging while
`is_healthy()` is false. Sending never raises: a notification that cannot be delivered is
logged once and dropped, a status LED or a missing systemd must never stop the alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable, Mapping

__all__ = ["Notifier", "run_watchdog", "watchdog_interval"]

log = logging.getLogger("casahub.sdnotify")

# How often `run_watchdog` refreshes STATUS= when no watchdog is configured.
STATUS_PERIOD = 10.0


class Notifier:
    """Sends sd_notify messages to one socket address; every method is a no-op without one."""

    def __init__(self, address: str | None) -> None:
        self._address = _socket_address(address) if address else None
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier `NOTIFY_SOCKET` names (a path or `@abstract`); a disabled one when unset."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        if address is not None and not (address.startswith(("/", "@"))):
            # systemd 253+ may also hand out vsock:CID:PORT (VMs); casahub runs on the Pi itself.
            log.warning("NOTIFY_SOCKET=%r is not a unix socket address; systemd notifications are off", address)
            address = None
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `KEY=VALUE` assignments in one datagram; True when the datagram went out."""
        if self._address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)  # a stuck manager must not block the event loop
                self._sock = sock
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._warned or exc.errno not in (errno.EAGAIN, errno.ECONNREFUSED, errno.ENOENT):
                log.warning("could not notify systemd (%s): %s", self._describe(), exc)
            self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _describe(self) -> str:
        if isinstance(self._address, bytes):
            return "@" + self._address[1:].decode("utf-8", "replace")
        return str(self._address)


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.

    None when no watchdog is configured, when the value is not a positive integer, or when
    `WATCHDOG_PID` names another process (the variables were inherited from a parent).
    """
    env = os.environ if environ is None else environ
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    if usec <= 0:
        return None
    wanted_pid = env.get("WATCHDOG_PID")
    if wanted_pid:
        try:
            if int(wanted_pid) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 2 / 1_000_000


async def run_watchdog(
    notifier: Notifier,
    interval: float | None,
    is_healthy: Callable[[], bool],
    *,
    status: Callable[[], str] | None = None,
) -> None:
    """Ping `WATCHDOG=1` every `interval` seconds while `is_healthy()`; runs until cancelled.

    The pings come from this coroutine, so they stop when the event loop is blocked. With
    `status`, its text is sent as STATUS= whenever it changes. Returns at once when the
    notifier is disabled, or when there is neither a watchdog interval nor a status to send.
    """
    if not notifier.enabled or (interval is None and status is None):
        return
    period = interval if interval is not None else STATUS_PERIOD
    last_status: str | None = None
    unhealthy_logged = False
    while True:
        if interval is not None:
            healthy = False
            try:
                healthy = bool(is_healthy())
            except Exception:
                log.exception("health check for the systemd watchdog failed")
            if healthy:
                notifier.watchdog()
                unhealthy_logged = False
            elif not unhealthy_logged:
                log.error("the hub is not healthy: systemd watchdog pings stop (systemd restarts it)")
                unhealthy_logged = True
        if status is not None:
            try:
                text = status()
            except Exception:
                log.exception("status for systemd failed")
            else:
                if text != last_status and notifier.status(text):
                    last_status = text
        await asyncio.sleep(period)


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()  # Linux abstract namespace
    return address


def _one_line(text: str) -> str:
    return " ".join(text.split())
