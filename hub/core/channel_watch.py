"""Can anybody be told? `no_notification_channel` is raised while no household channel reaches
anybody, and cleared once one does (hub/transports/registry.py household_channels).

The daemon checks once at start-up and then runs the watch: it looks again as soon as contacts
or push subscriptions change (`Hub.channels_changed`), and every CHANNEL_RECHECK seconds anyway.
"""

from __future__ import annotations

import asyncio
import logging

from hub.core.clock import wait_set
from hub.core.runtime import Hub
from hub.transports.registry import household_channels

log = logging.getLogger("hub.runtime")  # the name users' [log] levels know (README)

CHANNEL_RECHECK = 60.0  # seconds: push subscriptions also end without telling (a 410 from the push service)


async def check_notification_channels(hub: Hub) -> None:
    """Raise or clear `no_notification_channel`. The demo's log is said to be a demo everywhere
    and raises nothing."""
    if hub.demo:  # (a data dir that ran without --demo may carry one: it clears)
        reachable = ["log"]
    else:
        contacts = list(hub.contacts)
        reachable = await asyncio.to_thread(household_channels, contacts, hub.transports, hub.has_app)
    raised = any(a.kind == "no_notification_channel" for a in hub.state.anomalies.values())
    if raised == (not reachable):
        return
    if reachable:
        log.info("the household can be told again, by %s", ", ".join(reachable))
    else:
        log.warning("no notification channel reaches anybody: an alarm would reach nobody in the household")
    await hub.raise_fault("no_notification_channel", "household", active=not reachable)


async def run_channel_watch(hub: Hub) -> None:
    while True:
        try:
            await wait_set(hub.channels_dirty, CHANNEL_RECHECK)
        except TimeoutError:
            pass
        hub.channels_dirty.clear()
        try:
            await check_notification_channels(hub)
        except Exception:
            log.exception("could not check the notification channels")
