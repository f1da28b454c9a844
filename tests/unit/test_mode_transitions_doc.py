"""docs/modes.md shows the engine's MODE_TRANSITIONS, and the engine moves only as that table says.

The moves are observed, not assumed. Two sources of random journals: the stateful machine of
test_engine_stateful.py (its rules and assertions unchanged), run by a subclass, and short
journals aimed at the moves (below). After every step `observe` names the trigger of each
ModeChanged from the input and the effects around it, never from the table, and records
(mode before, trigger, mode after); it records the same when an accepted arm or a disarm
leaves the mode alone, so an entry the engine does not take is caught too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from alarms.engine import ARMED, MODE_TRANSITIONS, Trigger, handle, initial_state
from alarms.model import (
    ARM_TARGETS,
    AlarmSettings,
    AnyEffect,
    AnyEvent,
    ArmRefused,
    ArmRequest,
    ArmTarget,
    Configure,
    DisarmRequest,
    LogEvent,
    Mode,
    ModeChanged,
    Report,
    SensorChanged,
    Siren,
    State,
    Tick,
    ZoneUpsert,
)
from alarms.transitions_doc import extract_block, render_mode_transitions
from tests.unit.test_engine_stateful import EngineMachine

MODES_MD = Path(__file__).resolve().parents[2] / "docs" / "modes.md"
# Spelled out from the targets here, not imported: the check must not trust the engine's own maps.
ARMED_MODE: dict[ArmTarget, str] = {t: f"armed_{t}" for t in ARM_TARGETS}
ARM_TRIGGERS: dict[ArmTarget, str] = {t: f"arm_{t}" for t in ARM_TARGETS}
Table = Mapping[Mode, Mapping[Trigger, str]]  # MODE_TRANSITIONS, or a corrupted copy of it
# The engine's special case: an arm with an exit delay of 0 goes straight to the armed mode.
SKIPPED_WITHOUT_EXIT_DELAY = {f"arming_{t}": f"armed_{t}" for t in ARM_TARGETS}

# A fixed budget: a few seconds here. With four armed modes the table has 57 entries; the floor
# is 90% of them (an instant zone opened during the entry delay is the rare one).
MACHINE_EXAMPLES = 60
JOURNAL_EXAMPLES = 600
MIN_COVERAGE = 0.9


class Move(NamedTuple):
    before: Mode
    trigger: Trigger
    after: Mode
    target: ArmTarget | None  # the armed target when the move started (resolves "armed")
    exit_delay: float  # the settings' exit delay (0 skips arming_*)


def test_docs_block_is_the_rendered_table() -> None:
    block = extract_block(MODES_MD.read_text(encoding="utf-8"))
    assert block == render_mode_transitions(), (
        "docs/modes.md is stale: regenerate it with `python -m alarms.transitions_doc --write docs/modes.md`"
    )


# --------------------------------------------------------------------------- observing the engine


def _segments(effects: list[AnyEffect]) -> list[tuple[ModeChanged, list[AnyEffect]]]:
    """Each ModeChanged with the effects that follow it up to the next one (its entry actions)."""
    found: list[tuple[ModeChanged, list[AnyEffect]]] = []
    for effect in effects:
        if isinstance(effect, ModeChanged):
            found.append((effect, []))
        elif found:
            found[-1][1].append(effect)
    return found


def _deadline_trigger(segment: list[AnyEffect]) -> Trigger:
    """A move made by a deadline, named from the entry actions the engine emits with it."""
    if any(isinstance(e, LogEvent) and e.kind == "arm_failed" for e in segment):
        return "arm_failed"
    if Siren(on=True) in segment:
        return "entry_delay_over"
    if Siren(on=False) in segment:
        return "siren_over"
    if any(isinstance(e, Report) and e.code in ("close", "close_stay") for e in segment):
        return "exit_delay_over"
    return "entry_opened"  # an armed entry zone found open at the exit deadline


def _input_trigger(event: AnyEvent, segment: list[AnyEffect]) -> Trigger:
    """A move made by the input itself."""
    match event:
        case ArmRequest():
            return ARM_TRIGGERS[event.mode]  # type: ignore[return-value]
        case DisarmRequest():
            return "disarm"
        case SensorChanged():
            if any(isinstance(e, LogEvent) and e.kind == "arm_failed" for e in segment):
                return "arm_failed"
            return "alarm" if Siren(on=True) in segment else "entry_opened"
    raise AssertionError(f"the mode moved on {event!r}, which is not a trigger: {segment}")


def observe(before: State, event: AnyEvent, now: float, effects: list[AnyEffect]) -> list[Move]:
    """The (mode, trigger, mode) moves of one step, the ones that change nothing included."""
    # Deadlines fire first, exactly as a Tick at `now` would: that prefix is the time's moves.
    timed = handle(before, Tick(), now)
    assert tuple(effects[: len(timed.effects)]) == timed.effects, "deadlines did not fire first"
    moves: list[Move] = []
    delay = before.settings.exit_delay_for(event.mode) if isinstance(event, ArmRequest) else before.settings.exit_delay
    target = before.target
    for changed, segment in _segments(list(timed.effects)):
        moves.append(Move(changed.old, _deadline_trigger(segment), changed.new, target, delay))
        target = None if changed.new == "disarmed" else target
    own = _segments(effects[len(timed.effects) :])
    for changed, segment in own:
        moves.append(Move(changed.old, _input_trigger(event, segment), changed.new, timed.state.target, delay))
    if not own:
        # An input that is a trigger but left the mode alone: an arm that passed readiness
        # (a not-ready or walk-test refusal is no trigger: see the Trigger Literal) or a disarm.
        refused = any(isinstance(e, ArmRefused) and e.reason in ("not_ready", "walk_test") for e in effects)
        mode = timed.state.mode
        if isinstance(event, ArmRequest) and not refused:
            trigger: Trigger = ARM_TRIGGERS[event.mode]  # type: ignore[assignment]
            moves.append(Move(mode, trigger, mode, timed.state.target, delay))
        elif isinstance(event, DisarmRequest):
            moves.append(Move(mode, "disarm", mode, timed.state.target, delay))
    return moves


OBSERVED: set[Move] = set()


class ObservingMachine(EngineMachine):
    def step(self, event: AnyEvent) -> list[AnyEffect]:
        before = self.state
        effects = super().step(event)
        if not (before.areas or self.state.areas or getattr(event, "areas", None)):
            # One area, the whole house asked: the house's machine is the table's. With several,
            # each area moves by the same table (tests/unit/test_engine_areas.py), but one step
            # may move several.
            OBSERVED.update(observe(before, event, self.now, effects))
        return effects


# The stateful machine wanders through everything (walk tests, exclusions, faults), which
# shows that nothing else moves the mode, but it rarely opens an instant zone during an entry
# delay or the exit delay. These journals stay on what moves the mode: one zone of each
# behaviour, someone walking through a zone (closed, then open), arms, disarms, delays of 0
# or 10 s, and ticks that end a delay or not.
KIT = (
    ZoneUpsert(id="door", name="door", kind="contact", behaviour="entry", modes=ARM_TARGETS),
    ZoneUpsert(id="window", name="window", kind="contact", behaviour="instant", modes=ARM_TARGETS),
    ZoneUpsert(id="hall", name="hall", kind="motion", behaviour="follower", modes=ARM_TARGETS),
    ZoneUpsert(id="room", name="room", kind="motion", behaviour="instant", modes=("away", "vacation")),
    ZoneUpsert(id="kitchen", name="kitchen", kind="smoke", behaviour="24h", home=True),
)
ZONES = st.sampled_from([z.id for z in KIT])
mode_inputs = st.one_of(
    st.builds(SensorChanged, zone=ZONES, active=st.booleans()),
    ZONES.map(lambda zone: (SensorChanged(zone=zone, active=False), SensorChanged(zone=zone, active=True))),
    st.builds(ArmRequest, mode=st.sampled_from(ARM_TARGETS), by=st.just("anna"), force=st.booleans()),
    st.builds(DisarmRequest, by=st.just("anna")),
    st.sampled_from((1.0, 5.0, 11.0, 61.0)),
    st.builds(
        Configure,
        settings=st.builds(
            AlarmSettings,
            exit_delay=st.sampled_from((0, 10)),
            entry_delay=st.sampled_from((0, 10)),
            siren_time=st.sampled_from((0, 60)),
        ),
    ),
)


Input = AnyEvent | float | tuple[SensorChanged, SensorChanged]  # a float: a Tick that much later


def run_journal(inputs: list[Input]) -> set[Move]:
    state = initial_state(AlarmSettings(exit_delay=10, entry_delay=10, siren_time=60))
    now = 1000.0
    moves: set[Move] = set()
    flat = [e for item in inputs for e in (item if isinstance(item, tuple) else (item,))]
    for item in (*KIT, *flat):
        if isinstance(item, float):
            now += item
        event = Tick() if isinstance(item, float) else item
        effects = list(handle(state, event, now).effects)
        moves.update(observe(state, event, now, effects))
        state = handle(state, event, now).state
    return moves


def observe_runs() -> set[Move]:
    """The moves of one run of the stateful machine and one run of the journals above."""
    OBSERVED.clear()
    run_state_machine_as_test(
        ObservingMachine,
        settings=settings(
            max_examples=MACHINE_EXAMPLES,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

    @settings(max_examples=JOURNAL_EXAMPLES, deadline=None, database=None)
    @given(st.lists(mode_inputs, min_size=15, max_size=40))
    def feed(inputs: list[Input]) -> None:
        OBSERVED.update(run_journal(inputs))

    feed()
    return set(OBSERVED)


@pytest.fixture(scope="module")
def observed() -> set[Move]:
    return observe_runs()


# --------------------------------------------------------------------------- checking the table


def expected_after(table: Table, move: Move) -> str | None:
    """Where `table` (and the special cases of alarms/engine.py) says `move` must lead; None: nowhere."""
    target = table.get(move.before, {}).get(move.trigger)
    if target is None:
        return None
    if target == ARMED:
        return ARMED_MODE[move.target] if move.target is not None else None
    if move.trigger in ARM_TRIGGERS.values() and move.exit_delay == 0 and target in SKIPPED_WITHOUT_EXIT_DELAY:
        return SKIPPED_WITHOUT_EXIT_DELAY[target]
    return target


def violations(table: Table, moves: set[Move]) -> list[str]:
    found = []
    for move in sorted(moves):
        expected = expected_after(table, move)
        if move.after == move.before:
            ok = expected is None or expected == move.before
        else:
            ok = expected == move.after
        if not ok:
            found.append(f"{move.before} --{move.trigger}--> {move.after}, the table says {expected}")
    return list(dict.fromkeys(found))  # the same move seen with both targets is one message


def covered(table: Table, moves: set[Move]) -> set[tuple[Mode, Trigger]]:
    """The table's entries that some observed move took."""
    return {(m.before, m.trigger) for m in moves if m.after != m.before and m.trigger in table.get(m.before, {})}


