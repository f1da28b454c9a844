"""Fuzz `hub.config.load_config` with arbitrary TOML text written to a file.

Whatever the file holds, `load_config` returns a config or raises ConfigError listing the
problems: no other exception escapes (the daemon and `casahub config check` turn ConfigError
into exit status 2 with a message; anything else is a traceback). When it loads, what the
daemon then reads from the config works (`web.host`/`web.port`, the centre's AES key, the
reprs), and no secret written in the file or the environment shows in the config's repr, the
errors or the warnings.

Three kinds of files:
- structured: the documented sections and keys (config/casahub.toml, hub/config/) with
  right-typed values most of the time and any TOML value otherwise (huge integers, nan/inf,
  dates, arrays, inline tables, control characters), unknown sections and keys, secrets
  inline, in `*_file` files (present, empty, missing, a directory, not UTF-8) or in the
  environment;
- the shipped configs (config/casahub.toml, config/examples/*.toml) with random edits;
- arbitrary text and arbitrary bytes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import ENV_VARS, ConfigError, load_config
from tests.reliability.fuzz_helpers import KnownBug, failure_of, fuzz_settings, known_bug, report

CASES = 1000

# Every bug the fuzzer found in hub/config/ is fixed; add one here (tolerated and counted) only
# while its fix is pending, with a strict-xfail regression test below.
KNOWN_BUGS: tuple[KnownBug, ...] = ()
REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "config" / "casahub.toml", *sorted((REPO / "config" / "examples").glob("*.toml"))]
MARK = "S3cr3tMark"  # every secret the fuzzer writes contains this; it must never be shown

# ----------------------------------------------------------------------------- TOML writing

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    return key if _BARE.match(key) else toml_str(key)


def toml_str(text: str) -> str:
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class Raw(str):
    """A value written into the file as it is (a literal TOML cannot otherwise express)."""


def toml_value(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(doc: dict[str, Any]) -> str:
    """Top-level values first, then [tables] and [[arrays of tables]]."""
    lines = []
    tables: list[tuple[str, Any, bool]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append((key, value, False))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((key, value, True))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, value, is_array in tables:
        for table in value if is_array else [value]:
            lines.append(f"\n[[{toml_key(key)}]]" if is_array else f"\n[{toml_key(key)}]")
            lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- values

ANY_SCALAR = st.one_of(
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**64, 10**30]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]),
    st.text(max_size=30).filter(lambda t: MARK not in t),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=1))) | st.none()),
    st.dates(),
    st.times(),
    st.sampled_from([Raw("9" * 400), Raw("1" * 5000), Raw("0x7fffffffffffffffffff"), Raw("1e400"), Raw("-1e400")]),
)
ANY_VALUE = st.recursive(
    ANY_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# Hypothesis also draws string literals it finds in the source (MARK among them): plain text must
# never carry the secret marker, or a non-secret value echoed in an error would look like a leak.
TEXT = st.text(max_size=30).filter(lambda t: MARK not in t) | st.sampled_from(["", " ", "\x00", "é🔔", "a" * 300])
# Names and rooms: at most 64 characters (hub/bounds.py), so around the bound.
NAME = TEXT | st.sampled_from(["a" * 63, "a" * 64, "a" * 65, "é" * 64, "🔔" * 65, "Cucina"])
DURATION = st.integers(0, 900) | st.floats(0, 900) | st.sampled_from([0, 0.5, 45, 46, 119, 901, -1, -0.5, 10**400])
PORT = st.integers(1, 65535) | st.sampled_from([0, -1, 65536, 8443])
HOST = st.sampled_from(["127.0.0.1", "::1", "localhost", "example.org", "bad host", "-x-", "a" * 300, ""]) | TEXT
URL = (
    st.sampled_from(
        ["https://example.org/hook", "http://127.0.0.1:8080", "ftp://x", "https://", "https://u:pw@h/x", ""]
    )
    | TEXT
)
HEX = st.text(alphabet="0123456789abcdefABCDEF", max_size=70) | TEXT
SECRET_TEXT = st.text(max_size=10).map(lambda t: f"{MARK}{t}") | st.sampled_from([MARK + "0" * 22, MARK + "x" * 54])
LANGUAGE = st.sampled_from(["it", "en", "de", "", "IT"])


def choice(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*values, "", "unknown"])


SECRET_KEYS = {
    ("sms", "auth_token"),
    ("email", "password"),
    ("push", "vapid_private_key"),
    ("ntfy", "token"),
    ("centre", "key"),
    ("centre", "secret"),
    ("mqtt_export", "password"),
}

# The files a `*_file` key (or a path) may name, made in the test's tmp dir.
FILE_NAMES = [
    "secret.txt",
    "empty.txt",
    "missing.txt",
    "dir",
    "binary.bin",
    "everyone.txt",
    "hexkey.txt",
    "~nosuchuser/secret.txt",
    "~\x00",
    "secret.txt\x00",
    "~",
    "a" * 300,
]
FILE = st.sampled_from(FILE_NAMES) | st.sampled_from(FILE_NAMES).map(lambda n: f"./sub/../{n}") | TEXT


def section_keys() -> dict[str, dict[str, st.SearchStrategy[Any]]]:
    return {
        "hub": {
            "name": NAME,
            "data_dir": FILE,
            "language": LANGUAGE,
            "timezone": st.sampled_from(["Europe/Rome", "UTC", "Nowhere/City", "../etc", "", "Europe"]) | TEXT,
        },
        "web": {
            "listen": st.sampled_from(["0.0.0.0:8443", "[::1]:8080", "127.0.0.1:0", "host:99999", ":80", "x"]) | TEXT,
            "tls": st.sampled_from(["auto", "off", "on"])
            | st.fixed_dictionaries({}, optional={"cert": FILE, "key": FILE, "extra": TEXT}),
        },
        "alarm": {
            **{k: DURATION for k in ("exit_delay", "entry_delay", "siren_time", "abort_window", "confirmation_window")},
            "swinger_limit": st.integers(-2, 10),
            "offline_grace": DURATION,
            "panic_audible": st.booleans() | ANY_VALUE,
            # [alarm.night] and the other armed modes' own delays (issue 17)
            **{
                mode: st.fixed_dictionaries(
                    {}, optional={"exit_delay": DURATION, "entry_delay": DURATION, "extra": TEXT}
                )
                | ANY_VALUE
                for mode in ("home", "away", "night", "vacation")
            },
        },
        "outputs": {"deadline": DURATION | ANY_VALUE},
        "escalation": {"ack_timeout": DURATION},
        "sms": {
            "provider": choice("twilio"),
            "account_sid": TEXT,
            "auth_token": SECRET_TEXT,
            "auth_token_file": FILE,
            "from": st.sampled_from(["+393331234567", "12345", ""]) | TEXT,
            "base_url": URL,
        },
        "email": {
            "host": HOST,
            "port": PORT,
            "security": choice("starttls", "tls", "none"),
            "username": TEXT,
            "password": SECRET_TEXT,
            "password_file": FILE,
            "from": st.sampled_from(["Casa <casa@example.org>", "casa@example.org", "nobody", ""]) | TEXT,
        },
        "push": {
            "vapid_private_key": SECRET_TEXT,
            "vapid_private_key_file": FILE,
            "subject": st.sampled_from(["mailto:a@example.org", "https://example.org", "x"]) | TEXT,
        },
        "ntfy": {
            "url": URL,
            "topic": st.sampled_from(["casa", "a" * 65, "bad topic"]) | TEXT,
            "token": SECRET_TEXT,
            "token_file": FILE,
        },
        "gsm": {"device": TEXT, "baudrate": st.integers(-1, 10**6)},
        "centre": {
            "protocol": choice("dc09", "webhook"),
            "host": HOST,
            "port": PORT,
            "account": HEX,
            "receiver": HEX,
            "line": HEX,
            "format": choice("cid", "sia"),
            "key": SECRET_TEXT | HEX,
            "key_file": FILE,
            "key_format": choice("hex", "ascii"),
            "supervision_interval": DURATION,
            "backup_host": HOST,
            "backup_port": PORT,
            "url": URL,
            "secret": SECRET_TEXT,
            "secret_file": FILE,
        },
        "mqtt_export": {
            "host": HOST,
            "port": PORT,
            "discovery_prefix": TEXT,
            "username": TEXT,
            "password": SECRET_TEXT,
            "password_file": FILE,
        },
        "led": {"path": FILE, "line": st.integers(-1, 64), "chip": TEXT},
        "backup": {
            "dir": FILE,
            "time": st.sampled_from(["03:30", "3:05", "23:59", "24:00", "03:60", "0330", ""]) | st.times() | TEXT,
            "keep": st.integers(-1, 400),
            "passphrase_file": FILE,
        },
        "storage": {
            "reserve_mb": st.integers(-1, 5000) | ANY_VALUE,
            "max_events": st.sampled_from([9_999, 10_000, 100_000, 100_000_001]) | st.integers() | ANY_VALUE,
        },
        "log": {
            "format": choice("text", "json"),
            "level": choice("debug", "info", "warning", "error", "critical", "INFO"),
            "levels": st.dictionaries(
                st.sampled_from(["hub.outbox", "drivers.bthome", "hub", "a b", ""]) | TEXT,
                choice("debug", "warning") | ANY_VALUE,
                max_size=3,
            )
            | ANY_VALUE,
        },
    }


CONTACT = {
    "name": st.sampled_from(["Anna", "Bruno", "Anna"]) | NAME,
    "phone": st.sampled_from(["+393331234567", "+39 333 123 4567", "333", "+0123"]) | TEXT,
    "email": st.sampled_from(["anna@example.org", "anna", "a@b"]) | TEXT,
    "language": LANGUAGE,
    "push": st.booleans(),
    "voice": st.booleans(),
    "user": TEXT,
}
GPIO_LINE = st.fixed_dictionaries(
    {},
    optional={
        "line": st.integers(-1, 40),
        "name": NAME,
        "kind": choice("water", "smoke", "motion", "contact", "power", "panic", "camera"),
        "behaviour": choice("24h", "instant", "entry", "follower"),
        "home": st.booleans(),
        "room": NAME,
        "contact": choice("no", "nc"),
        "pull": TEXT,
        # an output line instead of an input (sirens, valves, relays)
        "output": choice("siren", "valve", "switch", "bell"),
        "active": choice("high", "low", "HIGH"),
    },
)
DRIVER_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "adapter": TEXT,
    "passive": st.booleans(),
    "host": HOST,
    "port": PORT,
    "base_topic": TEXT,
    "username": TEXT,
    "password": SECRET_TEXT,
    "password_file": FILE,
    "ups": TEXT,
    "debounce": DURATION,
    "path": FILE,
    "chip": TEXT,
    "lines": st.lists(GPIO_LINE, max_size=3) | ANY_VALUE,
    "name": NAME,
    "mjpeg_url": URL,
    "snapshot_url": URL,
    "rtsp_url": TEXT,
    "motion": choice("hub", "camera", "off"),
    "outputs": st.booleans() | ANY_VALUE,  # the simulated kit's siren and valve
    "invert": st.lists(st.sampled_from(["0x00158d0003d4e5f6", "0xZZ", ""]) | TEXT, max_size=3) | ANY_VALUE,
}
DRIVER_TYPES = ["simulated", "bthome", "zigbee2mqtt", "nut", "power_supply", "gpio", "camera", "nope"]


@st.composite
def tables(draw: st.DrawFn, keys: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Some of `keys`, each right-typed or any value, maybe an unknown key."""
    table: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(sorted(keys)), unique=True, max_size=len(keys))):
        table[key] = draw(keys[key]) if draw(st.integers(0, 4)) else draw(ANY_VALUE)
    if draw(st.integers(0, 5)) == 0:
        table[draw(st.text(min_size=1, max_size=10))] = draw(ANY_VALUE)
    return table


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    sections = section_keys()
    doc: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(sorted(sections)), unique=True, max_size=6)):
        doc[name] = draw(tables(sections[name])) if draw(st.integers(0, 9)) else draw(ANY_VALUE)
    if draw(st.booleans()):
        doc["contacts"] = draw(st.lists(tables(CONTACT), min_size=1, max_size=3))
    if draw(st.booleans()):
        drivers = []
        for _ in range(draw(st.integers(1, 3))):
            driver = draw(tables(DRIVER_KEYS))
            if draw(st.integers(0, 9)):
                driver["type"] = draw(st.sampled_from(DRIVER_TYPES))
            elif draw(st.booleans()):
                driver["type"] = draw(ANY_VALUE)
            drivers.append(driver)
        doc["drivers"] = drivers
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(min_size=1, max_size=10))] = draw(ANY_VALUE)
    return doc


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """`text` with 1-6 random edits (delete, insert, replace a span)."""
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["delete", "insert", "replace"]))
        span = draw(st.integers(1, 20))
        piece = draw(st.text(max_size=8) | st.sampled_from(['"', "[", "]", "=", "\n", "[[", "#", "'''", '"""', "\\"]))
        if how == "delete":
            text = text[:at] + text[at + span :]
        elif how == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + piece + text[at + span :]
    return text


