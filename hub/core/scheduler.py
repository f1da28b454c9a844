"""The household's schedules at work: arms, disarms and reminds at the times the owners set
(`POST /api/v1/schedules`, README "Schedules"). A task of the daemon.

Theory of operation
-------------------
`Scheduler.run()` reads the `schedules` table, asks `alarms.schedules.decide` for each one
whether its latest occurrence is due, and sleeps until the next occurrence, at most
`check_interval`, or until the table changes (`hub.store.schedules.changes`). It never sleeps
long on trust: the Pi has no real-time clock and the hub's clock may step (hub/core/clock.py);
an occurrence the clock stepped over by more than the schedule's grace is logged as missed,
never run late. The occurrence is written as `last_run` *before* the action, so a restart never
repeats it (and one within the grace still runs it).

What each action does, always in the event log as done by `programma: <name>`:

- `arm`: only from `disarmed` (a schedule never turns an `away` into a `night`); submits the
  same `ArmRequest` as the dashboard, with the schedule's `force`. Refused as not ready, it does
  not force: the household is told which zones and why (`schedule_not_ready`, it/en per contact).
- `disarm`: a weakening, allowed only because an owner set it up (the audit row names them): it
  ends only the armed mode the schedule names, never an alarm in progress (pending, triggered).
- `remind`: tells the household the alarm is still off (`schedule_reminder`), only if it is.

Anything a schedule could not do is an audit row `schedule_skipped` with the reason.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from alarms.messages.schedules import schedule_params
from alarms.model import ArmRefused, ArmRequest, DisarmRequest
from alarms.schedules import decide, label, next_occurrence
from hub.core.clock import wait_set
from hub.core.degraded import STORAGE_ERRORS
from hub.core.views import member_name
from hub.store.schedules import ScheduleStore, StoredSchedule, changes

if TYPE_CHECKING:
    from hub.core.runtime import Hub

__all__ = ["CHECK_INTERVAL", "Scheduler"]

log = logging.getLogger("hub.schedules")

CHECK_INTERVAL = 30.0  # seconds: the longest sleep, so a clock step is noticed well within any grace


class Scheduler:
    def __init__(self, hub: Hub, *, store: ScheduleStore | None = None, check_interval: float = CHECK_INTERVAL) -> None:
        self.hub = hub
        self.store = store if store is not None else ScheduleStore(hub.db)
        self.check_interval = check_interval

    async def run(self) -> None:
        """Run the schedules until cancelled; a failure costs one look, never the daemon."""
        changed = changes(self.hub.db)
        while True:
            changed.clear()  # before the look: a change made during it wakes the next one
            try:
                wait = await self.tick()
            except Exception:
                log.exception(
                    "schedules: the look at the schedules failed; trying again in %.0f s", self.check_interval
                )
                wait = self.check_interval
            try:
                await wait_set(changed, wait)
            except TimeoutError:
                pass

    async def tick(self) -> float:
        """Deal with every due or missed occurrence; returns the seconds until the next look."""
        hub = self.hub
        now = hub.clock()
        soonest = now + self.check_interval
        for schedule in await self.store.all():
            rule = schedule.rule
            if rule is None:
                continue
            since = max(schedule.created_at, schedule.last_run or schedule.created_at)
            decision = decide(rule, now, since, hub.tz)
            if decision.what != "wait" and decision.at is not None:
                await self._mark(schedule, decision.at)
                if decision.what == "run":
                    await self.run_one(schedule)
                else:
                    log.warning("schedule %r: its time passed while the hub was off or the clock jumped", rule.name)
                    await hub.audit(
                        "schedule_missed", actor=label(rule), data=self._data(schedule, hub.iso(decision.at))
                    )
            soonest = min(soonest, next_occurrence(rule, now, hub.tz))
        return max(0.0, soonest - hub.clock())

    async def _mark(self, schedule: StoredSchedule, occurrence: float) -> None:
        try:
            await self.store.mark_run(schedule.id, occurrence)
        except STORAGE_ERRORS as exc:
            # The action matters more than its record: arm anyway (a restart may repeat it).
            log.error("schedule %s: cannot record its run (%s); running it anyway", schedule.id, exc)

    def _data(self, schedule: StoredSchedule, occurrence: str | None = None) -> dict[str, Any]:
        assert schedule.rule is not None
        data: dict[str, Any] = {
            "schedule_id": str(schedule.id),
            "action": schedule.rule.action,
            "set_up_by": schedule.created_by,
        }
        if schedule.rule.mode is not None:
            data["mode"] = schedule.rule.mode
        if occurrence is not None:
            data["due"] = occurrence
        return data

    async def _skip(self, schedule: StoredSchedule, reason: str) -> None:
        assert schedule.rule is not None
        log.info("schedule %r: not run: %s", schedule.rule.name, reason)
        await self.hub.audit(
            "schedule_skipped", actor=label(schedule.rule), data={**self._data(schedule), "reason": reason}
        )

    async def run_one(self, schedule: StoredSchedule) -> None:
        """Do what the schedule says, now."""
        hub = self.hub
        rule = schedule.rule
        assert rule is not None
        by = label(rule)
        state = hub.state
        armed = state.mode != "disarmed" and state.mode not in ("pending", "triggered")
        if rule.action == "remind":
            if state.mode != "disarmed":
                log.info("schedule %r: the alarm is on, no reminder", rule.name)
                return
            params = schedule_params(rule.name, None)
            await hub.audit("schedule_reminder", actor=by, data={**self._data(schedule), **params}, notify=True)
        elif rule.action == "disarm":
            if state.mode in ("pending", "triggered"):
                await self._skip(schedule, "alarm_active")
            elif not armed:
                log.info("schedule %r: already disarmed", rule.name)
            elif state.target != rule.mode:
                await self._skip(schedule, f"armed_{state.target}")
            else:
                # A weakening: allowed because an owner set it up, and the log says which one.
                log.warning("schedule %r (set up by %s) disarms the alarm", rule.name, schedule.created_by)
                await hub.submit(DisarmRequest(by=by))
                await hub.audit("schedule_run", actor=by, data=self._data(schedule))
        else:
            if state.mode != "disarmed":
                await self._skip(schedule, "alarm_active" if not armed else "already_armed")
                return
            assert rule.mode is not None
            step = await hub.submit(ArmRequest(mode=rule.mode, by=by, force=rule.force))
            refused = next((e for e in step.effects if isinstance(e, ArmRefused)), None)
            if refused is None:
                await hub.audit("schedule_run", actor=by, data=self._data(schedule))
            elif refused.reason == "not_ready":
                reasons = [(member_name(hub.state, member), why) for member, why in refused.not_ready]
                params = schedule_params(rule.name, rule.mode, reasons)
                await hub.audit("schedule_not_ready", actor=by, data={**self._data(schedule), **params}, notify=True)
            else:
                await self._skip(schedule, refused.reason)
