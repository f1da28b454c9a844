"""Home Assistant integration: the hub's state over MQTT, with MQTT discovery (`[mqtt_export]`).

What Home Assistant gets is hub/export/mqtt_discovery.py; the commands it sends (arm, disarm,
checked like the HTTP API's) are hub/export/mqtt_commands.py. This module is the connection.

State follows the hub's fan-out (the same live messages the dashboards get): no polling of
the database. Battery, signal and device availability change without an engine step, so the
in-memory view is compared again every `resync_interval` seconds and only changes are sent.

Retained commands (left on the broker by a misconfigured client) are never executed, and are
cleared; so are stale retained topics of ours (a zone removed while the hub was away).

The broker going away is normal (restarts, upgrades): the export reconnects with exponential
backoff (1 s doubling to 30 s) and republishes everything, since a broker without
persistence forgets retained messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import aiomqtt

from hub.config import MqttExportConfig, Secret
from hub.core.runtime import Hub
from hub.core.throttle import CodeThrottle, hub_code_throttle
from hub.export.mqtt_commands import (
    ACTIONS,
    COMMAND_TEMPLATE,
    Command,
    CommandError,
    Outcome,
    parse_command,
    run_command,
)
from hub.export.mqtt_discovery import (
    DEVICE_CLASS,
    HA_STATE,
    INCIDENT_CHANGE_TYPES,
    INCIDENT_OPEN_TYPES,
    HaDiscovery,
    not_ready,
    object_id,
    shown_areas,
)
from hub.store.accounts import Accounts

log = logging.getLogger("hub.mqtt_export")  # the name users' [log] levels know (README)

HIDDEN_INCIDENT_KINDS = frozenset({"duress"})


def _payload_text(payload: object) -> str:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode("utf-8", "replace")
    return "" if payload is None else str(payload)


class MqttExport(HaDiscovery):
    """Publishes the hub to Home Assistant over MQTT and takes its arm/disarm commands.

    What it publishes is HaDiscovery's (hub/export/mqtt_discovery.py); the commands it takes run
    through hub/export/mqtt_commands.py. Use as `async with MqttExport(...) as export:`
    (subscribes to the hub's fan-out) and run `await export.run()` in a task: it connects,
    reconnects and never returns; cancel it to stop (it says `offline` first).
    """

    reconnect_initial: float = 1.0
    reconnect_max: float = 30.0
    resync_interval: float = 10.0

    def __init__(
        self,
        hub: Hub,
        accounts: Accounts,
        *,
        host: str,
        port: int = 1883,
        discovery_prefix: str = "homeassistant",
        username: str | None = None,
        password: str | Secret | None = None,
        hub_id: str = "casahub",
        hub_name: str = "casahub",
        version: str | None = None,
        clock: Callable[[], float] | None = None,
        throttle: CodeThrottle | None = None,
    ) -> None:
        super().__init__(hub, discovery_prefix=discovery_prefix, hub_id=hub_id, hub_name=hub_name, version=version)
        self.accounts = accounts
        self.host = host
        self.port = port
        self.username = username
        self._password = password.reveal() if isinstance(password, Secret) else password
        self.clock = clock or hub.clock
        # The daemon passes the throttle it shares with the API; one of our own works on the same
        # tables (the hub-wide count is read from the database).
        self.throttle = throttle or hub_code_throttle(hub)
        self.result_topic = f"{self.base}/alarm/result"
        self.ha_status_topic = f"{self.prefix}/status"
        self.discovery_filter = f"{self.prefix}/+/{self.hub_id}/+/config"
        self.connections = 0  # successful connections so far (1 + reconnections)
        self._client: aiomqtt.Client | None = None
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._sent: dict[str, str] = {}  # retained topic -> the payload last published there
        self._sync_lock = asyncio.Lock()
        self._incidents: dict[str, str] = {}  # open incident id -> its state, as last announced
        self._note_open_incidents()

    @classmethod
    def from_config(
        cls,
        config: MqttExportConfig,
        hub: Hub,
        accounts: Accounts,
        *,
        hub_name: str = "casahub",
        hub_id: str | None = None,
        version: str | None = None,
    ) -> MqttExport:
        """From `[mqtt_export]`; `hub_id` defaults to the hub's name in lower case."""
        return cls(
            hub,
            accounts,
            host=config.host,
            port=config.port,
            discovery_prefix=config.discovery_prefix,
            username=config.username,
            password=config.password,
            hub_id=hub_id or re.sub(r"[^a-z0-9]+", "_", hub_name.lower()).strip("_") or "casahub",
            hub_name=hub_name,
            version=version,
        )

    @property
    def connected(self) -> bool:
        """Connected, everything published once, and listening for commands."""
        return self._client is not None

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        self._queue = self.hub.fanout.subscribe()
        self._note_open_incidents()  # already open (recovered from the journal): not news
        return self

    def _note_open_incidents(self) -> None:
        for inc in self.hub.state.incidents.values():
            if inc.kind not in HIDDEN_INCIDENT_KINDS:
                self._incidents.setdefault(inc.id, inc.state)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._queue is not None:
            self.hub.fanout.unsubscribe(self._queue)
            self._queue = None

    async def run(self) -> None:
        """Connect, publish, follow the hub and take commands; reconnect with backoff forever."""
        if self._queue is None:
            self._queue = self.hub.fanout.subscribe()
        delay = self.reconnect_initial
        failures = 0
        while True:
            try:
                async with self._new_client() as client:
                    try:
                        await self._on_connect(client)
                        _check_cancelled()
                        # Connected: published, subscribed to commands.
                        self._client = client
                        self.connections += 1
                        delay, failures = self.reconnect_initial, 0
                        log.info(
                            "mqtt export: connected to %s:%s, publishing under %s", self.host, self.port, self.base
                        )
                        await self._serve(client)
                    except asyncio.CancelledError:
                        # Stopping: say so (a clean disconnect does not send the last will).
                        with contextlib.suppress(Exception):
                            async with asyncio.timeout(2):
                                await client.publish(self.status_topic, "offline", qos=1, retain=True)
                        raise
            except aiomqtt.MqttError as exc:
                failures += 1
                log.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "mqtt export: broker %s:%s unreachable or lost (%s); retrying in %g s",
                    self.host,
                    self.port,
                    exc,
                    delay,
                )
            except Exception:
                failures += 1
                log.exception("mqtt export failed; reconnecting in %g s", delay)
            finally:
                self._client = None
            _check_cancelled()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Listen for commands and follow the hub until one of the two stops (the connection dropped).

        Two plain tasks rather than a TaskGroup: on 3.11 a TaskGroup whose child fails leaves its
        parent task marked as cancelling, which would hide a real stop request from us.
        """
        listen = asyncio.create_task(self._listen(client), name="mqtt-export-listen")
        follow = asyncio.create_task(self._follow(client), name="mqtt-export-follow")
        try:
            done, _ = await asyncio.wait({listen, follow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listen.cancel()
            follow.cancel()
            await asyncio.wait({listen, follow})
        for task in done:
            task.result()  # the MqttError (or bug) that ended it

    def _new_client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self._password,
            identifier=f"casahub-{self.hub_id}",
            will=aiomqtt.Will(self.status_topic, "offline", qos=1, retain=True),
            keepalive=30,
            timeout=10,
        )

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        # A broker that restarted without persistence forgot every retained message: send all.
        async with self._sync_lock:
            self._sent.clear()
            await self._sync(client)
        await client.publish(self.status_topic, "online", qos=1, retain=True)
        self._sent[self.status_topic] = "online"
        await client.subscribe(
            [
                (f"{self.base}/#", 1),  # commands, and stale retained topics of ours to clear
                (self.discovery_filter, 1),  # stale discovery configs (a zone removed while we were away)
                (self.ha_status_topic, 1),  # Home Assistant's birth message: publish everything again
            ]
        )

    # ------------------------------------------------------------------ incoming

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            try:
                area = self._area_of_command(topic)
                if topic == self.command_topic or area is not None:
                    if message.retain:
                        log.warning("mqtt export: ignoring a retained command on %s (clearing it)", topic)
                        await client.publish(topic, b"", qos=1, retain=True)
                    else:
                        await self.handle_command(message.payload, area=area)
                elif topic == self.ha_status_topic:
                    if _payload_text(message.payload).strip() == "online":
                        log.info("mqtt export: Home Assistant (re)started; publishing everything again")
                        async with self._sync_lock:
                            self._sent = {self.status_topic: self._sent.get(self.status_topic, "online")}
                            await self._sync(client)
                        await client.publish(self.status_topic, "online", qos=1, retain=True)
                elif message.retain and message.payload and topic not in self._sent:
                    if topic.startswith(self.base + "/") or message.topic.matches(self.discovery_filter):
                        log.info("mqtt export: clearing stale retained topic %s", topic)
                        await client.publish(topic, b"", qos=1, retain=True)
            except aiomqtt.MqttError:
                raise
            except Exception:
                log.exception("mqtt export: could not handle a message on %s", topic)
            _check_cancelled()

    def _area_of_command(self, topic: str) -> str | None:
        """The area whose panel's command topic this is (only while the house has several areas)."""
        return next((a.id for a in shown_areas(self.hub) if self.area_command_topic(a.id) == topic), None)

    async def handle_command(self, payload: object, area: str | None = None) -> Outcome:
        """One command from the house panel's command topic or `area`'s; never raises. Returns what came of it."""
        try:
            outcome, action = await run_command(
                payload,
                hub=self.hub,
                accounts=self.accounts,
                throttle=self.throttle,
                clock=self.clock,
                topic=self.command_topic if area is None else self.area_command_topic(area),
                area=area,
            )
        except Exception:
            log.exception("mqtt export: command failed")
            outcome, action = "error", None
        if outcome != "ignored":
            await self._publish_result(action, outcome, area)
        return outcome

    async def _publish_result(self, action: str | None, outcome: Outcome, area: str | None = None) -> None:
        client = self._client
        if client is None:
            return
        body: dict[str, Any] = {"action": action, "result": outcome}
        if area is not None:
            body["area"] = area  # one result topic for every panel: whose command this answers
        if outcome == "not_ready":
            body["not_ready"] = [z for z, _ in not_ready(self.hub, None if area is None else (area,))]
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(self.result_topic, json.dumps(body), qos=1)

    # ------------------------------------------------------------------ outgoing

    async def _follow(self, client: aiomqtt.Client) -> None:
        """Follow the hub's live messages; compare the in-memory view every resync_interval."""
        queue = self._queue
        assert queue is not None
        while True:
            _check_cancelled()
            message: dict[str, Any] | None = None
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the queue hands over a message, and the export would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.resync_interval):
                    message = await queue.get()
            if message is not None and message.get("type") == "incident":
                await self._incident_event(client, message.get("incident"))
            # Several messages come at once after one engine step: one sync covers them all.
            while not queue.empty():
                extra = queue.get_nowait()
                if extra.get("type") == "incident":
                    await self._incident_event(client, extra.get("incident"))
            async with self._sync_lock:
                await self._sync(client)

    async def _incident_event(self, client: aiomqtt.Client, incident: object) -> None:
        if not isinstance(incident, dict):
            return
        inc_id, kind, state = incident.get("id"), incident.get("kind"), incident.get("state")
        if not isinstance(inc_id, str) or kind in HIDDEN_INCIDENT_KINDS:
            return
        previous = self._incidents.get(inc_id)
        if previous is None and state == "active" and kind in INCIDENT_OPEN_TYPES:
            event_type = str(kind)  # a new incident (later activations of it are no new event)
        elif state != previous and state in INCIDENT_CHANGE_TYPES:
            event_type = str(state)
        else:
            event_type = ""
        if isinstance(state, str):
            if state in ("active", "acknowledged"):
                self._incidents[inc_id] = state
            else:
                self._incidents.pop(inc_id, None)
        if not event_type:
            return
        activations = incident.get("activations")
        zones = [a.get("name") for a in activations if isinstance(a, dict)] if isinstance(activations, list) else []
        body = {
            "event_type": event_type,
            "incident": inc_id,
            "kind": kind,
            "state": state,
            "confirmed": bool(incident.get("confirmed")),
            "opened_at": incident.get("opened_at"),
            "zones": zones,
        }
        await client.publish(self.incident_topic, json.dumps(body), qos=1)

    async def _sync(self, client: aiomqtt.Client) -> None:
        """Publish every retained topic whose payload changed; clear those that went away."""
        wanted = self.retained_topics()
        for topic, payload in wanted.items():
            if self._sent.get(topic) != payload:
                await client.publish(topic, payload, qos=1, retain=True)
                self._sent[topic] = payload
        for topic in [t for t in self._sent if t not in wanted and t != self.status_topic]:
            await client.publish(topic, b"", qos=1, retain=True)  # an empty retained message deletes it
            del self._sent[topic]


def _check_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop.

    On Python 3.11, asyncio.wait_for (which aiomqtt awaits every acknowledgement with) returns
    the result and drops the cancellation when both happen at once; the task would then go on
    forever, and the daemon could never stop. Our loops check after every awaited step.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


# Also the names now in mqtt_commands.py and mqtt_discovery.py: importers have always found them here.
__all__ = [
    "ACTIONS",
    "COMMAND_TEMPLATE",
    "DEVICE_CLASS",
    "HA_STATE",
    "Command",
    "CommandError",
    "MqttExport",
    "Outcome",
    "object_id",
    "parse_command",
]
