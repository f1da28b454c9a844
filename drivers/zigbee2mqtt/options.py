"""The zigbee2mqtt driver's options: the `[[drivers]]` table as a Struct (drivers/options.py), and the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import msgspec

from drivers.options import Host, NonEmpty, OptionError, Port, Seconds, parse

__all__ = [
    "DEFAULT_BASE_TOPIC",
    "DEFAULT_EXPECTED_INTERVAL",
    "DEFAULT_PORT",
    "TYPE",
    "Zigbee2MqttOptions",
    "parse_options",
]

TYPE = "zigbee2mqtt"  # Zigbee2MqttDriver.type, and the only `type` key its options may carry
DEFAULT_EXPECTED_INTERVAL = 3600.0
DEFAULT_PORT = 1883
DEFAULT_BASE_TOPIC = "zigbee2mqtt"


# A Zigbee device's IEEE address, as zigbee2mqtt writes it (0x and 16 hex digits).
Ieee = Annotated[str, msgspec.Meta(pattern=r"^0[xX][0-9a-fA-F]{16}$")]

# What the MQTT broker takes as a base topic: no wildcard, no NUL.
Topic = Annotated[
    str, msgspec.Meta(pattern=r"^[^+#\x00]*[^+#\x00\s/][^+#\x00]*$", description="an MQTT topic without wildcards")
]


class Zigbee2MqttOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `[[drivers]] type = "zigbee2mqtt"` table (drivers/options.py)."""

    # The hub's environment variable that, when set, gives the password (hub/config).
    password_env: ClassVar[str] = "CASAHUB_MQTT_PASSWORD"

    host: Host | None = None
    port: Port = DEFAULT_PORT
    base_topic: Topic = DEFAULT_BASE_TOPIC
    username: NonEmpty | None = None
    password: NonEmpty | None = None
    expected_interval: Seconds = DEFAULT_EXPECTED_INTERVAL
    # Relays (valves, switches) wired the other way round: their `state` ON closes the valve or
    # opens the relay, so every command and every reported state is swapped.
    invert: Annotated[list[Ieee], msgspec.Meta(description='an array of IEEE addresses like "0x00124b0018e2a1b0"')] = (
        msgspec.field(default_factory=list)
    )

    def __post_init__(self) -> None:
        self.base_topic = self.base_topic.rstrip("/")
        self.invert = sorted({address.lower() for address in self.invert})

    def runnable(self) -> None:
        """A broker to connect to, and credentials MQTT 3.1.1 can send."""
        if self.host is None:
            raise OptionError("host", "option 'host' is required (the MQTT broker zigbee2mqtt publishes to)")
        if self.password is not None and self.username is None:
            raise OptionError("password", "option 'password' needs 'username' (MQTT 3.1.1 sends no password alone)")

    @property
    def broker(self) -> str:
        """The broker's host (`runnable` made sure there is one)."""
        return self.host or ""

    def __repr__(self) -> str:
        password = "***" if self.password is not None else None  # never in a log
        return (
            f"Zigbee2MqttOptions(host={self.host!r}, port={self.port!r}, base_topic={self.base_topic!r}, "
            f"username={self.username!r}, password={password}, expected_interval={self.expected_interval!r}, "
            f"invert={self.invert!r})"
        )


def parse_options(options: Mapping[str, Any]) -> Zigbee2MqttOptions:
    """Validate a `[[drivers]]` table for zigbee2mqtt; DriverError names the bad key."""
    return parse(Zigbee2MqttOptions, TYPE, options)
