"""The zigbee2mqtt driver: Zigbee sensors through a zigbee2mqtt bridge, read from its MQTT broker."""

from __future__ import annotations

from drivers.zigbee2mqtt.driver import (
    DEFAULT_EXPECTED_INTERVAL,
    MODEL_KINDS,
    STATE_HEALTH,
    STATE_KINDS,
    BridgeView,
    Zigbee2MqttDriver,
    Zigbee2MqttOptions,
    parse_availability,
    parse_options,
    state_readings,
)

__all__ = [
    "DEFAULT_EXPECTED_INTERVAL",
    "MODEL_KINDS",
    "STATE_HEALTH",
    "STATE_KINDS",
    "BridgeView",
    "Zigbee2MqttDriver",
    "Zigbee2MqttOptions",
    "parse_availability",
    "parse_options",
    "state_readings",
]
