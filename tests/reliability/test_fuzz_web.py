"""Fuzz the HTTP API (README, HTTP API): whatever a client sends, the hub answers with JSON,
never a 500, and every error carries an `error` code.

One demo hub serves the whole module (see fuzz_helpers.HubThread); hypothesis drives it from
sync tests. Targets:

- the JSON body of every route that reads one (hub/web/*_api.py, auth.py, push.py), and of the
  POST routes that ignore theirs: schema-aware objects (known fields with right and wrong
  types, unknown fields) and arbitrary JSON values, then serialised with NaN/Infinity, huge
  numbers, deep nesting, invalid UTF-8, duplicate keys, a BOM, truncation, garbage, > 64 KiB;
- the query string of every GET route and the `{id}` in paths: arbitrary (percent-encoded)
  text under the known parameter names and unknown ones.

A 500, or any error the hub logs meanwhile (also from background tasks), fails the test with
the hub's traceback, unless it matches KNOWN_BUGS: each entry is a bug reported for hub code,
and all but the database-lock race have a strict-xfail regression test at the end of this file,
so the fuzzer keeps looking for new bugs while the known ones wait for their fix. When a fix
lands, its regression test XPASSes (and so fails): delete it and its KNOWN_BUGS entry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from alarms.model import ARM_TARGETS, DisarmRequest, OutputUpsert
from tests.conftest import Api
from tests.reliability.fuzz_helpers import Failure, HubThread, KnownBug, fuzz_settings, known_bug, report

BODY_CASES = 1500
DEMO_CODE = "12345"
QUERY_CASES = 600
MAX_BODY = 64 * 1024


# Bugs the fuzzer found are fixed (invalid UTF-8, slug collisions, the demo trigger, the
# "database is locked" race); add one here only while its fix is pending.
KNOWN_BUGS: tuple[KnownBug, ...] = ()


# Not an exception, so not a KnownBug: hub/core/runtime.py pair_device names a device's zones
# "<device id>-<kind>-<n>" and a one-zone device's zone "<device id>"; an address whose slug is
# "<other device id>-<kind>-<n>" (simulated "q" with two zones, then "q water 1") gets a zone id
# that exists, and its ZoneUpsert silently moves that zone to the new device. Tolerated (and
# counted) while this is True; test_pairing_never_takes_over_a_zone is its regression test.
ZONE_TAKEOVER_IS_KNOWN = False


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubThread]:
    running = HubThread(tmp_path_factory.mktemp("fuzz-web") / "data")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def disarmed_after(hub: HubThread) -> Iterator[None]:
    """A fuzz run may end armed (it arms with the demo code): the next test starts disarmed."""
    yield
    hub.call(hub.running.hub.submit(DisarmRequest(by="test")))
    hub.take_failures()


# --------------------------------------------------------------------------- value strategies

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats()
    | st.text(max_size=30)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
TEXT = st.text(max_size=40) | st.sampled_from(["", " ", "\x00", "demo", "12345", "a" * 300, "é🔔", "{zone}"])
BOOL = st.booleans()


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def mostly(good: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` three times in four (st.one_of would merge the repeated branches)."""
    return st.integers(0, 3).flatmap(lambda pick: other if pick == 0 else good)


