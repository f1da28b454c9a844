"""The commissioning checklist's warning-device line (EN 50131 notification, issue 16): it passes
only with a siren whose test the device confirmed, and the report lists the outputs."""

from __future__ import annotations

import msgspec

from alarms import engine
from alarms.model import OutputUpsert, State
from hub import commissioning
from tests.unit.test_commissioning import NOW, _facts, _line, _state


def _with(state: State, *upserts: OutputUpsert) -> State:
    for upsert in upserts:
        state = engine.handle(state, upsert, NOW - 90).state
    return state


def _without_outputs() -> State:
    return msgspec.structs.replace(_state(walk=("door", "smoke")), outputs={})


def test_no_siren_fails() -> None:
    valve = OutputUpsert(id="valve", name="Valvola", kind="valve")
    for state in (_without_outputs(), _with(_without_outputs(), valve)):
        line = _line(_facts(state=state, output_tests={"valve": NOW}), "warning")
        assert line == {
            "id": "warning",
            "item": "At least one warning device tested (siren)",
            "value": "no siren paired: the alarm is not heard at home",
            "pass": False,
        }


def test_a_siren_never_tested_or_never_confirmed_fails() -> None:
    line = _line(_facts(output_tests={}), "warning", "it")
    assert line["pass"] is False
    assert line["item"] == "Almeno un dispositivo di allarme acustico provato (sirena)"
    assert line["value"] == "nessuna sirena provata con conferma del dispositivo: Sirena"


def test_one_tested_siren_passes_and_names_the_others() -> None:
    state = _with(_state(walk=("door", "smoke")), OutputUpsert(id="outdoor", name="Esterna", kind="siren"))
    line = _line(_facts(state=state), "warning")
    assert line["pass"] is True and line["value"] == "1 of 2 sirens tested; still to test: Esterna"
    line = _line(_facts(state=state, output_tests={"siren": NOW - 10, "outdoor": NOW - 5}), "warning")
    assert line == {**line, "pass": True, "value": "2 of 2 sirens tested"}


def test_the_report_lists_the_outputs_with_their_tests() -> None:
    state = _with(_state(walk=("door", "smoke")), OutputUpsert(id="valve", name="Valvola", kind="valve", room="Cucina"))
    report = commissioning.build_report(_facts(state=state), "en")
    outputs = {o["id"]: o for o in report["outputs"]}
    assert outputs["siren"]["tested_at"] and outputs["siren"]["on"] == ["intrusion", "fire"]
    assert outputs["valve"] == {
        "id": "valve", "name": "Valvola", "kind": "valve", "room": "Cucina", "device": None, "on": ["water"],
        "online": True, "tested_at": None,
    }  # fmt: skip
    markdown = commissioning.to_markdown(report)
    assert "## Sirens, valves and relays" in markdown
    assert "| Valvola | valve | Cucina | water | yes | FAIL: not tested |" in markdown
    assert "<td" in commissioning.to_html(report) and "Sirens, valves and relays" in commissioning.to_html(report)
    empty = commissioning.build_report(_facts(state=_without_outputs()), "en")
    assert empty["outputs"] == [] and "Sirens, valves and relays" not in commissioning.to_markdown(empty)
