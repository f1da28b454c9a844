"""`NutDriver`: polls upsd for each configured UPS, reports mains and battery; see drivers/nut/__init__.py."""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from drivers.base import (
    DriverContext,
    DriverError,
    FixedDevice,
    FixedTargetDriver,
    Reading,
    ReadingStream,
)
from drivers.capabilities import DriverTraits
from drivers.nut.client import NutClient, NutError, NutReplyError
from drivers.nut.options import TYPE, NutOptions, parse_options
from drivers.nut.protocol import parse_percent, parse_status, quote
from drivers.power_supply import HEARTBEAT, MainsMonitor

__all__ = ["NutDriver"]

log = logging.getLogger("drivers.nut")  # one logger per driver, as [log] levels name it

_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0


class NutDriver(FixedTargetDriver):
    """UPS mains power and battery through upsd; one device per configured UPS."""

    type: ClassVar[str] = TYPE
    traits: ClassVar[DriverTraits] = DriverTraits(powers_hub=True)
    Options: ClassVar[builtins.type[NutOptions]] = NutOptions

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        opts = parse_options(options)
        self.host, self.port, self.ups = opts.host, opts.port, opts.ups_names
        self.username, self.password = opts.username, opts.password
        self.debounce, self.poll, self.timeout = opts.debounce, opts.poll, opts.timeout
        self._context = context
        self._heartbeat = max(HEARTBEAT, self.poll)
        self._monitors = {ups: MainsMonitor(self.address(ups), self.debounce, self._heartbeat) for ups in self.ups}
        self._vars: dict[str, dict[str, str]] = {}
        self._stream = ReadingStream(self.type)
        self._task: asyncio.Task[None] | None = None
        self._polled = False
        self._state = "new"

    def address(self, ups: str) -> str:
        """The casahub address of a UPS: `<ups>@<host>:<port>`."""
        return f"{ups}@{self.host}:{self.port}"

    def variables(self, address: str) -> Mapping[str, str]:
        """The UPS's variables at the last poll (model, battery.runtime, ...), for display; empty if unknown."""
        for ups in self.ups:
            if self.address(ups) == address:
                return dict(self._vars.get(ups, {}))
        return {}

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a NutDriver runs once; create a new one to start again")
        self._state = "running"
        self._task = asyncio.create_task(self._run(), name="nut-poll")
        return self

    # ------------------------------------------------------------------ the Driver protocol

    def fixed_devices(self) -> list[FixedDevice]:
        return [
            FixedDevice(address=self.address(ups), name=f"UPS {ups}", model="UPS (NUT)", kinds=("power",))
            for ups in self.ups
        ]

    def expected_interval(self, address: str) -> float | None:
        return self._heartbeat if any(self.address(ups) == address for ups in self.ups) else None

    # ------------------------------------------------------------------ polling

    async def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            self._polled = False
            try:
                await self._session()
            except NutError as exc:
                log.warning("nut: %s:%s: %s", self.host, self.port, exc)
            except Exception:  # a bug here must not end mains supervision: log it loudly and go on
                log.exception("nut: unexpected failure polling %s:%s", self.host, self.port)
            at = self._context.clock()
            for monitor in self._monitors.values():
                self._emit(monitor.unreachable(at))
            if self._polled:
                backoff = _BACKOFF_FIRST
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _session(self) -> None:
        """Connect, log in, then poll every `poll` s until something fails (raises NutError)."""
        client = await NutClient.connect(self.host, self.port, self.timeout)
        try:
            if self.username is not None:
                await client.request(f"USERNAME {quote(self.username)}")
            if self.password is not None:
                await client.request(f"PASSWORD {quote(self.password)}")
            try:
                known: dict[str, str] | None = await client.list_ups()
            except NutReplyError as exc:
                known = None
                log.warning("nut: %s:%s: %s", self.host, self.port, exc)
            for ups in self.ups:
                if known is not None and ups not in known:
                    log.error(
                        "nut: upsd at %s:%s has no UPS %r (it has: %s); check `ups` in the config",
                        self.host,
                        self.port,
                        ups,
                        ", ".join(known) or "none",
                    )
            while True:
                for ups in self.ups:
                    await self._poll(client, ups)
                self._polled = True
                await asyncio.sleep(self.poll)
        finally:
            await client.close()

    async def _poll(self, client: NutClient, ups: str) -> None:
        monitor = self._monitors[ups]
        try:
            variables = await client.list_var(ups)
        except NutReplyError as exc:
            self._vars.pop(ups, None)
            lost = monitor.unreachable(self._context.clock())
            if lost:
                log.warning("nut: UPS %s is unavailable: %s", ups, exc)
            self._emit(lost)
            return
        self._vars[ups] = variables
        status = parse_status(variables.get("ups.status"))
        self._emit(
            monitor.observe(
                status.mains,
                parse_percent(variables.get("battery.charge")),
                status.battery_low,
                now=time.monotonic(),
                at=self._context.clock(),
            )
        )

    def _emit(self, readings: list[Reading]) -> None:
        for reading in readings:
            self._stream.put(reading)