# Names and rooms are at most 64 characters, reasons and labels 200 (hub/bounds.py): around the bounds.
BOUNDARY = st.sampled_from(["a" * 63, "a" * 64, "a" * 65, "é" * 64, "🔔" * 65, "a" * 199, "a" * 200, "a" * 201])
NAME = mostly(st.sampled_from(["Porta", "Cucina", "x", "é🔔 zone", "a" * 300]), TEXT | BOUNDARY)
ROOM = mostly(st.sampled_from(["Cucina", "", "Piano terra"]), TEXT | BOUNDARY)
ZONE_KIND = st.sampled_from(["water", "smoke", "motion", "contact", "power", "panic", "camera"])
BEHAVIOUR = st.sampled_from(["24h", "instant", "entry", "follower"])
# A temporary code's window (hub/store/code_window.py): right and wrong parts, or any JSON.
WINDOW = optional(
    mostly(
        st.fixed_dictionaries(
            {},
            optional={
                "valid_from": optional(mostly(st.sampled_from(["2026-12-07", "2026-12-07T09:00", "0001-01-01"]), TEXT)),
                "valid_until": optional(
                    mostly(st.sampled_from(["2026-12-13", "9999-12-31", "2026-12-07T09:00:00+01:00"]), TEXT)
                ),
                "weekdays": optional(mostly(st.lists(st.sampled_from(["mon", "tue", "sun", "xyz"]), max_size=8), JSON)),
                "hours": optional(mostly(st.sampled_from(["09:00-12:00", "22:00-06:00", "0-24", "9-9", "25-1"]), TEXT)),
                "areas": JSON,
            },
        ),
        JSON,
    )
)
INCIDENT_KIND = mostly(st.sampled_from(["fire", "water", "intrusion", "power", "panic", "tamper", "duress"]), TEXT)
# A real P-256 point and a 16-byte auth secret, as browsers send them.
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
B64URL = st.sampled_from(
    [
        P256DH,
        AUTH,
        "",
        "AAAA",
        "BA",
        "====",
        "not base64!",
        "B" + "A" * 86,
    ]
) | st.text(alphabet="ABCDEFabcdef0123456789-_=", max_size=90)
ENDPOINT = (
    st.text(max_size=20).map(lambda t: "https://push.example.org/send/" + quote(t, safe=""))
    | st.sampled_from(
        [
            "https://push.example.org/send/abc",
            "https://user:pw@push.example.org/x",
            "http://push.example.org/x",
            "https://",
            "https://[::1/x",
            "https://exa mple.org/",
            "https://" + "a" * 3000,
            "javascript:alert(1)",
        ]
    )
    | st.text(max_size=60)
)
# Addresses for the simulated driver, chosen so that their slugs collide ("x y" / "x-y") or
# match a kit device ("SIM water 1" -> simulated-sim-water-1).
SIM_ADDRESS = st.sampled_from(
    ["sim-water-1", "SIM water 1", "sim water 1", "spare-1", "x", "X", "x y", "x-y", "q", "q water 1", "q water 2"]
)