@st.composite
def files(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["structured"] * 6 + ["shipped", "shipped", "text", "bytes"]))
    if kind == "structured":
        data = toml_document(draw(documents())).encode("utf-8")
        if draw(st.integers(0, 5)) == 0:
            data = draw(edited(data.decode())).encode("utf-8", "surrogatepass")
    elif kind == "shipped":
        data = draw(edited(draw(st.sampled_from(SHIPPED)).read_text())).encode("utf-8", "surrogatepass")
    elif kind == "text":
        data = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    else:
        data = draw(st.binary(max_size=300))
    return kind, data


ENV = st.dictionaries(
    st.sampled_from(sorted(ENV_VARS.values())),
    SECRET_TEXT | HEX.map(lambda h: MARK + h) | st.just(""),
    max_size=3,
)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "sub").mkdir()
    (tmp_path / "dir").mkdir()
    (tmp_path / "secret.txt").write_text(f"{MARK}-from-file\n")
    (tmp_path / "hexkey.txt").write_text("00112233445566778899aabbccddeeff\n")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00" + MARK.encode())
    (tmp_path / "everyone.txt").write_text(f"{MARK}-readable\n")
    for name in ("secret.txt", "hexkey.txt", "empty.txt", "binary.bin"):
        (tmp_path / name).chmod(0o600)
    (tmp_path / "everyone.txt").chmod(0o644)
    yield tmp_path


