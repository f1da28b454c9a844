"""What the web handlers share: the hub, accounts, running drivers, throttles."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.config import Config
from hub.core.runtime import Hub
from hub.core.throttle import CodeThrottle, FailureThrottle
from hub.store.accounts import Accounts


@dataclass
class WebContext:
    hub: Hub
    accounts: Accounts
    drivers: dict[str, Any] = field(default_factory=dict)  # driver type -> running driver instance
    demo: bool = False
    tls: bool = False
    version: str = "0"
    clock: Callable[[], float] = time.time
    # The configuration and data dir the daemon runs with (the commissioning report names the hub,
    # its TLS certificate and the centre link); None when a test builds a context by hand.
    config: Config | None = None
    data_dir: Path | None = None
    # 5 failed logins per username or address in 15 minutes -> 429 until the window clears.
    login_throttle: FailureThrottle = field(default_factory=lambda: FailureThrottle(5, 900))
    # Alarm codes: 3 wrong -> that caller locked for 90 s, doubling up to 1 h; 10 wrong in an hour
    # from anyone -> an alert. The daemon passes the one it shares with MQTT, kept in the database
    # (hub/core/throttle.py); this default, in memory, is for contexts that tests build by hand.
    code_throttle: CodeThrottle = field(default_factory=CodeThrottle)


CONTEXT = web.AppKey("casahub", WebContext)