# Per route: the fields of its body schema and values of the right type. `objects` sends
# them as they are, or drops some, swaps in any JSON value and adds unknown fields.
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "login": {"username": TEXT, "password": TEXT},
    # The demo's code most of the time, so that arming, alarms and disarming happen (three wrong
    # codes in a row lock the owner out for 90 s: 429s, still checked).
    "arm": {
        "mode": mostly(st.sampled_from(["home", "away", "night", "vacation"]), TEXT),
        "code": mostly(st.just(DEMO_CODE), TEXT),
        "force": BOOL,
    },
    "disarm": {"code": mostly(st.just(DEMO_CODE), TEXT)},
    # an area's own arm and disarm (issue 17): the demo's one area, "casa"
    "area_arm": {
        "mode": mostly(st.sampled_from(["home", "away", "night", "vacation"]), TEXT),
        "code": mostly(st.just(DEMO_CODE), TEXT),
        "force": BOOL,
    },
    "area_disarm": {"code": mostly(st.just(DEMO_CODE), TEXT)},
    "zone_patch": {
        "name": NAME,
        "room": ROOM,
        "behaviour": mostly(BEHAVIOUR, TEXT),
        "home": BOOL,
        "bypassed": BOOL,
        "modes": optional(st.lists(mostly(st.sampled_from(["home", "away", "night", "vacation"]), TEXT), max_size=5)),
        "watch_days": mostly(st.integers(-1, 400), TEXT),
        "areas": optional(st.lists(mostly(st.sampled_from(["casa", "garage"]), TEXT), max_size=3)),
    },
    "device_add": {
        "name": NAME,
        "room": ROOM,
        "new_room": mostly(BOOL, TEXT),
        "driver": mostly(st.just("simulated"), optional(st.sampled_from(["bthome", ""]) | TEXT)),
        "address": mostly(SIM_ADDRESS, optional(TEXT)),
        "candidate": mostly(st.none(), st.sampled_from(["simulated:spare-1", "simulated:sim-water-1"]) | TEXT),
        "bindkey": optional(TEXT),
        "model": optional(TEXT | BOUNDARY),
        "zones": mostly(
            st.lists(
                st.fixed_dictionaries(
                    {"kind": mostly(ZONE_KIND, TEXT)},
                    optional={
                        "name": optional(TEXT | BOUNDARY),
                        "behaviour": optional(BEHAVIOUR),
                        "home": optional(BOOL),
                        "modes": optional(st.lists(mostly(st.sampled_from(ARM_TARGETS), TEXT), max_size=5)),
                        "chime": optional(BOOL),
                    },
                ),
                min_size=1,
                max_size=3,
            ),
            optional(st.just([])),
        ),
    },
    "device_patch": {"name": NAME, "room": ROOM},
    "zone_isolate": {
        "code": mostly(st.just(DEMO_CODE), TEXT),
        "reason": mostly(st.sampled_from(["Lavori in cucina", "x"]), TEXT | BOUNDARY),
        "hours": mostly(st.sampled_from([1, 2.5, 24]), st.floats() | st.integers()),
    },
    "zone_restore": {"code": mostly(st.just(DEMO_CODE), TEXT)},
    "token_create": {
        "role": mostly(st.just("installer"), TEXT),
        "ttl": optional(mostly(st.sampled_from([3600, 8 * 3600, 7 * 86400]), st.integers() | st.floats())),
    },
    "scan": {"seconds": st.floats() | st.integers(-5, 700), "driver": optional(TEXT)},
    "trigger": {"active": BOOL},
    "ack": {},
    "resolve": {},
    "push_subscribe": {
        "endpoint": ENDPOINT,
        "keys": mostly(
            st.fixed_dictionaries({"p256dh": mostly(st.just(P256DH), B64URL), "auth": mostly(st.just(AUTH), B64URL)}),
            JSON,
        ),
        "expirationTime": optional(st.floats() | st.integers()),
    },
    "push_unsubscribe": {"endpoint": ENDPOINT},
    "user_add": {
        "username": mostly(st.sampled_from(["mia", "leo", "x.y", "demo"]), TEXT),
        "password": mostly(st.just("long-enough"), TEXT),
        "role": mostly(st.sampled_from(["owner", "member", "installer"]), TEXT),
        "code": optional(mostly(st.sampled_from(["24680", "1357", "123", "", DEMO_CODE]), TEXT)),
        "duress_code": optional(mostly(st.sampled_from(["97531", "8642", DEMO_CODE, ""]), TEXT)),
        "language": optional(mostly(st.sampled_from(["it", "en"]), TEXT)),
        "window": WINDOW,
        "areas": optional(st.lists(mostly(st.sampled_from(["casa", "garage"]), TEXT), max_size=3)),
    },
    "user_patch": {
        "password": TEXT,
        "role": mostly(st.sampled_from(["owner", "member"]), TEXT),
        "code": TEXT,
        "duress_code": TEXT,
        "language": TEXT,
        "window": WINDOW,
        "areas": optional(st.lists(mostly(st.sampled_from(["casa", "garage"]), TEXT), max_size=3)),
    },
    "session_language": {"language": mostly(st.sampled_from(["it", "en"]), TEXT)},
    "contact_add": {
        "name": NAME,
        "phone": optional(mostly(st.sampled_from(["+393331234567", "+39 333 123 4567", "333", "+1"]), TEXT)),
        "email": optional(mostly(st.sampled_from(["a@example.org", "nope", "a b@c.d"]), TEXT)),
        "language": mostly(st.sampled_from(["it", "en"]), TEXT),
        "push": BOOL,
        "voice": BOOL,
    },
    "contact_patch": {"name": NAME, "phone": optional(TEXT), "email": optional(TEXT), "push": BOOL, "voice": BOOL},
    "zone_delete": {},
    "token_revoke": {},
    "device_delete": {},
    # the alarm timings: short ones mostly, so that the fuzzer's armings and alarms stay quick
    "settings_patch": {
        name: optional(mostly(st.sampled_from([0, 1, 2.5, 5, 60, 900]), st.floats() | st.integers()))
        for name in ("exit_delay", "entry_delay", "siren_time", "abort_window", "confirmation_window", "offline_grace")
    }
    | {"swinger_limit": optional(mostly(st.integers(0, 5), st.integers() | st.floats()))},
    "settings_reset": {},
    # sirens, valves and relays (hub/web/outputs_api.py): `on` lists incidents, some a kind may not take
    "output_patch": {
        "name": NAME,
        "room": ROOM,
        "on": mostly(st.lists(INCIDENT_KIND, max_size=4), JSON),
        "chime": BOOL,
        "squawk": BOOL,
    },
    "output_test": {},
    "output_open": {"code": mostly(st.just(DEMO_CODE), TEXT)},
    # the household's schedules (hub/web/schedules_api.py); a disarm one with the demo's code mostly
    "schedule_add": {
        "name": NAME,
        "action": mostly(st.sampled_from(["arm", "disarm", "remind"]), TEXT),
        "at": mostly(st.sampled_from(["23:30", "07:00", "00:00", "24:00", "9:00", "23:60"]), TEXT),
        "mode": optional(mostly(st.sampled_from(ARM_TARGETS), TEXT)),
        "weekdays": mostly(st.lists(st.sampled_from(["mon", "tue", "sat", "sun", "xyz"]), max_size=8), JSON),
        "force": BOOL,
        "grace_minutes": optional(mostly(st.sampled_from([0, 1, 10, 120, 121]), st.integers() | st.floats())),
        "code": optional(mostly(st.just(DEMO_CODE), TEXT)),
    },
    "schedule_delete": {},
    # a test message through the outbox (hub/web/channels_api.py): the demo's contact mostly
    "channel_test": {"contact": optional(mostly(st.just("Famiglia Demo"), NAME))},
}


