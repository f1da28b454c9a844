"""`Zigbee2MqttDriver`: one MQTT connection to zigbee2mqtt's broker, kept up until the driver
stops, feeding `BridgeView`; see the package docstring (drivers/zigbee2mqtt/__init__.py).
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import math
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from alarms.outputs import Command
from drivers.base import (
    Candidate,
    DriverContext,
    DriverError,
    FixedDevice,
    OutputReading,
    Reading,
    ReadingStream,
    stop_task,
)
from drivers.capabilities import DriverTraits
from drivers.zigbee2mqtt.bridge import BridgeView
from drivers.zigbee2mqtt.options import TYPE, Zigbee2MqttOptions, parse_options

if TYPE_CHECKING:
    import aiomqtt

__all__ = ["PERMIT_JOIN_MAX", "Zigbee2MqttDriver"]

log = logging.getLogger("drivers.zigbee2mqtt")  # one logger per driver, as [log] levels name it

PERMIT_JOIN_MAX = 254  # z2m refuses longer permit_join times


class Zigbee2MqttDriver:
    """Zigbee devices through zigbee2mqtt: one MQTT connection, kept up until the driver stops."""

    type: ClassVar[str] = TYPE
    traits: ClassVar[DriverTraits] = DriverTraits(wireless=True, signal_unit="lqi")
    Options: ClassVar[builtins.type[Zigbee2MqttOptions]] = Zigbee2MqttOptions

    # Reconnection backoff (seconds): first delay, and the cap it doubles up to.
    reconnect_initial: float = 1.0
    reconnect_max: float = 30.0
    command_timeout: float = 5.0  # seconds for the broker to acknowledge a command (QoS 1)

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        self.options = parse_options(options)
        self._context = context
        self._view = BridgeView(self.options.base_topic, invert=self.options.invert, output_kind=context.output_kind)
        self._stream = ReadingStream(self.type)
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._state = "new"  # new -> running -> stopped; a driver runs once
        self.connections = 0  # successful connections so far (1 + reconnections)

    @property
    def connected(self) -> bool:
        """Connected to the broker and subscribed now."""
        return self._client is not None

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a Zigbee2MqttDriver runs once; create a new one to start again")
        self._state = "running"
        self._task = asyncio.create_task(self._run(), name=f"zigbee2mqtt-{self.options.host}:{self.options.port}")
        self._task.add_done_callback(self._stream.end_on_failure)
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "stopped"
        task, self._task = self._task, None
        try:
            await stop_task(task)
        finally:
            self._client = None
            self._stream.end()

    # ------------------------------------------------------------------ the Driver protocol

    def readings(self) -> AsyncIterator[Reading]:
        return self._stream.readings()

    async def candidates(self) -> list[Candidate]:
        return self._view.candidates(self.type, self._context.paired())

    async def scan(self, seconds: float) -> None:
        """Ask zigbee2mqtt to permit joining for `seconds` (1..254; 0 or less closes joining)."""
        client = self._client
        if client is None:
            raise DriverError(
                f"zigbee2mqtt: not connected to the MQTT broker at {self.options.host}:{self.options.port}; "
                "check that the broker runs and the driver's host/port/credentials, then retry"
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds):
            raise DriverError(f"zigbee2mqtt: scan time must be a number of seconds, got {seconds!r}")
        time = 0 if seconds <= 0 else max(1, min(PERMIT_JOIN_MAX, math.ceil(seconds)))
        topic = f"{self.options.base_topic}/bridge/request/permit_join"
        import aiomqtt  # here, not at the top: `config check` loads this class only for its Options

        try:
            await client.publish(topic, json.dumps({"time": time}), qos=1)
        except aiomqtt.MqttError as exc:
            raise DriverError(f"zigbee2mqtt: could not ask the bridge to permit joining: {exc}") from exc

    def fixed_devices(self) -> list[FixedDevice]:
        return []

    async def command(self, address: str, command: Command) -> None:
        """Publish the device's `/set` message (drivers/zigbee2mqtt/outputs.py) and return once
        the broker has it (QoS 1). The device's next state message confirms it; a siren that
        cannot report whether it sounds is reported as asked, here, once the broker has it."""
        client = self._client
        if client is None:
            raise DriverError(
                f"zigbee2mqtt: not connected to the MQTT broker at {self.options.host}:{self.options.port}; "
                f"cannot send {command.action!r} to {address}"
            )
        topic, payload, assumed = self._view.command(address, command)
        import aiomqtt  # here, not at the top: `config check` loads this class only for its Options

        try:
            await client.publish(topic, json.dumps(payload), qos=1, timeout=self.command_timeout)
        except aiomqtt.MqttError as exc:
            raise DriverError(f"zigbee2mqtt: could not send {command.action!r} to {address}: {exc}") from exc
        log.info("zigbee2mqtt: %s -> %s %s", command.action, topic, json.dumps(payload))
        if assumed is not None:
            self._stream.put(OutputReading(address=address, status=assumed, at=self._context.clock()))

    def expected_interval(self, address: str) -> float | None:
        return self.options.expected_interval

    def friendly_name(self, address: str) -> str | None:
        """zigbee2mqtt's current name for the device at `address` (IEEE), if the bridge said it."""
        return self._view.name_of(address)

    # ------------------------------------------------------------------ the connection

    async def _run(self) -> None:
        import aiomqtt  # here, not at the top: `config check` loads this class only for its Options

        opts = self.options
        delay = self.reconnect_initial
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(
                    opts.broker,
                    opts.port,
                    username=opts.username,
                    password=opts.password,
                    keepalive=30,
                ) as client:
                    await client.subscribe(f"{opts.base_topic}/#", qos=1)
                    self._client = client
                    self.connections += 1
                    delay, failures = self.reconnect_initial, 0
                    log.info(
                        "zigbee2mqtt: connected to %s:%s, listening on %s/#", opts.host, opts.port, opts.base_topic
                    )
                    async for message in client.messages:
                        self._deliver(message)
            except aiomqtt.MqttError as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(
                    level,
                    "zigbee2mqtt: MQTT broker %s:%s unreachable or lost (%s); retrying in %g s (backoff up to %g s)",
                    opts.host,
                    opts.port,
                    exc,
                    delay,
                    self.reconnect_max,
                )
            finally:
                self._client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max)

    def _deliver(self, message: aiomqtt.Message) -> None:
        raw = message.payload
        payload: bytes | str
        if isinstance(raw, bytes | str):
            payload = raw
        elif isinstance(raw, bytearray):
            payload = bytes(raw)
        else:
            payload = b"" if raw is None else str(raw)
        try:
            readings = self._view.feed(message.topic.value, payload, self._context.clock())
        except Exception:  # a bug in the view must not stop the bridge; the next message may be fine
            log.exception("zigbee2mqtt: could not handle a message on %s", message.topic.value)
            return
        for reading in readings:
            self._stream.put(reading)