def entries(table: Table) -> set[tuple[Mode, Trigger]]:
    return {(mode, trigger) for mode, row in table.items() for trigger in row}


def test_every_observed_move_is_in_the_table(observed: set[Move]) -> None:
    assert not violations(MODE_TRANSITIONS, observed), violations(MODE_TRANSITIONS, observed)


def test_observations_cover_the_table(observed: set[Move]) -> None:
    missing = entries(MODE_TRANSITIONS) - covered(MODE_TRANSITIONS, observed)
    share = 1 - len(missing) / len(entries(MODE_TRANSITIONS))
    assert share >= MIN_COVERAGE, f"only {share:.0%} of MODE_TRANSITIONS observed; never taken: {sorted(missing)}"


def test_a_corrupted_table_is_caught(observed: set[Move]) -> None:
    """The check can fail: every observed entry pointed elsewhere, and every stay made a move, is reported."""
    for mode, trigger in sorted(covered(MODE_TRANSITIONS, observed)):
        wrong = copy.deepcopy(MODE_TRANSITIONS)
        wrong[mode][trigger] = "disarmed" if wrong[mode][trigger] != "disarmed" else "triggered"
        assert violations(wrong, observed), (mode, trigger)
    stays = {(m.before, m.trigger) for m in observed if m.after == m.before} - entries(MODE_TRANSITIONS)
    assert stays  # e.g. a disarm while disarmed, an arm while pending
    for mode, trigger in sorted(stays):
        wrong = copy.deepcopy(MODE_TRANSITIONS)
        wrong[mode][trigger] = "triggered" if mode != "triggered" else "disarmed"
        assert violations(wrong, observed), (mode, trigger)