# The login takes application/json only (415 otherwise): mostly JSON, so logins still happen.
LOGIN_CONTENT_TYPES = mostly(
    st.sampled_from(["application/json", "application/json; charset=utf-8", "Application/JSON"]),
    st.sampled_from(
        ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "text/json"]
    ),
)
# Never rate limited (hub/web/rate.py): people first.
PEOPLE_FIRST_ROUTES = ("arm", "disarm", "ack", "resolve", "zone_restore")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # "{id}" is filled in per case
    anonymous: bool = False
    real_ids: bool = True  # False: never an existing id (DELETE would empty the demo kit)
    outputs: bool = False  # True: an existing id is an output's (FUZZ_OUTPUTS), not a zone's or an incident's


ROUTES = (
    Route("login", "POST", "/api/v1/session", anonymous=True),
    Route("arm", "POST", "/api/v1/system/arm"),
    Route("disarm", "POST", "/api/v1/system/disarm"),
    Route("area_arm", "POST", "/api/v1/areas/casa/arm"),
    Route("area_disarm", "POST", "/api/v1/areas/casa/disarm"),
    Route("zone_patch", "PATCH", "/api/v1/zones/{id}"),
    Route("zone_isolate", "POST", "/api/v1/zones/{id}/isolate"),
    Route("zone_restore", "POST", "/api/v1/zones/{id}/restore"),
    Route("token_create", "POST", "/api/v1/tokens"),
    Route("token_revoke", "DELETE", "/api/v1/tokens/{id}", real_ids=False),
    Route("device_patch", "PATCH", "/api/v1/devices/{id}"),
    Route("device_add", "POST", "/api/v1/devices"),
    Route("scan", "POST", "/api/v1/pairing/scan"),
    Route("trigger", "POST", "/api/v1/demo/zones/{id}/trigger"),
    Route("ack", "POST", "/api/v1/incidents/{id}/ack"),
    Route("resolve", "POST", "/api/v1/incidents/{id}/resolve"),
    Route("push_subscribe", "POST", "/api/v1/push/subscriptions"),
    Route("push_unsubscribe", "DELETE", "/api/v1/push/subscriptions"),
    Route("zone_delete", "DELETE", "/api/v1/zones/{id}", real_ids=False),
    Route("device_delete", "DELETE", "/api/v1/devices/{id}", real_ids=False),
    Route("user_add", "POST", "/api/v1/users"),
    Route("user_patch", "PATCH", "/api/v1/users/{id}", real_ids=False),  # demo's password must stay
    Route("session_language", "PATCH", "/api/v1/session"),
    Route("contact_add", "POST", "/api/v1/contacts"),
    Route("contact_patch", "PATCH", "/api/v1/contacts/{id}", real_ids=False),
    Route("settings_patch", "PATCH", "/api/v1/system/settings"),
    Route("settings_reset", "DELETE", "/api/v1/system/settings"),
    Route("output_patch", "PATCH", "/api/v1/outputs/{id}", outputs=True),
    Route("output_test", "POST", "/api/v1/outputs/{id}/test", outputs=True),
    Route("output_open", "POST", "/api/v1/outputs/{id}/open", outputs=True),
    Route("schedule_add", "POST", "/api/v1/schedules"),
    Route("schedule_delete", "DELETE", "/api/v1/schedules/{id}", real_ids=False),
    Route("channel_test", "POST", "/api/v1/channels/sms/test"),
)
# The outputs the output routes aim at, made the way pairing makes them (no device: nothing is sent).
FUZZ_OUTPUTS = (
    OutputUpsert(id="fuzz-siren", name="Sirena", kind="siren", squawk=True, chime=True),
    OutputUpsert(id="fuzz-valve", name="Valvola", kind="valve"),
    OutputUpsert(id="fuzz-relay", name="Relè", kind="switch", on=("intrusion",)),
)