def _check_loaded(loaded: Any) -> None:
    config = loaded.config
    config.web.host  # noqa: B018 - the daemon reads these
    config.web.port  # noqa: B018
    if config.centre is not None:
        config.centre.aes_key()
    shown = repr(config) + "".join(str(w) for w in loaded.warnings)
    assert MARK not in shown, shown
    # What loaded holds no name over its bound, and keeps at least 10,000 events.
    assert len(config.hub.name) <= 64 and all(len(c.name) <= 64 for c in config.contacts)
    for driver in config.drivers:
        assert not isinstance(driver.options.get("name"), str) or len(driver.options["name"]) <= 64
        for line in driver.options.get("lines") or [] if driver.type == "gpio" else []:
            assert all(len(line.get(key) or "") <= 64 for key in ("name", "room")), line
    assert 10_000 <= config.storage.max_events


def test_fuzz_load_config(
    workdir: Path, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    counts: Counter[str] = Counter()
    path = workdir / "casahub.toml"

    @fuzz_settings(CASES)
    @given(file=files(), env=ENV)
    def fuzz(file: tuple[str, bytes], env: dict[str, str]) -> None:
        kind, data = file
        counts["cases"] += 1
        counts[kind] += 1
        path.write_bytes(data)
        try:
            loaded = load_config(path, env=env)
        except ConfigError as exc:
            counts["ConfigError"] += 1
            shown = str(exc) + "".join(str(i) for i in exc.issues) + "".join(str(w) for w in exc.warnings)
            assert MARK not in shown, shown
            return
        except Exception as exc:
            bug = known_bug(KNOWN_BUGS, failure_of(exc))
            if bug is None:
                raise
            counts[f"known bug: {bug.name}"] += 1
            return
        counts["loaded"] += 1
        _check_loaded(loaded)

    fuzz()
    detail = {k: v for k, v in sorted(counts.items()) if k != "cases"}
    report("hub.config.load_config", counts["cases"], record_property, capsys, str(detail))


# --------------------------------------------------------------------------- regressions of fixed bugs


def test_integer_over_4300_digits_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text("[alarm]\nswinger_limit = " + "1" * 5000 + "\n")
    with pytest.raises(ConfigError):
        load_config(path, env={})


def test_huge_integer_duration_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text("[alarm]\nexit_delay = 1" + "0" * 400 + "\n")
    with pytest.raises(ConfigError):
        load_config(path, env={})


@pytest.mark.parametrize("value", ["~nosuchuser/data", "~\x00"])
def test_unexpandable_path_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text(f"[hub]\ndata_dir = {toml_str(value)}\n")
    with pytest.raises(ConfigError):
        load_config(path, env={})


def test_secret_file_name_with_nul_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text('[ntfy]\nurl = "https://ntfy.example.org"\ntopic = "casa"\ntoken_file = "a\\u0000b"\n')
    with pytest.raises(ConfigError):
        load_config(path, env={})


def test_overlong_tls_file_name_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "casahub.toml"
    path.write_text('[web]\ntls = {cert = "' + "a" * 300 + '", key = "key.pem"}\n')
    with pytest.raises(ConfigError):
        load_config(path, env={})
