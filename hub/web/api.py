"""The /api/v1 routes (README, HTTP API), one module per resource:

- system_api: health, the session, the system state, arming and disarming;
- zones_api: the zones and the demo's trigger;
- devices_api: the devices, pairing candidates and scans;
- events_api: the history, incidents, anomalies and notifications;
- ws: the live stream.

hub/web/app.py `make_app` registers their routes with every other module's. This module only
keeps the old import path of a name read outside the package.
"""

from __future__ import annotations

from hub.web.events_api import EVENT_CATEGORIES

__all__ = ["EVENT_CATEGORIES"]
