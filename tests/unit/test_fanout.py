"""The live stream's fan-out (hub/core/fanout.py, issue 19): a message is encoded once per reader
variant whatever the number of dashboards, the system snapshot is coalesced and built only for
someone due one, a slow dashboard still ends with the latest snapshot and every activation, and
nothing is built with nobody connected."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core import fanout as fanout_mod
from hub.core.fanout import QUEUE_LIMIT, QUEUE_SIZE, Fanout, LiveMessage, Subscription


class System:
    """A system snapshot source that counts how often it was built."""

    def __init__(self) -> None:
        self.version = 0
        self.built = 0

    def __call__(self) -> dict[str, Any]:
        self.built += 1
        return {"type": "system", "system": {"version": self.version}}


async def drain(subscription: Subscription) -> list[LiveMessage]:
    got = []
    while (message := await subscription.next(0)) is not None:
        got.append(message)
    return got


async def test_a_message_is_encoded_once_per_variant_not_per_dashboard() -> None:
    fanout = Fanout(System())
    dashboards = [fanout.open() for _ in range(20)]
    encoded: list[str] = []

    def encode(variant: str) -> Any:
        def run(body: dict[str, Any]) -> str:
            encoded.append(variant)
            return f"{variant}:{body['n']}"

        return run

    fanout.publish({"type": "zone", "n": 1})
    texts = set()
    for n, dashboard in enumerate(dashboards):
        variant = "installer" if n % 5 == 0 else "household"
        message = await dashboard.next(0)
        assert message is not None
        texts.add(message.encoded(variant, encode(variant)))
    assert sorted(encoded) == ["household", "installer"]
    assert texts == {"household:1", "installer:1"}


async def test_with_nobody_connected_no_snapshot_is_built() -> None:
    system = System()
    fanout = Fanout(system)
    for _ in range(1000):
        fanout.system_changed()
        fanout.publish({"type": "zone"})
    fanout.system_changed(milestone=True)
    assert system.built == 0


async def test_snapshots_are_coalesced_and_built_once_for_all_dashboards(monkeypatch: pytest.MonkeyPatch) -> None:
    system = System()
    fanout = Fanout(system)
    dashboards = [fanout.open() for _ in range(20)]
    for _ in range(50):
        system.version += 1
        fanout.system_changed()
    for dashboard in dashboards:
        message = await dashboard.next(0)
        assert message is not None and message.body["system"]["version"] == 50
    assert system.built == 1
    # At most one per SYSTEM_EVERY: within it, the next change waits for its turn.
    monkeypatch.setattr(fanout_mod, "SYSTEM_EVERY", 3600.0)
    system.version += 1
    fanout.system_changed()
    assert await dashboards[0].next(0) is None


async def test_a_slow_dashboard_ends_with_the_latest_snapshot_and_every_activation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout_mod, "SYSTEM_EVERY", 0.0)  # its turn has come when it reads
    system = System()
    fanout = Fanout(system)
    slow = fanout.open()
    first = slow.snapshot()
    assert first.body["system"]["version"] == 0
    activations = 0
    # A storm: many more messages than the queue holds, none read meanwhile.
    for n in range(3 * QUEUE_SIZE):
        system.version += 1
        fanout.publish({"type": "zone", "zone": {"id": f"z{n % 100}", "n": n}})
        if n % 5 == 0:
            fanout.publish({"type": "incident", "incident": {"activation": activations}})
            activations += 1
        fanout.system_changed()
        assert slow.waiting <= QUEUE_LIMIT
    got = await drain(slow)
    incidents = [m.body["incident"]["activation"] for m in got if m.type == "incident"]
    assert incidents == list(range(activations))
    assert got[-1].type == "system" and got[-1].body["system"]["version"] == system.version
    assert len([m for m in got if m.type == "system"]) == 1  # coalesced: one for the whole storm


async def test_a_mode_change_is_a_snapshot_no_dashboard_misses() -> None:
    system = System()
    fanout = Fanout(system)
    dashboard = fanout.open()
    dashboard.snapshot()
    system.version = 1  # armed
    fanout.system_changed(milestone=True)
    system.version = 2  # disarmed at once
    fanout.system_changed(milestone=True)
    got = [m.body["system"]["version"] for m in await drain(dashboard)]
    assert got == [1, 2]


async def test_past_the_hard_limit_even_incidents_go_and_the_queue_stays_bounded() -> None:
    fanout = Fanout(System())
    stuck = fanout.open()
    for n in range(QUEUE_LIMIT + 100):
        fanout.publish({"type": "incident", "n": n})
    assert stuck.waiting == QUEUE_LIMIT
    got = await drain(stuck)
    assert got[0].body["n"] == 100 and got[-1].body["n"] == QUEUE_LIMIT + 99


async def test_a_check_runs_once_for_every_reader() -> None:
    message = LiveMessage({"type": "notification"})
    runs = 0

    async def look_up() -> bool:
        nonlocal runs
        runs += 1
        return True

    assert all([await message.check("duress", look_up) for _ in range(10)])
    assert runs == 1


async def test_in_process_readers_still_get_every_message_and_each_snapshot() -> None:
    fanout = Fanout(System())
    queue = fanout.subscribe()
    fanout.publish({"type": "zone"})
    fanout.system_changed()
    assert [queue.get_nowait()["type"], queue.get_nowait()["type"]] == ["zone", "system"]
    fanout.unsubscribe(queue)
    assert fanout.count == 0
