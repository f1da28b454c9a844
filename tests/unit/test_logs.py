"""hub/system/logs.py and `[log]`: JSON lines that parse, per-module levels, tracebacks kept in one
record, the text format unchanged, the CLI's --log-level over the config, secrets masked."""

from __future__ import annotations

import datetime
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import ConfigError, LogConfig, LogFormat, Secret, load_config
from hub.system import logs
from hub.system.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if getattr(h, "_casahub", False)]:
        root.removeHandler(handler)
    logs._set_levels(())
    root.setLevel(level)


def configure(config: LogConfig, level: str | None = None) -> io.StringIO:
    stream = io.StringIO()
    setup_logging(config, level=level, stream=stream)
    return stream


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_parse_with_the_documented_fields() -> None:
    stream = configure(LogConfig(format="json"))
    logging.getLogger("hub.outbox").info("sent %s to %s", "sms", "Anna", extra={"attempt": 2, "channel": "sms"})
    logging.getLogger("casahub").warning('multi\nline "quoted" è')
    first, second = json_lines(stream)
    assert set(first) == {"ts", "level", "logger", "msg", "attempt", "channel"}
    assert first["level"] == "info" and first["logger"] == "hub.outbox"
    assert first["msg"] == "sent sms to Anna"
    assert first["attempt"] == 2 and first["channel"] == "sms"
    ts = datetime.datetime.fromisoformat(first["ts"])
    assert ts.tzinfo is not None  # ISO 8601 with the offset
    assert abs((datetime.datetime.now(datetime.UTC) - ts).total_seconds()) < 60
    assert second == {"ts": second["ts"], "level": "warning", "logger": "casahub", "msg": 'multi\nline "quoted" è'}
    assert len(stream.getvalue().splitlines()) == 2  # one record, one line


def test_exceptions_are_serialised_into_the_record() -> None:
    stream = configure(LogConfig(format="json"))
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("drivers.nut").exception("poll failed")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "error" and record["msg"] == "poll failed"
    assert record["exc"].startswith("Traceback (most recent call last):")
    assert record["exc"].rstrip().endswith("ZeroDivisionError: division by zero")


def test_extra_fields_never_override_the_record_and_odd_values_are_shown() -> None:
    stream = configure(LogConfig(format="json"))
    logging.getLogger("x").info("m", extra={"level": "fake", "path": Path("/a"), "items": (1, {"k": None})})
    (record,) = json_lines(stream)
    assert record["level"] == "info"
    assert record["path"] == "/a" and record["items"] == [1, {"k": None}]


def test_per_module_levels_apply_to_the_logger_and_its_children() -> None:
    config = LogConfig(level="info", levels=(("hub.outbox", "debug"), ("drivers.bthome", "warning")))
    stream = configure(config, level=None)
    logging.getLogger("hub.outbox").debug("outbox debug")
    logging.getLogger("hub.outbox.retry").debug("child debug")
    logging.getLogger("hub.runtime").debug("runtime debug")
    logging.getLogger("hub.runtime").info("runtime info")
    logging.getLogger("drivers.bthome").info("bthome info")
    logging.getLogger("drivers.bthome.scanner").info("scanner info")
    logging.getLogger("drivers.bthome").warning("bthome warning")
    shown = [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()]
    assert shown == ["outbox debug", "child debug", "runtime info", "bthome warning"]


def test_the_cli_level_wins_over_the_config_level_and_a_new_setup_replaces_the_old() -> None:
    stream = configure(LogConfig(level="error", levels=(("hub.outbox", "critical"),)), level="debug")
    logging.getLogger("hub.runtime").debug("debug shown")
    assert "debug shown" in stream.getvalue()

    second = configure(LogConfig(level="warning"))
    logging.getLogger("hub.runtime").info("info hidden")
    logging.getLogger("hub.outbox").error("outbox error shown")  # its old "critical" is gone
    assert second.getvalue().count("\n") == 1 and "outbox error shown" in second.getvalue()
    assert "outbox error shown" not in stream.getvalue()  # one handler of ours, not two
    assert sum(getattr(h, "_casahub", False) for h in logging.getLogger().handlers) == 1


def test_text_format_is_unchanged() -> None:
    stream = configure(LogConfig())
    logging.getLogger("casahub").info("casahub is running on %s", "http://127.0.0.1:8080")
    (line,) = stream.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO casahub: casahub is running on http://127\.0\.0\.1:8080", line
    ), line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_do_not_reach_the_log(log_format: LogFormat) -> None:
    stream = configure(LogConfig(format=log_format))
    token = "tk_S3cr3t-l0g-7e1"
    log = logging.getLogger("hub.test")
    log.info("config: %r", Secret(token))
    log.info("cannot reach https://hub:%s@ntfy.example.org/casa", token)
    log.info("extra", extra={"password": Secret(token), "url": f"mqtt://u:{token}@broker:1883"})
    try:
        raise ConnectionError(f"failed https://anna:{token}@example.org/x")
    except ConnectionError:
        log.exception("send failed")
    text = stream.getvalue()
    assert token not in text
    assert "https://hub:***@ntfy.example.org/casa" in text


def test_unknown_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="loud"):
        setup_logging(LogConfig(), level="loud")
    assert logs.parse_level("WARNING") == logging.WARNING


# --------------------------------------------------------------------------- [log] in the config


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "casahub.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_log_section_is_read(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        '[log]\nformat = "json"\nlevel = "WARNING"\nlevels = { "hub.outbox" = "debug", drivers.bthome = "error" }\n',
    )
    assert loaded.config.log == LogConfig(
        format="json", level="warning", levels=(("hub.outbox", "debug"), ("drivers.bthome", "error"))
    )
    assert load(tmp_path, "").config.log == LogConfig()


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('format = "xml"', "log.format", 'unknown value "xml"'),
        ("level = 10", "log.level", "expected a log level"),
        ('level = "loud"', "log.level", 'unknown log level "loud"'),
        ('levels = "debug"', "log.levels", "expected a table"),
        ('levels = { "hub.outbox" = "verbose" }', "log.levels.hub.outbox", 'unknown log level "verbose"'),
        ('levels = { "hub outbox" = "debug" }', "log.levels.hub outbox", "is not a logger name"),
        ('colour = "always"', "log.colour", "unknown key"),
    ],
)
def test_log_section_errors_name_the_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"[log]\n{text}\n")
    (issue,) = caught.value.issues
    assert issue.key == key and reason in issue.reason
    assert issue.file == str(tmp_path / "casahub.toml")


def test_cli_refuses_an_unknown_log_level_in_one_line() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--log-level", "loud", "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "--log-level" in r.stderr and "loud" in r.stderr


def test_serve_logs_json_lines_as_the_config_says(tmp_path: Path) -> None:
    import queue
    import threading

    from tests.conftest import free_port

    config = tmp_path / "casahub.toml"
    config.write_text('[log]\nformat = "json"\nlevel = "error"\nlevels = { "hub.storage" = "info" }\n')
    command = [sys.executable, "-m", "hub.cli", "--log-level", "info", "serve", "--demo", "--config", str(config)]
    command += ["--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{free_port()}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stderr = process.stderr
    assert stderr is not None

    def read() -> None:
        for line in stderr:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    seen: list[dict[str, Any]] = []
    try:
        # --log-level info wins over level = "error": the discovery note (info) is logged.
        while not any(r["logger"] == "hub.discovery" for r in seen):
            seen.append(json.loads(lines.get(timeout=30)))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in seen)
    assert any(r["logger"] == "hub.storage" and r["level"] == "info" for r in seen)