INVALID_UTF8 = [b"\xff", b"\xc3", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80", b"\xfe\xff"]
MUTATIONS = [
    "invalid_utf8",
    "invalid_utf8",
    "truncate",
    "deep",
    "bignum",
    "garbage",
    "empty",
    "huge",
    "duplicate",
    "bom",
    "surrogate_escape",
    "trailing",
]


@st.composite
def objects(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]], *, valid: bool) -> Any:
    """A body for a schema. `valid`: every field right-typed. Otherwise each field is left
    out, right-typed or any JSON value, and unknown fields may join."""
    obj: dict[str, Any] = {}
    for name, good in fields.items():
        how = "good" if valid else draw(st.sampled_from(["good", "good", "omit", "any"]))
        if how == "good":
            obj[name] = draw(good)
        elif how == "any":
            obj[name] = draw(JSON)
    if not valid and draw(st.integers(0, 3)) == 0:
        obj.update(draw(st.dictionaries(st.text(max_size=12), JSON, min_size=1, max_size=2)))
    return obj


@st.composite
def raw_bodies(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> bytes:
    """Bytes of a request body: a right-typed object as JSON (a third of the cases, so the
    handlers behind the validation run too), a mixed or arbitrary JSON value, or a mutation."""
    shape = draw(st.sampled_from(["valid", "valid", "mixed", "mixed", "any", "mutated", "mutated"]))
    value = draw(JSON) if shape == "any" else draw(objects(fields, valid=shape == "valid"))
    raw = json.dumps(value, allow_nan=True, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if shape != "mutated":
        return raw
    how = draw(st.sampled_from(MUTATIONS))
    field = draw(st.sampled_from(sorted(fields) or ["x"])).encode()
    if how == "invalid_utf8":
        quotes = [i for i, b in enumerate(raw) if b == ord('"')] or [0]
        at = draw(st.sampled_from(quotes)) + 1
        raw = raw[:at] + draw(st.sampled_from(INVALID_UTF8)) + raw[at:]
    elif how == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif how == "deep":
        depth = draw(st.sampled_from([2, 64, 500, 5000, 20000]))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        inner = opener * depth + b"1" + closer * depth * draw(st.sampled_from([1, 1, 0]))
        raw = b'{"' + field + b'": ' + inner + b"}" if draw(st.booleans()) else inner
    elif how == "bignum":
        number = draw(
            st.sampled_from([b"1" * 400, b"9" * 4400, b"-" + b"9" * 30, b"1e400", b"-1e400", b"1e-400", b"-0", b"0e0"])
        )
        raw = b'{"' + field + b'": ' + number + b"}"
    elif how == "garbage":
        raw = draw(st.binary(max_size=200))
    elif how == "empty":
        raw = draw(st.sampled_from([b"", b" ", b"\n\t ", b"null", b"{}", b"[]", b'""', b"0"]))
    elif how == "huge":
        raw = b'{"' + field + b'": "' + b"x" * (MAX_BODY + draw(st.integers(-20, 50))) + b'"}'
    elif how == "duplicate":
        raw = b'{"' + field + b'": 1, "' + field + b'": "1"}'
    elif how == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif how == "surrogate_escape":
        raw = b'{"' + field + b'": "\\ud800' + draw(st.sampled_from([b"", b"\\u0041", b"\\udc00"])) + b'"}'
    elif how == "trailing":
        raw = raw + draw(st.sampled_from([b",", b"}", b"x", b" 1", b"\x00"]))
    return raw


# An `{id}` in a path: an index into the ids that exist when the case runs (zones, incidents;
# looked up then, since the hub's state moves), or arbitrary text, percent-encoded.
PATH_IDS = st.integers(0, 50) | (
    TEXT | st.sampled_from(["..", ".", "%", "inc-1", "inc-999999999999999999999", "0", "-1", "9" * 20, "1" * 5000, "²"])
).map(lambda text: quote(text, safe="") or "x")


def resolve_id(hub: HubThread, ident: int | str, *, real: bool = True, outputs: bool = False) -> str:
    if isinstance(ident, str):
        return ident
    if not real:
        return f"nope-{ident}"
    state = hub.running.hub.state
    existing = list(state.outputs) if outputs else [*state.zones, *state.incidents]
    return quote(existing[ident % len(existing)], safe="") if existing else "none"


# --------------------------------------------------------------------------- checking one exchange


class Outcomes:
    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.known: Counter[str] = Counter()

    def summary(self) -> str:
        known = f"; known bugs hit: {dict(self.known)}" if self.known else ""
        return f"per target {dict(sorted(self.cases.items()))}; statuses {dict(sorted(self.statuses.items()))}{known}"


async def exchange(
    client: Api, method: str, url: URL, raw: bytes | None, content_type: str = "application/json"
) -> tuple[int, str, bytes]:
    headers = {"X-CSRF-Token": client.csrf} if client.csrf else {}
    if raw is not None:
        headers["Content-Type"] = content_type
    async with client.session.request(method, url, data=raw, headers=headers) as resp:
        return resp.status, resp.content_type, await resp.read()


def _expected_log(failure: Failure) -> bool:
    """The fuzz outputs have no device on purpose: a command to one (a squawk after a fuzzed
    disarm) is given up at its deadline with an ERROR. That is the hub telling the truth about a
    siren it cannot reach, not a bug; it comes a minute after the disarm, on a slow machine
    while another case runs."""
    return failure.message.startswith("hub.outputs: output fuzz-") and failure.message.endswith(
        "the output has no device"
    )


def check(hub: HubThread, outcomes: Outcomes, label: str, status: int, content_type: str, body: bytes) -> None:
    """No 500 and JSON with `error` on errors; nothing logged by the hub but KNOWN_BUGS."""
    outcomes.statuses[status] += 1
    failures = hub.take_failures()
    unknown = [f for f in failures if known_bug(KNOWN_BUGS, f) is None and not _expected_log(f)]
    if unknown or (status >= 500 and not failures):
        details = "\n".join(f.text for f in unknown) or "(nothing logged)"
        raise AssertionError(f"{label}: HTTP {status}: {body[:300]!r}\n{details}")
    for failure in failures:
        bug = known_bug(KNOWN_BUGS, failure)
        outcomes.known[bug.name if bug is not None else "a fuzz output without a device given up"] += 1
    if status >= 500:
        return  # a known bug's 500
    assert content_type == "application/json", (label, status, content_type, body[:300])
    data = json.loads(body)
    assert isinstance(data, dict), (label, status, data)
    if status >= 400:
        assert isinstance(data.get("error"), str) and data["error"], (label, status, data)


# --------------------------------------------------------------------------- the tests


def test_fuzz_request_bodies(
    hub: HubThread, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = Outcomes()
    cases = st.sampled_from(ROUTES).flatmap(
        lambda route: st.tuples(
            st.just(route),
            raw_bodies(FIELDS[route.name]),
            PATH_IDS,
            LOGIN_CONTENT_TYPES if route.name == "login" else st.just("application/json"),
        )
    )

    for output in FUZZ_OUTPUTS:
        if output.id not in hub.running.hub.state.outputs:
            hub.call(hub.running.hub.submit(output))

    @fuzz_settings(BODY_CASES)
    @given(case=cases)
    def run(case: tuple[Route, bytes, int | str, str]) -> None:
        route, raw, ident, sent_type = case
        outcomes.cases[f"{route.method} {route.path}"] += 1
        client = hub.anon if route.anonymous else hub.api
        path_id = resolve_id(hub, ident, real=route.real_ids, outputs=route.outputs)
        url = URL(hub.base + route.path.replace("{id}", path_id), encoded=True)
        owners = {z.id: z.device for z in hub.running.hub.state.zones.values()}
        status, content_type, body = hub.call(exchange(client, route.method, url, raw, sent_type))
        label = f"{route.method} {url.raw_path} {sent_type} {raw[:200]!r}"
        check(hub, outcomes, label, status, content_type, body)
        if route.name == "login" and sent_type.split(";")[0].strip().lower() != "application/json":
            assert status == 415, label  # login CSRF: a form or text/plain body is never a login
        if route.name in PEOPLE_FIRST_ROUTES:
            assert not (status == 429 and b"too_many_changes" in body), f"{label}: rate limited"
        if route.name == "device_add" and status == 201:
            # Pairing adds zones; it never takes one over from another device.
            now = {z.id: z.device for z in hub.running.hub.state.zones.values()}
            taken = {z: (owners[z], now[z]) for z in owners if z in now and now[z] != owners[z]}
            if taken and ZONE_TAKEOVER_IS_KNOWN:
                outcomes.known["pairing takes over another device's zone"] += 1
            else:
                assert not taken, f"{label}: zones moved to another device: {taken}"

    run()
    assert hub.alive(), "the daemon stopped"
    # Nothing over its bound was stored (hub/bounds.py), whatever got through.
    state = hub.running.hub.state
    assert all(len(z.name) <= 64 and len(z.room) <= 64 for z in state.zones.values())
    assert all(len(d.name) <= 64 and len(d.room) <= 64 for d in hub.running.hub.devices.values())
    assert all(len(o.name) <= 64 and len(o.room) <= 64 for o in state.outputs.values())
    # The tests below pair devices: the fuzzer may have left the system armed (and the owner
    # locked out by wrong codes), so it is disarmed as a keypad would, past the web API.
    if state.mode != "disarmed":
        hub.call(hub.running.hub.submit(DisarmRequest(by="fuzz")))
    assert not hub.running.hub.degraded.active, "a request body pushed the hub into degraded (storage error) mode"
    status, _, body = hub.call(exchange(hub.api, "GET", URL(hub.base + "/api/v1/system"), None))
    assert status == 200, body
    report("web request bodies", sum(outcomes.cases.values()), record_property, capsys, outcomes.summary())


QUERY_ROUTES = (
    "/api/v1/health",
    "/api/v1/session",
    "/api/v1/system",
    "/api/v1/system/settings",
    "/api/v1/zones",
    "/api/v1/zones/{id}",
    "/api/v1/outputs",
    "/api/v1/outputs/{id}",
    "/api/v1/devices",
    "/api/v1/events",
    "/api/v1/incidents",
    "/api/v1/incidents/{id}",
    "/api/v1/anomalies",
    "/api/v1/notifications",
    "/api/v1/notifications/{id}",
    "/api/v1/pairing/candidates",
    "/api/v1/pairing/proposal",
    "/api/v1/push/vapid",
    "/api/v1/users",
    "/api/v1/contacts",
    "/api/v1/schedules",
    "/api/v1/channels",
    "/api/v1/phone-setup",  # reads no query: the hub's CA for phones (hub/web/ca_api.py)
    "/api/v1/nothing-here",
)
QUERY_NAMES = ["before", "kind", "zone", "limit", "state", "incident", "id", "type", "since", "until", "lang"]
QUERY_NAMES += ["name", "room"]  # the pairing proposal's
QUERY_VALUES = st.sampled_from(
    [
        "",
        "0",
        "1",
        "-1",
        "500",
        "501",
        "1000",
        "1001",
        "999999999999",
        "9" * 13,
        "1e3",
        "0x10",
        " 1",
        "1 ",
        "١",
        "NaN",
        "active",
        "all",
        "pending",
        "sent",
        "dead",
        "scheduled",
        "cancelled",
        "zone_opened",
        "inc-1",
        "' OR 1=1 --",
        "%",
        "%zz",
        "%ED%A0%80",
        "%FF",
        "%00",
        "a&b",
        "a=b",
        "+",
        "%2B",
        "2020-01-01",
        "2020-02-30",
        "2026-05-01T18:30:00+02:00",
        "2026-05-01T18:30:00%2B02:00",
        "2026-05-01T18:30:00Z",
        "9999-12-31T23:59:59",
        "0001-01-01",
        "it",
        "en",
    ]
)


def quote_all(text: str) -> str:
    return quote(text, safe="")


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """Pairs joined by & (sometimes ;); names and values known or arbitrary, some left raw."""
    pairs = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(QUERY_NAMES) | st.text(max_size=10).map(quote_all))
        # Raw %, &, =, ; and + stay as they are (malformed escapes, injected pairs); what the
        # request line cannot carry (spaces, non-ASCII) is percent-encoded.
        value = draw(QUERY_VALUES.map(lambda t: quote(t, safe="%&=;+'")) | st.text(max_size=40).map(quote_all))
        pairs.append(draw(st.sampled_from([f"{name}={value}", f"{name}={value}", name, f"{name}=", f"={value}"])))
    return draw(st.sampled_from(["&", "&", ";", "&&"])).join(pairs)


def test_fuzz_query_strings(
    hub: HubThread, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = Outcomes()

    @fuzz_settings(QUERY_CASES)
    @given(path=st.sampled_from(QUERY_ROUTES), ident=PATH_IDS, query=query_strings(), anonymous=st.integers(0, 9))
    def run(path: str, ident: int | str, query: str, anonymous: int) -> None:
        outcomes.cases[f"GET {path}"] += 1
        client = hub.anon if anonymous == 0 else hub.api
        url = URL(hub.base + path.replace("{id}", resolve_id(hub, ident)) + "?" + query, encoded=True)
        status, content_type, body = hub.call(exchange(client, "GET", url, None))
        check(hub, outcomes, f"GET {url.raw_path_qs}", status, content_type, body)

    run()
    assert hub.alive(), "the daemon stopped"
    report("web query strings and path ids", sum(outcomes.cases.values()), record_property, capsys, outcomes.summary())


# --------------------------------------------------------------------------- the known bugs


def _status(hub: HubThread, method: str, path: str, raw: bytes | None = None) -> int:
    status, _, _ = hub.call(exchange(hub.api, method, URL(hub.base + path, encoded=True), raw))
    hub.take_failures()
    return status


def test_invalid_utf8_in_a_body_is_a_400(hub: HubThread) -> None:
    assert _status(hub, "POST", "/api/v1/system/disarm", b'{"code": "\xff"}') == 400


def test_odd_notification_ids_are_404(hub: HubThread) -> None:
    """Found by this fuzzer (str.isdigit() took "²"; SQLite cannot bind 2**63), fixed since."""
    for ident in ("%C2%B9", "9" * 20, "1" * 5000):
        assert _status(hub, "GET", f"/api/v1/notifications/{ident}") == 404, ident


def test_pairing_an_address_whose_slug_is_taken_is_not_a_500(hub: HubThread) -> None:
    body = b'{"driver": "simulated", "address": "SIM water 1", "name": "x", "zones": [{"kind": "water"}]}'
    assert _status(hub, "POST", "/api/v1/devices", body) in (201, 409)


def test_demo_trigger_of_a_device_the_simulator_does_not_know_is_not_a_500(hub: HubThread) -> None:
    body = b'{"driver": "simulated", "address": "nowhere-1", "name": "x", "zones": [{"kind": "water"}]}'
    assert _status(hub, "POST", "/api/v1/devices", body) == 201
    zone = next(z for z in hub.running.hub.state.zones.values() if z.device == "simulated-nowhere-1")
    assert _status(hub, "POST", f"/api/v1/demo/zones/{zone.id}/trigger", b'{"active": true}') == 400


def test_pairing_never_takes_over_a_zone(hub: HubThread) -> None:
    first = (
        b'{"driver": "simulated", "address": "takeover", "name": "a", "zones": [{"kind": "water"}, {"kind": "water"}]}'
    )
    second = b'{"driver": "simulated", "address": "takeover water 1", "name": "b", "zones": [{"kind": "smoke"}]}'
    assert _status(hub, "POST", "/api/v1/devices", first) == 201
    _status(hub, "POST", "/api/v1/devices", second)
    zone = hub.running.hub.state.zones.get("simulated-takeover-water-1")
    assert zone is not None and zone.device == "simulated-takeover"
