"""Home Assistant integration: the hub's state over MQTT, with MQTT discovery (`[mqtt_export]`).

What Home Assistant gets (discovery configs retained under `<discovery_prefix>/<component>/<hub_id>/...`):
- `alarm_control_panel`: the intrusion mode as HA's states (disarmed, arming, armed_home,
  armed_away, pending, triggered); arm home/away and disarm from HA. The code is checked here,
  not by HA (`code: REMOTE_CODE`), and HA sends it with the action as JSON through
  `command_template`: `{"action": "ARM_AWAY", "code": "12345"}`.
- a `binary_sensor` per zone (water -> moisture, smoke, motion, contact -> door, power, panic ->
  safety, camera -> occupancy), unavailable while the zone or its device is offline. A power
  zone is ON while mains power is present (HA's `power` class), OFF when it is lost.
- a `binary_sensor` "Trouble" (class `problem`): ON while any anomaly is active, the anomalies
  as attributes.
- battery and signal `sensor`s per device that reports them.
- an `event` entity for incidents: `event_type` is the incident kind when one opens, then
  `acknowledged`, `resolved` or `cancelled`. A duress incident never appears (centre only).
- availability: `<discovery_prefix>/casahub/<hub_id>/status` `online`/`offline`, retained,
  `offline` also as the MQTT last will, so HA greys everything out when the hub dies.

State follows the hub's fan-out (the same live messages the dashboards get): no polling of
the database. Battery, signal and device availability change without an engine step, so the
in-memory view is compared again every `resync_interval` seconds and only changes are sent.

Commands go through the same checks as the HTTP API: `Accounts.match_code`, and the hub's
alarm-code throttle (hub/core/throttle.py, kept in the database and shared with the API) keyed
"mqtt": 3 wrong codes lock MQTT commands for 90 s, each further run twice as long up to 1 h,
and they count towards the hub-wide 10 wrong codes an hour that alert the household and the
centre. A wrong code is refused and recorded as `bad_code` in the audit trail; arming and disarming are engine inputs
recorded with who did it (`"anna (mqtt)"`). The outcome of every command is published (not
retained) on `<base>/alarm/result`. Malformed payloads are logged and ignored; retained
commands (left on the broker by a misconfigured client) are never executed, and are cleared.

The broker going away is normal (restarts, upgrades): the export reconnects with exponential
backoff (1 s doubling to 30 s) and republishes everything, since a broker without
persistence forgets retained messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import aiomqtt

from alarms import engine
from alarms.model import ArmRefused, ArmRequest, DisarmRequest, Mode, Zone, ZoneKind
from hub.config import MqttExportConfig, Secret
from hub.core.degraded import DURABLE_REQUIRED, NotDurable
from hub.core.runtime import DeviceRecord, Hub
from hub.core.throttle import CodeThrottle, hub_code_throttle
from hub.store.accounts import Accounts

log = logging.getLogger("hub.mqtt_export")  # the name users' [log] levels know (README)

THROTTLE_KEY = "mqtt"
THROTTLE_NAME = "MQTT (Home Assistant)"  # who typed the codes, in the household's alert
MAX_COMMAND_BYTES = 1024
MAX_CODE_LENGTH = 64

# casahub mode -> Home Assistant alarm_control_panel state
HA_STATE: dict[Mode, str] = {
    "disarmed": "disarmed",
    "arming_home": "arming",
    "arming_away": "arming",
    "armed_home": "armed_home",
    "armed_away": "armed_away",
    "pending": "pending",
    "triggered": "triggered",
}
DEVICE_CLASS: dict[ZoneKind, str] = {
    "water": "moisture",
    "smoke": "smoke",
    "motion": "motion",
    "contact": "door",
    "power": "power",
    "panic": "safety",
    "camera": "occupancy",
}
ACTIONS: dict[str, Literal["home", "away"] | None] = {"ARM_HOME": "home", "ARM_AWAY": "away", "DISARM": None}
# Home Assistant renders this with the action and the code the user typed; `tojson` quotes
# whatever the code holds, so the payload is always valid JSON.
COMMAND_TEMPLATE = '{{ {"action": action, "code": code} | tojson }}'
INCIDENT_OPEN_TYPES = ("fire", "water", "intrusion", "power", "panic", "tamper")
INCIDENT_CHANGE_TYPES = ("acknowledged", "resolved", "cancelled")
HIDDEN_INCIDENT_KINDS = frozenset({"duress"})
# Signal units by driver: zigbee2mqtt reports link quality (LQI 0-255), radio drivers RSSI in dBm.
LQI_DRIVERS = frozenset({"zigbee2mqtt"})

Outcome = Literal[
    "ignored", "locked", "bad_code", "armed", "disarmed", "not_ready", "refused", "storage_error", "error"
]


class CommandError(ValueError):
    """A command payload that is not one we understand (logged and ignored)."""


@dataclass(frozen=True)
class Command:
    action: str  # ARM_HOME | ARM_AWAY | DISARM
    code: str


def object_id(text: str) -> str:
    """An id usable in MQTT topics and HA object ids ([A-Za-z0-9_-]); distinct ids stay distinct."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", text)[:64] or "_"
    if clean != text:
        clean += "_" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return clean


