"""The zigbee2mqtt driver: Zigbee sensors through a zigbee2mqtt bridge, read from its MQTT broker.

Theory of operation. zigbee2mqtt (z2m) publishes everything under one base topic (default
"zigbee2mqtt"); the driver subscribes to `<base>/#` and feeds each message to `BridgeView`,
a protocol core without I/O (no sockets, no clock: the caller passes the message and its
time), which keeps what the bridge said about its devices and returns readings. The
driver around it owns the MQTT connection and the readings queue.

A device's casahub `address` is its IEEE address (`0x00158d0001a2b3c4`, lower case), which
never changes; z2m addresses messages by friendly name, which the user may change. The
retained `<base>/bridge/devices` list maps one to the other, and z2m republishes it after
every rename, join, interview and removal: the map is rebuilt from each copy. A device's
default friendly name is its IEEE address, which resolves by itself. State that arrives for
a name not (yet) in the map, as retained states do when they come before the retained
device list, waits in a small buffer per name and is replayed once the name resolves.

Topics under the base topic, and what they give:

    bridge/devices                  the device list (ieee_address, friendly_name, type,
                                    definition {model, vendor, exposes}, power_source, disabled)
    bridge/event                    device_joined / device_interview (status "successful",
                                    with definition) -> pairing candidates; device_leave -> forgotten
    bridge/response/device/rename   {"data": {"from", "to"}} -> the rename, before the new device list
    bridge/response/permit_join     a failed permit_join is logged
    bridge/<anything else>          ignored (info, state, logging, groups, requests...)
    <name>/availability             {"state": "online"|"offline"} (z2m >= 1.22; legacy: plain
                                    "online"/"offline") -> HealthReading(online=...)
    <name>/set, <name>/get, ...     commands and other subtopics: ignored (the driver publishes
                                    to <name>/set itself, see Outputs)
    <name>                          the device state, a JSON object, mapped by STATE_KINDS and
                                    STATE_HEALTH (payloads.py)

Every well-formed state message yields one HealthReading (the fields it reported, the others
None; all None when it reported none) so that the hub hears from the device on each message,
plus one SensorReading per sensing field present. z2m's `contact: true` means the contact is
CLOSED (magnet near), so a contact channel is active when `contact` is false. Readings are
emitted for every device, paired or not: the hub ignores the unpaired ones.

Bad input never raises out of the driver: a payload that is not JSON, not an object, or a
field of the wrong type (or out of range: battery outside 0..100, linkquality outside
0..255) is logged at warning the first time for each device (then at debug), and the
message's other fields are still used.

Pairing: candidates are the devices in the device list (not the coordinator, not disabled)
and those announced by bridge/event, less the ones in `context.paired()`. Their kinds come
from the definition's exposes (properties water_leak, smoke, occupancy, contact, searched
through nested features), from the sensing fields the device has reported, and from
MODEL_KINDS for models recorded from real devices. A device whose definition is known and
which has none of those channels (a plug, a bulb) is not offered. `scan(seconds)` publishes
`{"time": seconds}` (the z2m 2.x payload, 1..254 s) to `bridge/request/permit_join`.

Outputs (drivers/zigbee2mqtt/outputs.py). A device whose exposes include the `warning`
composite is a siren (and `squawk` support is recorded); one with a settable binary `state`
(a relay: `e.switch()` or `e.valve_switch()`) is offered as a valve and a switch, the
installer picks. `command(address, command)` publishes to `<base>/<friendly_name>/set`:

    burglar, fire, emergency    {"warning": {"mode": <action>, "level": <level>, "strobe": <strobe>,
                                 "duration": <seconds, rounded up; 180 when not given>}}
    stop                        {"warning": {"mode": "stop"}}
    squawk_armed, squawk_disarmed, chime
                                {"squawk": {"state": "system_is_armed"|"system_is_disarmed",
                                 "level": "low", "strobe": false}} where the device exposes
                                `squawk` (chime: system_is_disarmed); else {"warning": {"mode":
                                "emergency", "level": "low", "strobe": false, "duration": 1}}
    close, off / open, on       {"state": <value_off>} / {"state": <value_on>} ("OFF"/"ON" for a
                                switch expose), swapped for an IEEE address in `invert`

Each state message of an output gives `OutputReading`s: `alarm` (true/false, "ON"/"START"/
"OFF") or an echoed `warning` {"mode"} says whether a siren sounds; `state` says a valve is
open/closed or a switch on/off (swapped by `invert`), the kind being the one the hub paired it
as (`DriverContext.output_kind`), else the one last commanded, else the likelier. z2m
publishes nothing after a `warning`: a siren that does not expose a published `alarm` is
reported "sounding"/"silent" as asked once the broker has the command. `command` raises
DriverError when the broker is down, the address is not a listed output, or the device
cannot do the action; availability "offline" applies to outputs as to sensors.

Supervision: `expected_interval` is 3600 s for every device unless the `expected_interval`
option says otherwise. Aqara/Xiaomi battery sensors send a heartbeat about every 50 min,
which fits. z2m's own passive availability timeout for battery devices is 25 h, far too long
for a security hub; but some battery devices report only when something changes and on
their battery reporting interval (z2m configures it up to 62000 s), so a bridge of such
devices needs a longer `expected_interval` to avoid false "offline" anomalies. The hub
decides offline from the last report plus this interval, or at once from availability
"offline", whichever comes first (docs/architecture.md section 5).

Connection: the driver (re)connects forever with exponential backoff from 1 s, doubled on
each failure up to 30 s, and reset once connected; on each connection it resubscribes, so
the broker redelivers the retained device list and states. `readings()` goes on across
reconnects and ends only when the driver stops. `connected` says whether the broker link is
up now (for the hub's status page).

Options: host (required), port = 1883, base_topic = "zigbee2mqtt", username, password
(a plain string; needs username), expected_interval = 3600 (seconds), invert = [] (IEEE
addresses of relays wired the other way round: a valve whose `state` ON closes it). A `type` key equal
to "zigbee2mqtt" is tolerated, so the hub may pass a whole `[[drivers]]` table. Not
supported: z2m's `output: attribute` mode (one topic per attribute); use the default
`output: json`.

Modules: `options` checks the `[[drivers]]` table; `payloads` maps one decoded state or
availability message to readings; `outputs` reads outputs from exposes, builds command
payloads and maps output states (pure); `bridge` is `BridgeView`, the protocol core (device
list, exposes, names, topics, commands); `driver` is `Zigbee2MqttDriver`, the MQTT
connection around it.
"""

from __future__ import annotations

from drivers.zigbee2mqtt.bridge import MODEL_KINDS, BridgeView
from drivers.zigbee2mqtt.driver import Zigbee2MqttDriver
from drivers.zigbee2mqtt.options import DEFAULT_EXPECTED_INTERVAL, Zigbee2MqttOptions, parse_options
from drivers.zigbee2mqtt.outputs import OutputTraits, command_payload, output_readings, output_traits
from drivers.zigbee2mqtt.payloads import STATE_HEALTH, STATE_KINDS, parse_availability, state_readings

__all__ = [
    "DEFAULT_EXPECTED_INTERVAL",
    "MODEL_KINDS",
    "STATE_HEALTH",
    "STATE_KINDS",
    "BridgeView",
    "OutputTraits",
    "Zigbee2MqttDriver",
    "Zigbee2MqttOptions",
    "command_payload",
    "output_readings",
    "output_traits",
    "parse_availability",
    "parse_options",
    "state_readings",
]
