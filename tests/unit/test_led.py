"""hub.led: the patterns (pure), their descriptions, and rendering against a temporary sysfs tree."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from alarms.model import Anomaly, Incident
from hub.system.led import (
    ALARM,
    ARMED,
    FAULT,
    NO_NETWORK,
    OFF,
    OK,
    PATTERNS,
    STARTING,
    LedDriver,
    Pattern,
    SysfsLed,
    describe,
    open_backend,
    pattern_for,
    run_led,
)


def incident(kind: str = "water", state: str = "active") -> Incident:
    return Incident(id=f"i-{kind}", kind=kind, state=state, opened_at=0.0)  # type: ignore[arg-type]


def anomaly(kind: str = "sensor_offline") -> Anomaly:
    return Anomaly(id=f"a-{kind}", kind=kind, state="active", opened_at=0.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pattern_for


@pytest.mark.parametrize(
    ("mode", "incidents", "anomalies", "network_ok", "expected"),
    [
        ("disarmed", [], [], True, OK),
        ("arming_away", [], [], True, ARMED),
        ("armed_home", [], [], True, ARMED),
        ("armed_away", [], [], True, ARMED),
        ("pending", [], [], True, ARMED),
        ("triggered", [], [], True, ALARM),
        ("disarmed", [incident("water")], [], True, ALARM),  # 24h zones alarm while disarmed
        ("disarmed", [incident("water", "acknowledged")], [], True, OK),
        ("disarmed", [incident("duress")], [], True, OK),  # silent: never on the LED
        ("disarmed", [], [anomaly()], True, FAULT),
        ("armed_away", [], [anomaly("storage_error")], True, FAULT),
        ("armed_away", [], [], False, NO_NETWORK),
        ("disarmed", [], [anomaly()], False, NO_NETWORK),
        ("triggered", [], [anomaly()], False, ALARM),
        ("armed_away", [incident("fire")], [anomaly()], True, ALARM),
    ],
)
def test_pattern_for(
    mode: str, incidents: list[Incident], anomalies: list[Anomaly], network_ok: bool, expected: Pattern
) -> None:
    assert pattern_for(mode, incidents, anomalies, network_ok) == expected


def test_starting_wins_until_ready() -> None:
    assert pattern_for("triggered", [incident()], [anomaly()], False, ready=False) == STARTING


def test_pattern_for_takes_the_hubs_dict_views() -> None:
    incidents = {"i1": incident("fire", "acknowledged")}
    anomalies = {"a1": anomaly()}
    assert pattern_for("disarmed", incidents.values(), anomalies.values()) == FAULT


# --------------------------------------------------------------------------- the patterns themselves


def flashes(pattern: Pattern) -> int:
    """Rising edges in one period."""
    levels = [on for on, _ in pattern.steps]
    return sum(1 for i, on in enumerate(levels) if on and not levels[i - 1]) if len(levels) > 1 else 0


def test_ok_is_a_100_ms_flash_every_2_seconds() -> None:
    assert OK.period == pytest.approx(2.0)
    assert OK.level_at(0.05) and not OK.level_at(0.15) and not OK.level_at(1.9)
    assert OK.level_at(2.05)  # it repeats
    assert flashes(OK) == 1


def test_the_patterns_are_told_apart_by_flashes_and_duty() -> None:
    assert flashes(FAULT) == 2 and FAULT.period == pytest.approx(2.0)
    assert flashes(NO_NETWORK) == 3 and NO_NETWORK.period == pytest.approx(2.0)
    assert ARMED.steps == ((True, 1.0), (False, 1.0))
    assert ALARM.period <= 0.25
    assert STARTING.level_at(0.5) and STARTING.level_at(123.4)
    assert not OFF.level_at(0.5)
    signatures = {(p.steps) for p in PATTERNS.values()}
    assert len(signatures) == len(PATTERNS)


@pytest.mark.parametrize("pattern", list(PATTERNS.values()), ids=list(PATTERNS))
def test_every_pattern_is_described_in_italian_and_english(pattern: Pattern) -> None:
    it, en = describe(pattern, "it"), describe(pattern, "en")
    assert it and en and it != en
    assert describe(pattern, "de") == en


def test_descriptions_are_distinct() -> None:
    for language in ("it", "en"):
        texts = [describe(p, language) for p in PATTERNS.values()]
        assert len(set(texts)) == len(texts)
    assert "2 secondi" in describe(OK, "it")
    assert describe(Pattern("custom", ((True, 1.0),))) == "custom"


# --------------------------------------------------------------------------- sysfs


def make_led(root: Path, name: str = "ACT", trigger: str = "mmc0", max_brightness: int = 255) -> Path:
    led = root / "sys" / "class" / "leds" / name
    led.mkdir(parents=True)
    (led / "trigger").write_text(f"none rc-feedback kbd-capslock [{trigger}] timer oneshot heartbeat\n")
    (led / "brightness").write_text("0\n")
    (led / "max_brightness").write_text(f"{max_brightness}\n")
    return led


def test_sysfs_led_takes_over_and_gives_back_the_led(tmp_path: Path) -> None:
    path = make_led(tmp_path)
    led = SysfsLed(path)
    assert (path / "trigger").read_text() == "none"
    led.set(True)
    assert (path / "brightness").read_text() == "255"
    led.set(False)
    assert (path / "brightness").read_text() == "0"
    led.set(True)
    led.close()
    assert (path / "brightness").read_text() == "0"
    assert (path / "trigger").read_text() == "mmc0"


def test_sysfs_led_with_max_brightness_1_and_no_trigger(tmp_path: Path) -> None:
    path = tmp_path / "led"
    path.mkdir()
    (path / "brightness").write_text("0")
    led = SysfsLed(path)  # no trigger, no max_brightness: plain 0/1
    led.set(True)
    assert (path / "brightness").read_text() == "1"
    led.close()
    assert not (path / "trigger").exists()


def test_a_path_that_is_no_led_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SysfsLed(tmp_path / "nothing")
    with pytest.raises(ValueError):
        open_backend()


def test_a_missing_gpio_chip_is_an_os_error() -> None:
    pytest.importorskip("gpiod")
    with pytest.raises(OSError):
        open_backend(line=17, chip="/dev/gpiochip-does-not-exist")


# --------------------------------------------------------------------------- rendering


@dataclass
class Recorder:
    """An LED backend that records every change with its time."""

    changes: list[tuple[float, bool]]
    closed: bool = False
    fail: bool = False

    def set(self, on: bool) -> None:
        if self.fail:
            raise OSError("EIO")
        if not self.changes or self.changes[-1][1] != on:
            self.changes.append((time.monotonic(), on))

    def close(self) -> None:
        self.closed = True


async def wait_until(condition: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


FAST = Pattern("fast", ((True, 0.02), (False, 0.03)))


async def test_the_driver_renders_the_pattern_steps() -> None:
    backend = Recorder([])
    driver = LedDriver(backend, FAST)
    task = asyncio.create_task(driver.run())
    await wait_until(lambda: len(backend.changes) >= 8)
    await stop(task)
    levels = [on for _, on in backend.changes]
    assert levels[:8] == [True, False] * 4
    assert backend.closed


async def test_show_switches_the_pattern_at_once() -> None:
    backend = Recorder([])
    driver = LedDriver(backend, Pattern("long", ((True, 30.0), (False, 30.0))))
    task = asyncio.create_task(driver.run())
    await wait_until(lambda: [on for _, on in backend.changes] == [True])
    driver.show(OFF)
    await wait_until(lambda: backend.changes[-1][1] is False, timeout=1.0)
    assert driver.pattern == OFF
    await stop(task)


async def test_a_failing_led_never_stops_the_driver(caplog: pytest.LogCaptureFixture) -> None:
    backend = Recorder([], fail=True)
    driver = LedDriver(backend, FAST)
    task = asyncio.create_task(driver.run())
    await asyncio.sleep(0.2)
    assert not task.done()
    backend.fail = False
    await wait_until(lambda: len(backend.changes) >= 2)
    await stop(task)
    assert sum("cannot be set" in r.message for r in caplog.records) == 1


async def test_run_led_follows_its_source_on_sysfs(tmp_path: Path) -> None:
    path = make_led(tmp_path, max_brightness=1)

    @dataclass
    class LedConfig:
        path: Path | None
        line: int | None = None
        chip: str = "/dev/gpiochip0"

    current = STARTING
    task = asyncio.create_task(run_led(LedConfig(path), lambda: current, poll=0.01))
    await wait_until(lambda: (path / "brightness").read_text() == "1")
    assert (path / "trigger").read_text() == "none"
    current = OFF
    await wait_until(lambda: (path / "brightness").read_text() == "0")
    current = ALARM
    seen: set[str] = set()
    deadline = time.monotonic() + 2
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add((path / "brightness").read_text())
        await asyncio.sleep(0.01)
    assert seen == {"0", "1"}  # fast blink
    await stop(task)
    assert (path / "trigger").read_text() == "mmc0"
    assert (path / "brightness").read_text() == "0"


async def test_run_led_without_a_usable_led_returns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    @dataclass
    class LedConfig:
        path: Path | None
        line: int | None = None
        chip: str = "/dev/gpiochip0"

    await asyncio.wait_for(run_led(LedConfig(tmp_path / "no-led"), lambda: OK), 1)
    assert any("status LED disabled" in r.message for r in caplog.records)


async def test_a_failing_source_keeps_the_last_pattern() -> None:
    from hub.system.led import follow

    backend = Recorder([])
    driver = LedDriver(backend, STARTING)
    calls = 0

    def source() -> Pattern:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("state not readable")
        return OFF

    task = asyncio.create_task(follow(driver, source, poll=0.01))
    await wait_until(lambda: calls > 3)
    assert driver.pattern == OFF
    await stop(task)
    assert backend.closed