def parse_command(payload: object) -> Command:
    """`{"action": "ARM_AWAY", "code": "12345"}` (or a bare `ARM_AWAY`, which has no code).

    Raises CommandError for anything else: wrong type, too long, not UTF-8, not JSON, an
    unknown action, a code that is not text.
    """
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_COMMAND_BYTES:
            raise CommandError(f"payload over {MAX_COMMAND_BYTES} bytes")
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("payload is not UTF-8") from None
    elif isinstance(payload, str):
        text = payload
        if len(text.encode("utf-8", "surrogatepass")) > MAX_COMMAND_BYTES:
            raise CommandError(f"payload over {MAX_COMMAND_BYTES} bytes")
    else:
        raise CommandError(f"payload of type {type(payload).__name__}")
    text = text.strip()
    if text in ACTIONS:
        return Command(text, "")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise CommandError("payload is neither an action nor a JSON object") from None
    if not isinstance(data, dict):
        raise CommandError("JSON payload is not an object")
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise CommandError(f"action must be one of {', '.join(ACTIONS)}")
    code = data.get("code")
    if code is None:
        code = ""
    elif isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    elif not isinstance(code, str):
        raise CommandError("code must be text")
    if len(code) > MAX_CODE_LENGTH:
        raise CommandError(f"code longer than {MAX_CODE_LENGTH} characters")
    return Command(action, code)


def _payload_text(payload: object) -> str:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode("utf-8", "replace")
    return "" if payload is None else str(payload)


