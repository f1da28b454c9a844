"""`casahub doctor` beside a running hub: the line explaining the status LED (from the pattern
the daemon records in the data dir) and the nightly backup's last outcome."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.backup import schedule as backup_schedule
from hub.system.led_state import read_led_state
from tests.conftest import Api, start_hub


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def led_line(result: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith("LED:"))


async def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def pattern(data: Path) -> str | None:
    state = read_led_state(data)
    return state.pattern.name if state is not None else None


async def test_doctor_explains_the_led_of_a_running_demo_hub(tmp_path: Path) -> None:
    data = tmp_path / "data"
    english = tmp_path / "en.toml"
    english.write_text('[hub]\nlanguage = "en"\n')
    r = await asyncio.to_thread(doctor, "--data-dir", str(data))
    assert "LED: nessuno stato registrato" in led_line(r)

    import aiohttp

    running = await start_hub(data)
    try:
        await wait_for(lambda: pattern(data) == "ok")
        r = await asyncio.to_thread(doctor, "--data-dir", str(data))
        assert r.returncode == 0, r.stderr
        line = led_line(r)
        assert line.startswith("LED: ok (un lampeggio breve ogni 2 secondi: disinserito, tutto a posto")
        assert "nessun [led] configurato" in line

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            await api.trigger(await api.zone_id("smoke"))
            await wait_for(lambda: pattern(data) == "alarm")
        r = await asyncio.to_thread(doctor, "--data-dir", str(data), "--config", str(english))
        assert led_line(r).startswith("LED: alarm (fast blink: an alarm is in progress, since ")
        assert "no [led] configured" in led_line(r)
    finally:
        await running.stop()

    r = await asyncio.to_thread(doctor, "--data-dir", str(data), "--config", str(english))
    assert led_line(r).startswith("LED: off (casahub is not running on ")


async def test_doctor_shows_a_failed_nightly_backup_and_the_fault_led(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup_schedule, "START_DELAY", 0.0)
    data = tmp_path / "data"
    usb = tmp_path / "usb"
    config = tmp_path / "casahub.toml"
    config.write_text(f'[hub]\nlanguage = "en"\n\n[backup]\ndir = "{usb}"\n')
    running = await start_hub(data, config)
    try:
        await wait_for(lambda: pattern(data) == "fault")
        r = await asyncio.to_thread(doctor, "--data-dir", str(data), "--config", str(config))
        assert r.returncode == 1, r.stdout
        backup = next(line for line in r.stdout.splitlines() if " backup " in line)
        assert backup.startswith("FAIL backup  last backup failed ")
        assert f"no such directory: {usb} (is the USB stick mounted?)" in backup
        assert led_line(r).startswith("LED: fault (two flashes every 2 seconds: an anomaly needs attention")
    finally:
        await running.stop()


def test_a_daemon_that_died_without_a_word_shows_as_off(tmp_path: Path) -> None:
    from hub.system.led import ALARM
    from hub.system.led_state import write_led_state

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_led_state(tmp_path, ALARM, 1_700_000_000.0, pid=int(gone.stdout))  # killed -9 mid-alarm
    state = read_led_state(tmp_path)
    assert state is not None and not state.running and state.pattern.name == "off"
    write_led_state(tmp_path, ALARM, 1_700_000_000.0)  # this process: alive
    state = read_led_state(tmp_path)
    assert state is not None and state.running and state.pattern == ALARM
    (tmp_path / "led-state.json").write_text('{"pattern": "disco", "since": 0, "pid": 1}')
    assert read_led_state(tmp_path) is None


def test_doctor_before_the_first_nightly_backup(tmp_path: Path) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text(f'[hub]\nlanguage = "en"\n\n[backup]\ndir = "{tmp_path / "usb"}"\ntime = "02:15"\n')
    r = doctor("--data-dir", str(tmp_path / "data"), "--config", str(config))
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(line for line in r.stdout.splitlines() if " backup " in line)
    assert line == f"ok   backup  no backup yet: the first at 02:15 in {tmp_path / 'usb'}"
