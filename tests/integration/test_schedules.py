"""Schedules on a running demo hub, through the HTTP API (issue 17, item 3; hub/core/scheduler.py).

The hub's clock is injected (tests/integration/test_walktest.py `Clock`): each test moves it to a
few seconds before a minute, sets a schedule for that minute, and the daemon's scheduler does
the rest. A schedule that arms a minute ahead arms; one that finds the front door open notifies
each contact in their language with the door and "aperta"/"open" instead; a restart within the
grace does not run it again; a disarm schedule ends only the mode it names.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.core.scheduler import Scheduler
from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_walktest import Clock
from tests.peers import wait_until
from tests.security.routes import DOOR
from tests.security.test_armed_access import session_of

CODE = "12345"  # the demo owner's alarm code


def minute_ahead(running: RunningHub, clock: Clock, lead: float = 3.0) -> str:
    """Move the hub's clock to `lead` seconds before the next minute but one; that minute, "HH:MM"."""
    now = clock()
    target = (int(now // 60) + 2) * 60  # the zone's minutes start on UTC minutes (whole-hour offsets)
    clock.offset += target - lead - now
    return datetime.datetime.fromtimestamp(target, running.hub.tz).strftime("%H:%M")


async def add_contacts(owner: Api) -> None:
    for name, language in (("Anna", "it"), ("Ben", "en")):
        status, body = await owner.post("/api/v1/contacts", {"name": name, "language": language, "push": True})
        assert status == 201, body


async def schedule(owner: Api, **rule: Any) -> dict[str, Any]:
    status, body = await owner.post("/api/v1/schedules", rule)
    assert status == 201, body
    return dict(body)


async def events(owner: Api, kind: str) -> list[dict[str, Any]]:
    return list((await owner.get(f"/api/v1/events?kind={kind}"))["items"])


async def notifications(owner: Api, template: str, recipients: set[str], timeout: float = 15) -> list[dict[str, Any]]:
    """The outbox rows of `template`, once there is one for each of `recipients`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        items = [n for n in (await owner.get("/api/v1/notifications"))["items"] if n["template"] == template]
        if {n["recipient"] for n in items} >= recipients or asyncio.get_running_loop().time() > deadline:
            return items
        await asyncio.sleep(0.1)


@pytest.fixture
async def timed(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, Clock, Api]]:
    clock = Clock()
    running = await start_hub(tmp_path / "data", clock=clock)
    try:
        async with session_of(running, "demo", "demo") as owner:
            yield running, clock, owner
    finally:
        await running.stop()


async def test_a_schedule_a_minute_ahead_arms_and_is_not_repeated_after_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    running = await start_hub(tmp_path / "data", clock=clock)
    try:
        async with session_of(running, "demo", "demo") as owner:
            assert (await owner.get("/api/v1/system"))["mode"] == "disarmed"
            at = minute_ahead(running, clock)
            made = await schedule(owner, name="Notte", action="arm", mode="night", at=at, weekdays=[])
            assert (made["action"], made["mode"], made["at"], made["created_by"]) == ("arm", "night", at, "demo")
            assert f"T{at}:00" in made["next_run"]
            assert [s["id"] for s in (await owner.get("/api/v1/schedules"))["items"]] == [made["id"]]

            await wait_until(lambda: running.hub.state.mode in ("arming_night", "armed_night"), 15, what="armed")
            requests = [e for e in await events(owner, "arm_request") if e["actor"] == "programma: Notte"]
            assert len(requests) == 1, requests
            ran = await events(owner, "schedule_run")
            assert [(e["actor"], e["data"]["set_up_by"]) for e in ran] == [("programma: Notte", "demo")]
            listed = (await owner.get("/api/v1/schedules"))["items"][0]
            assert listed["last_run"] is not None and at in listed["last_run"]

            status, body = await owner.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 200, body
        await running.stop()

        # Back within the grace: the run is not repeated (last_run), the house stays disarmed.
        running = await start_hub(tmp_path / "data", clock=clock)
        await Scheduler(running.hub).tick()
        assert running.hub.state.mode == "disarmed"
        async with session_of(running, "demo", "demo") as owner:
            assert len(await events(owner, "schedule_run")) == 1
    finally:
        await running.stop()


async def test_not_ready_it_notifies_each_contact_in_their_language_instead(
    timed: tuple[RunningHub, Clock, Api],
) -> None:
    running, clock, owner = timed
    await add_contacts(owner)
    await owner.trigger(DOOR)  # the front door is open
    door = running.hub.state.zones[DOOR].name
    at = minute_ahead(running, clock)
    await schedule(owner, name="Notte", action="arm", mode="night", at=at)

    found = await notifications(owner, "event.schedule_not_ready", {"Anna", "Ben"})
    assert {n["recipient"] for n in found} >= {"Anna", "Ben"}, found
    assert running.hub.state.mode == "disarmed"  # it did not force
    anna = next(n for n in found if n["recipient"] == "Anna")
    ben = next(n for n in found if n["recipient"] == "Ben")
    assert anna["language"] == "it" and f"{door} (aperta)" in anna["text"], anna
    assert "NON inserito" in anna["subject"]
    assert ben["language"] == "en" and f"{door} (open)" in ben["text"], ben
    assert "NOT armed" in ben["subject"]
    logged = await events(owner, "schedule_not_ready")
    assert [e["actor"] for e in logged] == ["programma: Notte"]


async def test_a_reminder_while_off_and_a_disarm_that_ends_only_its_mode(
    timed: tuple[RunningHub, Clock, Api],
) -> None:
    running, clock, owner = timed
    await add_contacts(owner)
    at = minute_ahead(running, clock)
    await schedule(owner, name="Promemoria", action="remind", at=at)
    await schedule(owner, name="Mattina", action="disarm", mode="night", at=at, code=CODE)

    reminded = await notifications(owner, "event.schedule_reminder", {"Anna", "Ben"})
    texts = {n["language"]: n["subject"] for n in reminded}
    assert texts == {"it": "L'allarme è ancora disinserito", "en": "The alarm is still off"}

    # Armed away by a person (a holiday): the night's disarm schedule leaves it armed.
    status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200, body
    clock.offset += 86400  # the next day's occurrence, at once (the grace is 10 minutes)
    await Scheduler(running.hub).tick()
    assert running.hub.state.mode != "disarmed"
    skipped = await events(owner, "schedule_skipped")
    assert [(e["actor"], e["data"]["reason"]) for e in skipped] == [("programma: Mattina", "armed_away")]


async def test_bad_rules_name_their_field_and_a_disarm_needs_the_code(
    timed: tuple[RunningHub, Clock, Api],
) -> None:
    _running, _clock, owner = timed
    bad = [
        ({"name": "x", "action": "arm", "at": "23:30"}, "invalid_field:mode"),
        ({"name": "x", "action": "arm", "mode": "nowhere", "at": "23:30"}, "invalid_field:mode"),
        ({"name": "x", "action": "remind", "at": "25:00"}, "invalid_field:at"),
        ({"name": "x", "action": "disarm", "mode": "night", "at": "07:00"}, "invalid_field:code"),
        ({"name": "x", "action": "disarm", "mode": "night", "at": "07:00", "code": "99999"}, "bad_code"),
    ]
    for body, error in bad:
        status, answer = await owner.post("/api/v1/schedules", body)
        assert (status >= 400, answer["error"]) == (True, error), (body, answer)
    assert (await owner.get("/api/v1/schedules"))["items"] == []
    made = await schedule(
        owner, name="Mattina", action="disarm", mode="night", at="07:00", weekdays=["tue", "mon"], code=CODE
    )
    assert made["weekdays"] == ["mon", "tue"] and "code" not in made
    status, _ = await owner.request("DELETE", f"/api/v1/schedules/{made['id']}")
    assert status == 204
    status, answer = await owner.request("DELETE", f"/api/v1/schedules/{made['id']}")
    assert (status, answer["error"]) == (404, "unknown_schedule")
    removed = await events(owner, "schedule_removed")
    assert [(e["actor"], e["data"]["name"]) for e in removed] == [("demo", "Mattina")]