class MqttExport:
    """Publishes the hub to Home Assistant over MQTT and takes its arm/disarm commands.

    Use as `async with MqttExport(...) as export:` (subscribes to the hub's fan-out) and run
    `await export.run()` in a task: it connects, reconnects and never returns; cancel it to stop
    (it says `offline` first).
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
        self.hub = hub
        self.accounts = accounts
        self.host = host
        self.port = port
        self.prefix = discovery_prefix.strip("/") or "homeassistant"
        self.username = username
        self._password = password.reveal() if isinstance(password, Secret) else password
        self.hub_id = object_id(hub_id)
        self.hub_name = hub_name
        self.version = version
        self.clock = clock or hub.clock
        # The daemon passes the throttle it shares with the API; one of our own works on the same
        # tables (the hub-wide count is read from the database).
        self.throttle = throttle or hub_code_throttle(hub)
        self.base = f"{self.prefix}/casahub/{self.hub_id}"
        self.status_topic = f"{self.base}/status"
        self.state_topic = f"{self.base}/alarm/state"
        self.command_topic = f"{self.base}/alarm/set"
        self.result_topic = f"{self.base}/alarm/result"
        self.incident_topic = f"{self.base}/incident"
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
                            await asyncio.wait_for(client.publish(self.status_topic, "offline", qos=1, retain=True), 2)
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
                if topic == self.command_topic:
                    if message.retain:
                        log.warning("mqtt export: ignoring a retained command on %s (clearing it)", topic)
                        await client.publish(topic, b"", qos=1, retain=True)
                    else:
                        await self.handle_command(message.payload)
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

    async def handle_command(self, payload: object) -> Outcome:
        """One command from the command topic; never raises. Returns what came of it."""
        try:
            outcome, action = await self._handle_command(payload)
        except Exception:
            log.exception("mqtt export: command failed")
            outcome, action = "error", None
        if outcome != "ignored":
            await self._publish_result(action, outcome)
        return outcome

    async def _handle_command(self, payload: object) -> tuple[Outcome, str | None]:
        try:
            command = parse_command(payload)
        except CommandError as exc:
            log.warning("mqtt export: ignoring a malformed command on %s: %s", self.command_topic, exc)
            return "ignored", None
        now = self.clock()
        # Counted before the (slow, threaded) hash check, as in the API: concurrent guesses
        # cannot all get past a lock; a right code takes it back below.
        wait = await self.throttle.begin(THROTTLE_KEY, now)
        if wait is not None:
            log.warning("mqtt export: %s refused: too many wrong codes, locked for %d s", command.action, wait + 1)
            return "locked", command.action
        match = await asyncio.to_thread(self.accounts.match_code, command.code) if command.code else None
        if match is None:
            log.warning("mqtt export: %s refused: wrong code", command.action)
            await self.hub.audit("bad_code", actor="mqtt", data={"action": command.action})
            await self.throttle.wrong(THROTTLE_KEY, now, by=THROTTLE_NAME)
            if self.throttle.retry_after(THROTTLE_KEY, now) is not None:
                return "locked", command.action
            return "bad_code", command.action
        await self.throttle.right(THROTTLE_KEY)
        who = f"{match.username} (mqtt)"
        mode = ACTIONS[command.action]
        if mode is None:
            # A duress code disarms like any other code: nothing here may tell them apart.
            await self.hub.submit(DisarmRequest(by=who, duress=match.duress))
            log.info("mqtt export: disarmed by %s", who)
            return "disarmed", command.action
        token = DURABLE_REQUIRED.set(True)  # as through the API: armed only once it is written
        try:
            step = await self.hub.submit(ArmRequest(mode=mode, by=who))
        except NotDurable as exc:
            log.error("mqtt export: arming %s by %s not made: %s", mode, who, exc)
            return "storage_error", command.action
        finally:
            DURABLE_REQUIRED.reset(token)
        refused = next((e for e in step.effects if isinstance(e, ArmRefused)), None)
        if refused is not None:
            log.warning("mqtt export: arming %s by %s refused: %s", mode, who, refused.reason)
            return ("not_ready" if refused.reason == "not_ready" else "refused"), command.action
        log.info("mqtt export: arming %s by %s", mode, who)
        return "armed", command.action

    async def _publish_result(self, action: str | None, outcome: Outcome) -> None:
        client = self._client
        if client is None:
            return
        body: dict[str, Any] = {"action": action, "result": outcome}
        if outcome == "not_ready":
            body["not_ready"] = [z for z, _ in _not_ready(self.hub)]
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

    # ------------------------------------------------------------------ what is published

    def retained_topics(self) -> dict[str, str]:
        """Every retained topic and its payload, discovery configs first (dicts keep order)."""
        hub = self.hub
        configs: dict[str, str] = {}
        states: dict[str, str] = {}
        dump = _dump

        configs[self._config_topic("alarm_control_panel", "alarm")] = dump(self.panel_config())
        states[self.state_topic] = HA_STATE.get(hub.state.mode, "disarmed")
        states[f"{self.base}/alarm/attributes"] = dump(self._panel_attributes())

        configs[self._config_topic("event", "incident")] = dump(self.incident_config())

        configs[self._config_topic("binary_sensor", "trouble")] = dump(self.trouble_config())
        anomalies = list(hub.state.anomalies.values())
        states[f"{self.base}/trouble/state"] = "ON" if anomalies else "OFF"
        states[f"{self.base}/trouble/attributes"] = dump(
            {"anomalies": [{"kind": a.kind, "device": a.device, "subject": a.subject} for a in anomalies]}
        )

        for zone in hub.state.zones.values():
            oid = object_id(zone.id)
            device = hub.devices.get(zone.device) if zone.device else None
            configs[self._config_topic("binary_sensor", f"zone_{oid}")] = dump(self.zone_config(zone, device))
            on = zone.active if zone.kind != "power" else not zone.active
            states[f"{self.base}/zone/{oid}/state"] = "ON" if on else "OFF"
            online = zone.online and (device is None or device.online)
            states[f"{self.base}/zone/{oid}/availability"] = "online" if online else "offline"
            states[f"{self.base}/zone/{oid}/attributes"] = dump(
                {
                    "zone": zone.id,
                    "kind": zone.kind,
                    "behaviour": zone.behaviour,
                    "room": zone.room,
                    "bypassed": zone.excluded is not None,
                    "tamper": zone.tamper,
                    "battery_low": zone.battery_low,
                }
            )

        for device in hub.devices.values():
            oid = object_id(device.id)
            has_battery = device.battery is not None and math.isfinite(device.battery)
            has_signal = device.signal is not None
            if not (has_battery or has_signal):
                continue
            states[f"{self.base}/device/{oid}/availability"] = "online" if device.online else "offline"
            if has_battery and device.battery is not None:
                configs[self._config_topic("sensor", f"device_{oid}_battery")] = dump(self.battery_config(device))
                states[f"{self.base}/device/{oid}/battery"] = str(round(device.battery))
            if has_signal:
                configs[self._config_topic("sensor", f"device_{oid}_signal")] = dump(self.signal_config(device))
                states[f"{self.base}/device/{oid}/signal"] = str(device.signal)
        return {**configs, **states}

    def _config_topic(self, component: str, oid: str) -> str:
        return f"{self.prefix}/{component}/{self.hub_id}/{oid}/config"

    def _unique_id(self, oid: str) -> str:
        return f"casahub_{self.hub_id}_{oid}"

    def _hub_device(self) -> dict[str, Any]:
        device: dict[str, Any] = {
            "identifiers": [f"casahub_{self.hub_id}"],
            "name": self.hub_name,
            "manufacturer": "casahub",
            "model": "casahub security hub",
        }
        if self.version:
            device["sw_version"] = self.version
        return device

    def _device_block(self, device: DeviceRecord | None) -> dict[str, Any]:
        if device is None:
            return self._hub_device()
        block: dict[str, Any] = {
            "identifiers": [self._unique_id(f"device_{object_id(device.id)}")],
            "name": device.name,
            "manufacturer": device.driver,
            "model": device.model or device.driver,
            "via_device": f"casahub_{self.hub_id}",
        }
        if device.room:
            block["suggested_area"] = device.room
        return block

    def _origin(self) -> dict[str, Any]:
        origin: dict[str, Any] = {"name": "casahub"}
        if self.version:
            origin["sw_version"] = self.version
        return origin

    def _common(self, oid: str, name: str | None, device: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "unique_id": self._unique_id(oid),
            "device": device,
            "origin": self._origin(),
            "availability": [{"topic": self.status_topic}],
            "qos": 1,
        }

    def panel_config(self) -> dict[str, Any]:
        return {
            **self._common("alarm", "Alarm", self._hub_device()),
            "state_topic": self.state_topic,
            "command_topic": self.command_topic,
            "command_template": COMMAND_TEMPLATE,
            "code": "REMOTE_CODE",
            "code_arm_required": True,
            "code_disarm_required": True,
            "payload_arm_home": "ARM_HOME",
            "payload_arm_away": "ARM_AWAY",
            "payload_disarm": "DISARM",
            "supported_features": ["arm_home", "arm_away"],
            "json_attributes_topic": f"{self.base}/alarm/attributes",
        }

    def incident_config(self) -> dict[str, Any]:
        return {
            **self._common("incident", "Incident", self._hub_device()),
            "state_topic": self.incident_topic,
            "event_types": [*INCIDENT_OPEN_TYPES, *INCIDENT_CHANGE_TYPES],
            "icon": "mdi:alarm-light",
        }

    def trouble_config(self) -> dict[str, Any]:
        return {
            **self._common("trouble", "Trouble", self._hub_device()),
            "state_topic": f"{self.base}/trouble/state",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "problem",
            "entity_category": "diagnostic",
            "json_attributes_topic": f"{self.base}/trouble/attributes",
        }

    def zone_config(self, zone: Zone, device: DeviceRecord | None) -> dict[str, Any]:
        oid = object_id(zone.id)
        # The device's main entity takes the device's name (HA's convention: name null).
        name = None if device is not None and zone.name == device.name else zone.name
        config = {
            **self._common(f"zone_{oid}", name, self._device_block(device)),
            "state_topic": f"{self.base}/zone/{oid}/state",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": DEVICE_CLASS[zone.kind],
            "json_attributes_topic": f"{self.base}/zone/{oid}/attributes",
            "availability_mode": "all",
        }
        config["availability"] = [
            {"topic": self.status_topic},
            {"topic": f"{self.base}/zone/{oid}/availability"},
        ]
        return config

    def _device_sensor(self, device: DeviceRecord, what: str) -> dict[str, Any]:
        oid = object_id(device.id)
        config = {
            **self._common(f"device_{oid}_{what}", what.capitalize(), self._device_block(device)),
            "state_topic": f"{self.base}/device/{oid}/{what}",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            "availability_mode": "all",
        }
        config["availability"] = [
            {"topic": self.status_topic},
            {"topic": f"{self.base}/device/{oid}/availability"},
        ]
        return config

    def battery_config(self, device: DeviceRecord) -> dict[str, Any]:
        return {**self._device_sensor(device, "battery"), "device_class": "battery", "unit_of_measurement": "%"}

    def signal_config(self, device: DeviceRecord) -> dict[str, Any]:
        config = self._device_sensor(device, "signal")
        if device.driver in LQI_DRIVERS:
            config["unit_of_measurement"] = "lqi"
            config["icon"] = "mdi:signal"
        else:
            config["device_class"] = "signal_strength"
            config["unit_of_measurement"] = "dBm"
        return config

    def _panel_attributes(self) -> dict[str, Any]:
        state = self.hub.state
        return {
            "mode": state.mode,
            "target": state.target,
            "ready": not _not_ready(self.hub),
            "not_ready": [
                {"zone": z, "name": state.zones[z].name if z in state.zones else z, "reason": r}
                for z, r in _not_ready(self.hub)
            ],
        }


def _check_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop.

    On Python 3.11, asyncio.wait_for (which aiomqtt awaits every acknowledgement with) returns
    the result and drops the cancellation when both happen at once; the task would then go on
    forever, and the daemon could never stop. Our loops check after every awaited step.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _not_ready(hub: Hub) -> list[tuple[str, str]]:
    return list(engine.readiness(hub.state, "away"))


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


__all__ = [
    "COMMAND_TEMPLATE",
    "DEVICE_CLASS",
    "HA_STATE",
    "Command",
    "CommandError",
    "MqttExport",
    "object_id",
    "parse_command",
]
