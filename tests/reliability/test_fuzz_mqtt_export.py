"""Fuzz the Home Assistant export's command handler (hub/export/mqtt.py): whatever arrives on the
command topic, it never raises, and only the right code arms or disarms.

- `test_fuzz_parse_command`: arbitrary bytes, text and JSON (objects with `action` and `code` of
  every JSON type) into `parse_command`: a Command or CommandError, nothing else.
- `test_fuzz_command_handler`: the same payloads, plus well-formed commands with right, wrong,
  duress and missing codes, into `MqttExport.handle_command` of a running demo hub (no broker
  needed: the handler is what the MQTT listener calls). It returns one of its outcomes, the hub
  logs no error, and an arm or disarm request reaches the journal only when the outcome says so.
  The throttle is reset at random, so that both the locked and the unlocked paths get explored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.throttle import CodeThrottle
from hub.export.mqtt import ACTIONS, Command, CommandError, MqttExport, Outcome, parse_command
from hub.store.accounts import Accounts
from hub.store.db import open_sync
from tests.reliability.fuzz_helpers import HubThread, fuzz_settings, report

PARSE_CASES = 600
HANDLER_CASES = 150
CODE = "12345"  # the demo owner's code
DURESS = "86420"
OUTCOMES = set(get_args(Outcome))

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
actions = st.sampled_from([*ACTIONS, "ARM_NIGHT", "arm_away", "", "DISARM ", "TRIGGER"]) | json_values
codes = st.sampled_from([CODE, DURESS, "00000", "", " 12345", "12345\n", "1" * 65]) | json_values
commands = st.fixed_dictionaries({}, optional={"action": actions, "code": codes, "extra": json_values})


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


payloads = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(_encode),
    commands.map(_encode),
    commands.map(lambda c: _encode(c)[: max(0, len(_encode(c)) // 2)]),  # truncated JSON
    st.sampled_from([*ACTIONS, b"[" * 5000, b'{"a":' * 3000, b"\x00" * 10, b"x" * 2000]),
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubThread]:
    running = HubThread(tmp_path_factory.mktemp("fuzz-mqtt") / "data")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def quiet_export_log() -> Iterator[None]:
    # Malformed commands are logged as warnings: every other case here. Errors still show.
    logger = logging.getLogger("hub.mqtt_export")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def test_fuzz_parse_command(record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]) -> None:
    seen = {"parsed": 0, "refused": 0}

    @fuzz_settings(PARSE_CASES)
    @given(payload=payloads)
    def run(payload: object) -> None:
        try:
            command = parse_command(payload)
        except CommandError:
            seen["refused"] += 1
            return
        seen["parsed"] += 1
        assert isinstance(command, Command)
        assert command.action in ACTIONS and isinstance(command.code, str) and len(command.code) <= 64

    run()
    report("mqtt command parsing", sum(seen.values()), record_property, capsys, f"{seen}")


def test_fuzz_command_handler(
    hub: HubThread, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    running = hub.running
    accounts = Accounts(open_sync(running.data_dir / "casahub.db"))
    hub.call(_add_duress_user(accounts))
    export = MqttExport(running.hub, accounts, host="127.0.0.1", hub_id="fuzz")
    outcomes: dict[str, int] = {}
    # What HA's command_template sends, with the code right, wrong, duress or empty, and an extra
    # key of any value (ignored) so that hypothesis has more than 16 distinct ones to try.
    well_formed = st.builds(
        lambda action, code, extra: _encode({"action": action, "code": code, **extra}),
        st.sampled_from(list(ACTIONS)),
        st.sampled_from([CODE, DURESS, "00000", ""]),
        st.dictionaries(st.sampled_from(["n", "source", "user"]), json_values, max_size=1),
    )

    @fuzz_settings(HANDLER_CASES)
    # Half well-formed commands (one_of would flatten `payloads` and make them 1 case in 11).
    # The house panel (None), the demo's one area's panel, and an area the hub does not have.
    @given(
        payload=st.booleans().flatmap(lambda ok: well_formed if ok else payloads),
        reset=st.booleans(),
        area=st.sampled_from([None, "casa", "cantina"]),
    )
    def run(payload: object, reset: bool, area: str | None) -> None:
        if reset:
            export.throttle = CodeThrottle()  # in memory: a fresh start, whatever the database holds
        before = hub.call(_requests(running.hub))
        outcome = hub.call(export.handle_command(payload, area))
        after = hub.call(_requests(running.hub))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert outcome in OUTCOMES
        assert outcome != "error", hub.take_failures()
        failures = hub.take_failures()
        assert not failures, failures[0].text
        if outcome in ("armed", "disarmed", "not_ready", "refused") and area != "cantina":
            assert after == before + 1, (payload, outcome)
        else:
            assert after == before, (payload, outcome)  # no code, no arm or disarm request

    try:
        run()
    finally:
        accounts.conn.close()
    assert hub.alive(), "the daemon stopped"
    assert not running.hub.degraded.active
    report("mqtt command handler", sum(outcomes.values()), record_property, capsys, f"{outcomes}")


async def _add_duress_user(accounts: Accounts) -> None:
    if accounts.get_user("anna") is None:
        await asyncio.to_thread(accounts.add_user, "anna", "password", "member", code="24680", duress_code=DURESS)


async def _requests(hub: Any) -> int:
    row = await hub.db.fetchone("SELECT COUNT(*) FROM events WHERE kind IN ('arm_request', 'disarm_request')")
    return int(row[0])
