"""Fuzz the alarm engine with events decoded the way the shell decodes them.

Every case is a run of fuzzed JSON documents, each decoded with
`msgspec.json.decode(data, type=AnyEvent)`: what msgspec rejects never reaches the engine (and
is counted); what it accepts is fed to `alarms.engine.handle` on the state the previous events
left, at a fuzzed `now`. Whatever the values (empty and unknown ids, extreme, negative and zero
timings, clock steps of any size, time going backwards), the engine must not raise, and the
state it returns must still work for the shell: `next_deadline` and `readiness` answer, and the
state and the event survive the journal's JSON round trip (a state that cannot be decoded again
would make the hub unrecoverable after a restart).

The documents are built from the msgspec schema of `AnyEvent` itself (msgspec.inspect), so a
new event type or field is fuzzed without touching this file; ids come from small pools so that
events meet the zones, devices and incidents that earlier events created.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alarms.engine import handle, initial_state, next_deadline, readiness
from alarms.model import (
    EVENT_DECODER,
    EVENT_ENCODER,
    STATE_DECODER,
    AnyEvent,
    ArmRequest,
    Behaviour,
    DeviceHealth,
    DisarmRequest,
    SensorChanged,
    State,
    SystemFault,
    Tick,
    WalkTestStart,
    ZoneKind,
    ZoneUpsert,
)
from tests.reliability.fuzz_helpers import fuzz_settings, report

CASES = 1000

# The demo kit's shape: one zone per kind, each on its own device, plus a two-zone device.
_KIT: list[tuple[ZoneKind, Behaviour]] = [
    ("contact", "entry"),
    ("motion", "follower"),
    ("camera", "instant"),
    ("water", "24h"),
    ("smoke", "24h"),
    ("power", "24h"),
    ("panic", "24h"),
]
SEED = [
    ZoneUpsert(id=f"z-{kind}", name=kind, kind=kind, behaviour=behaviour, home=kind == "contact", device=f"d-{kind}")
    for kind, behaviour in _KIT
] + [
    ZoneUpsert(id="z-pair-a", name="pair a", kind="contact", behaviour="instant", device="d-pair"),
    ZoneUpsert(id="z-pair-b", name="pair b", kind="motion", behaviour="follower", device="d-pair"),
]
ZONE_IDS = [z.id for z in SEED] + ["z-new", "", "ghost"]
DEVICE_IDS = [*sorted({z.device or "" for z in SEED}), "d-new", "", "ghost"]
INCIDENT_IDS = [f"inc-{n}" for n in range(1, 12)] + [f"ano-{n}" for n in range(1, 4)] + ["", "inc-0"]

TEXT = st.text(max_size=12) | st.sampled_from(["", " ", "\x00", "é🔔", "{zone}", "x" * 200])
FLOATS = st.one_of(
    st.integers(0, 120),
    st.floats(0, 3600),
    st.sampled_from([0, 0.0, -0.0, 1e-9, 5e-324, -1, -30, -1e6, 1e9, 1e300, -1e300, 1.7976931348623157e308]),
    st.sampled_from([-1.7976931348623157e308, 2**63, -(2**63), 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
)
INTS = st.integers(-3, 10) | st.sampled_from([0, -(2**63), 2**63 - 1, 2**64 - 1, 10**30])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _ids_for(field: str) -> st.SearchStrategy[Any] | None:
    if field in ("zone", "id"):
        return st.sampled_from(ZONE_IDS)
    if field == "device":
        return st.sampled_from(DEVICE_IDS)
    if field == "incident":
        return st.sampled_from(INCIDENT_IDS)
    return None


def value_for(t: mi.Type, field: str) -> st.SearchStrategy[Any]:
    """A JSON value that msgspec accepts for type `t` (most of the time)."""
    if isinstance(t, mi.StrType):
        pool = _ids_for(field)
        return TEXT if pool is None else pool | pool | TEXT
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.FloatType):
        return FLOATS
    if isinstance(t, mi.IntType):
        return INTS
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(list(t.values))
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.UnionType):
        return st.one_of([value_for(member, field) for member in t.types])
    if isinstance(t, mi.StructType):
        return struct_doc(t)
    return JSON


def struct_doc(t: mi.StructType) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.encode_name: value_for(f.type, f.name) for f in t.fields if f.required}
    optional = {f.encode_name: value_for(f.type, f.name) for f in t.fields if not f.required}
    doc = st.fixed_dictionaries(required, optional=optional)
    if t.tag_field is None:
        return doc
    tag = {t.tag_field: t.tag}
    return doc.map(lambda fields: {**tag, **fields})


EVENT_TYPES: list[mi.StructType] = list(mi.type_info(AnyEvent).types)  # type: ignore[attr-defined]
# Arming, sensors and time make the alarms happen: they come three times as often as the rest.
_FREQUENT = {"arm_request", "sensor_changed", "tick"}
EVENT_DOCS = st.sampled_from(
    [struct_doc(t) for t in EVENT_TYPES for _ in range(3 if t.tag in _FREQUENT else 1)]
).flatmap(lambda doc: doc)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """One event as JSON bytes: usually schema-valid; sometimes a field of the wrong type, a
    missing or unknown field, an unknown tag, or any JSON at all (msgspec must reject those)."""
    doc: Any = draw(EVENT_DOCS)
    how = draw(st.sampled_from(["valid"] * 16 + ["wrong_value", "drop", "unknown_field", "bad_tag", "any"]))
    if how == "wrong_value" and len(doc) > 1:
        doc[draw(st.sampled_from(sorted(k for k in doc if k != "type")))] = draw(JSON)
    elif how == "drop" and len(doc) > 1:
        del doc[draw(st.sampled_from(sorted(doc)))]
    elif how == "unknown_field":
        doc[draw(st.text(max_size=8))] = draw(JSON)
    elif how == "bad_tag":
        doc["type"] = draw(TEXT | st.integers() | st.none())
    elif how == "any":
        doc = draw(JSON)
    return json.dumps(doc).encode()


# Time: mostly forward by realistic steps (so that delays run out and deadlines fire), sometimes
# standing still, jumping far, or going backwards (a clock set back before ClockStep is seen).
TIME_STEPS = st.one_of(
    st.sampled_from([0, 0, 0.5, 1, 5, 10, 29.9, 30, 30.1, 60, 180, 600, 601, 1800, 3600, 86400]),
    st.floats(0, 4000),
    st.sampled_from([-1, -60, -3600, 1e9, -1e9, 1e15]),
)


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def _check_step(state: State, event: AnyEvent, now: float, counts: Counter[str]) -> State:
    step = handle(state, event, now)
    new = step.state
    next_deadline(new)
    readiness(new, "home")
    readiness(new, "away")
    assert EVENT_DECODER.decode(EVENT_ENCODER.encode(event)) == event, event
    if _non_finite(msgspec.to_builtins(new)):
        # Only absurd inputs get here (a ClockStep of 1e308 s on top of another): the sum
        # overflows to inf, which the JSON snapshot stores as null. Reported, not failed.
        counts["states with an overflowed (inf) time"] += 1
    else:
        assert STATE_DECODER.decode(EVENT_ENCODER.encode(new)) == new, "the state does not survive its JSON snapshot"
    return new


def _starting_states() -> dict[str, tuple[State, float]]:
    """The seeded kit disarmed, armed (home, away), in an entry delay, and in alarm with open
    incidents and anomalies: the fuzzed events start from each."""
    now = 1_700_000_000.0
    state = initial_state()
    for event in SEED:
        state = handle(state, event, now).state
    starts = {"disarmed": (state, now)}
    starts["walk_test"] = (handle(state, WalkTestStart(by="fuzz", duration=600), now).state, now)
    script: list[tuple[str, AnyEvent, float]] = [
        ("armed_home", ArmRequest(mode="home", by="fuzz"), 0),
        ("armed_home", Tick(), 31),
        ("disarmed again", DisarmRequest(by="fuzz"), 1),
        ("armed_away", ArmRequest(mode="away", by="fuzz"), 1),
        ("armed_away", Tick(), 31),
        ("pending", SensorChanged(zone="z-contact", active=True), 1),
        ("pending", SensorChanged(zone="z-motion", active=True), 1),
        ("triggered", Tick(), 40),
        ("triggered", SensorChanged(zone="z-water", active=True), 1),
        ("triggered", DeviceHealth(device="d-smoke", online=False, battery_low=True), 1),
        ("triggered", SystemFault(kind="centre_unreachable", active=True, subject="centre"), 1),
    ]
    for name, step, dt in script:
        now += dt
        state = handle(state, step, now).state
        starts[name] = (state, now)
    assert starts["triggered"][0].mode == "triggered" and starts["pending"][0].mode == "pending", starts
    return starts


def test_fuzz_engine_handle(record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]) -> None:
    starts = _starting_states()
    counts: Counter[str] = Counter()

    @fuzz_settings(CASES)
    @given(
        start=st.sampled_from(sorted(starts)), run=st.lists(st.tuples(documents(), TIME_STEPS), min_size=1, max_size=25)
    )
    def fuzz(start: str, run: list[tuple[bytes, float]]) -> None:
        counts["cases"] += 1
        state, now = starts[start]
        modes: set[str] = set()
        for data, dt in run:
            now += dt
            try:
                event = msgspec.json.decode(data, type=AnyEvent)
            except (msgspec.ValidationError, msgspec.DecodeError):
                counts["rejected by msgspec"] += 1
                continue
            counts["events handled"] += 1
            counts[type(event).__name__] += 1
            state = _check_step(state, event, now, counts)
            modes.add(state.mode)
        for mode in modes:
            counts[f"reached {mode}"] += 1

    fuzz()
    summary = ("cases", "events handled", "rejected by msgspec")
    kinds = {k: v for k, v in sorted(counts.items()) if k not in summary}
    report(
        "alarms.engine.handle",
        counts["cases"],
        record_property,
        capsys,
        f"{counts['events handled']} decoded events handled, {counts['rejected by msgspec']} documents rejected by "
        f"msgspec; {kinds}",
    )
