"""What the report says, as plain data: `gather()` reads it from the running hub, the unit tests
write it by hand, and `build_report()` (pure) turns it into the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alarms.model import State
from alarms.policy import Contact
from hub.commissioning.grade2 import MAX_WRONG_CODES, MIN_LOCKOUT
from hub.config import CentreConfig


@dataclass(frozen=True)
class DeviceFacts:
    id: str
    driver: str
    name: str
    room: str
    model: str
    battery: float | None
    signal: int | None
    online: bool
    last_seen: float | None
    expected_interval: float | None  # seconds between reports; None: not supervised


@dataclass(frozen=True)
class UserFacts:
    username: str
    role: str
    has_code: bool
    code_grade2: bool | None  # None: code set before the hub noted its length
    has_duress: bool = False
    duress_grade2: bool | None = None


@dataclass(frozen=True)
class ChannelTestResult:
    channel: str
    transport: str
    recipient: str  # masked
    state: str  # sent | failed | timeout | not_configured
    error: str | None
    at: float

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        """As the report and `POST /api/v1/commissioning/test` show it, in the household's time zone."""
        return {
            "channel": self.channel,
            "transport": self.transport,
            "recipient": self.recipient,
            "state": self.state,
            "error": self.error,
            "at": datetime.fromtimestamp(self.at, tz).isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class Facts:
    """Everything the report says, read from the running hub (or written by a test)."""

    name: str
    hub_id: str
    version: str
    tls_fingerprint: str
    now: float
    timezone: str
    state: State
    devices: Sequence[DeviceFacts]
    contacts: Sequence[Contact]
    transports: Mapping[str, str]  # channel -> transport ("none": not configured; "log": the demo)
    users: Sequence[UserFacts]
    ack_timeout: float = 120.0
    centre: CentreConfig | None = None
    wrong_codes: int = MAX_WRONG_CODES
    lockout: float | None = MIN_LOCKOUT
    events_kept: int | None = None  # None: never pruned
    events_stored: int = 0
    standby_drivers: Sequence[str] = ()  # running nut / power_supply drivers
    tests: Mapping[str, ChannelTestResult] = field(default_factory=dict)  # channel -> latest result
    # output id -> when its latest test the device confirmed was asked (hub/store/output_tests.py)
    output_tests: Mapping[str, float] = field(default_factory=dict)
