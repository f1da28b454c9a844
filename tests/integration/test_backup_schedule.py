"""The nightly backup (`[backup]`, hub/backup/schedule.py): when it runs (with a clock the test
drives), what rotation deletes and what it never touches, that a backup taken while the hub
writes an alarm storm restores cleanly, and that a failure raises `backup_failed` without
stopping the hub and a later success clears it."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import sqlite3
import subprocess
import zoneinfo
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from hub.backup import schedule as backup_schedule
from hub.backup.restore import restore_backup
from hub.backup.schedule import (
    BackupSchedule,
    backup_name,
    backup_time,
    backups_in,
    hub_slug,
    next_run,
    read_status,
    rotate,
)
from hub.config import BackupConfig, ConfigError, LoadedConfig, Secret, load_config
from hub.store.accounts import Accounts
from hub.store.db import open_sync
from tests.conftest import Api, RunningHub, start_hub

ROME = zoneinfo.ZoneInfo("Europe/Rome")
FAST = 14  # scrypt cost for the encrypted round trip (the daemon uses the real default)
PASSPHRASE = "nightly horse battery staple"


def at(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=ROME).timestamp()


def local(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, ROME)


def make_data_dir(root: Path) -> Path:
    data = root / "data"
    accounts = Accounts(open_sync(data / "casahub.db"))
    accounts.add_user("anna", "anna-password-1", "owner", code="24680")
    accounts.conn.close()
    return data


class Faults:
    """Records raise_fault calls like Hub.raise_fault receives them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, bool]] = []

    async def __call__(self, kind: str, subject: str | None, active: bool = True) -> None:
        self.calls.append((kind, subject, active))


class Stop(Exception):
    pass


class DrivenClock:
    """Wall clock and sleep for BackupSchedule: sleeping advances the clock, no real waiting."""

    def __init__(self, start: float, stop_at: float) -> None:
        self.value = start
        self.stop_at = stop_at
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.value

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.value += seconds
        if self.value >= self.stop_at:
            raise Stop
        await asyncio.sleep(0)


def schedule(
    data: Path,
    directory: Path,
    *,
    clock: DrivenClock | None = None,
    keep: int = 7,
    raise_fault: Callable[[str, str | None, bool], Awaitable[None]] | None = None,
    is_active: Callable[[], bool] | None = None,
    passphrase: str | None = None,
    name: str = "Casa Rossi",
) -> BackupSchedule:
    config = BackupConfig(dir=directory, time="03:30", keep=keep, passphrase=Secret(passphrase) if passphrase else None)
    extra = {"now": clock.now, "sleep": clock.sleep} if clock is not None else {}
    return BackupSchedule(
        config,
        data_dir=data,
        hub_name=name,
        timezone="Europe/Rome",
        config_path=None,
        raise_fault=raise_fault or Faults(),
        is_active=is_active,
        scrypt_log2_n=FAST,
        **extra,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- pure parts


def test_next_run_is_the_next_local_time_of_day() -> None:
    assert local(next_run(at(2026, 11, 25, 12, 0), 3, 30, ROME)) == datetime.datetime(2026, 11, 26, 3, 30, tzinfo=ROME)
    assert local(next_run(at(2026, 11, 25, 3, 29, 59), 3, 30, ROME)).day == 25
    # Exactly at the time: that run is now, the next one is tomorrow.
    assert local(next_run(at(2026, 11, 25, 3, 30), 3, 30, ROME)).day == 26
    assert local(next_run(at(2026, 12, 31, 23, 0), 0, 5, ROME)) == datetime.datetime(2027, 1, 1, 0, 5, tzinfo=ROME)


def test_next_run_across_daylight_saving_changes() -> None:
    # 29 March 2026: 02:00 CET -> 03:00 CEST; 02:30 does not exist and falls an hour later.
    spring = next_run(at(2026, 3, 28, 12, 0), 2, 30, ROME)
    assert local(spring).strftime("%Y-%m-%d %H:%M %Z") == "2026-03-29 03:30 CEST"
    # 25 October 2026: 03:00 CEST -> 02:00 CET; 02:30 happens twice and runs once, the first time.
    first = next_run(at(2026, 10, 24, 12, 0), 2, 30, ROME)
    assert local(first).strftime("%Y-%m-%d %H:%M %Z") == "2026-10-25 02:30 CEST"
    after = next_run(first, 2, 30, ROME)
    assert local(after).strftime("%Y-%m-%d %H:%M %Z") == "2026-10-26 02:30 CET"
    # A normal day is 24 h between runs; the day the clocks go back is 25 h.
    assert after - first == 25 * 3600


def test_names_belong_to_one_hub() -> None:
    when = datetime.datetime(2026, 11, 25, 3, 30, 0, tzinfo=ROME)
    assert hub_slug("Casa Già / Piano 2") == "casa-gia-piano-2"
    assert hub_slug("🔔") == "hub"
    name = backup_name("Casa Già", when)
    assert name == "casahub-casa-gia-20261125-033000.chb"
    assert backup_time(Path(name), "Casa Già", ROME) == when.timestamp()
    assert backup_time(Path(name), "Casa Gialla", ROME) is None
    for other in (name + ".partial", "x" + name, name.replace(".chb", ".tgz"), "casahub-casa-gia-20261399-033000.chb"):
        assert backup_time(Path(other), "Casa Già", ROME) is None, other


def test_rotation_keeps_exactly_the_newest_and_touches_nothing_else(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    ours = [usb / backup_name("Casa Rossi", local(at(2026, 11, day, 3, 30))) for day in range(1, 11)]
    for path in reversed(ours):  # created newest first: order must come from the names, not mtimes
        path.write_bytes(b"backup")
    others = [
        usb / backup_name("Casa Bianchi", local(at(2026, 11, 1, 3, 30))),  # another hub on the same stick
        usb / "casahub-casa-rossi-20261101-033000.chb.partial",
        usb / "casahub-casa-rossi-20261101-033000.tgz",
        usb / "foto vacanze.jpg",
        usb / "casa.backup",  # a manual `casahub backup`
    ]
    for path in others:
        path.write_bytes(b"not ours")
    lookalike_dir = usb / backup_name("Casa Rossi", local(at(2026, 10, 1, 3, 30)))
    lookalike_dir.mkdir()

    deleted = rotate(usb, "Casa Rossi", ROME, keep=3)

    assert sorted(deleted) == sorted(ours[:7])
    assert sorted(p for p in usb.iterdir()) == sorted([*ours[7:], *others, lookalike_dir])
    assert [p for _, p in backups_in(usb, "Casa Rossi", ROME)] == ours[7:]
    assert rotate(usb, "Casa Rossi", ROME, keep=3) == []


# --------------------------------------------------------------------------- the schedule, driven clock


async def test_catch_up_at_start_then_every_night_at_the_time(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "notes.txt").write_text("the household's own file")
    start = at(2026, 11, 25, 12, 0)
    clock = DrivenClock(start, stop_at=at(2026, 11, 29, 12, 0))
    faults = Faults()
    backups = schedule(data, usb, clock=clock, keep=3, raise_fault=faults)

    with pytest.raises(Stop):
        await backups.run()

    names = sorted(p.name for p in usb.iterdir())
    # No backup existed: one a minute after start (the catch-up), then 03:30 each night; keep = 3.
    assert names == [
        "casahub-casa-rossi-20261127-033000.chb",
        "casahub-casa-rossi-20261128-033000.chb",
        "casahub-casa-rossi-20261129-033000.chb",
        "notes.txt",
    ]
    assert clock.sleeps[0] == backup_schedule.START_DELAY
    assert max(clock.sleeps) <= backup_schedule.CHECK_INTERVAL  # never one long sleep: the Pi's clock may step
    assert faults.calls == []  # every backup succeeded: nothing to raise (nor to clear)
    status = read_status(data)
    assert status is not None and status.ok is True
    assert status.last_success == at(2026, 11, 29, 3, 30)
    assert status.file is not None and status.file.endswith("casahub-casa-rossi-20261129-033000.chb")
    assert status.bytes == (usb / "casahub-casa-rossi-20261129-033000.chb").stat().st_size


@pytest.mark.parametrize(("age_hours", "caught_up"), [(25, True), (2, False)])
async def test_missed_run_is_caught_up_at_start_only_when_the_newest_is_older_than_a_day(
    tmp_path: Path, age_hours: int, caught_up: bool
) -> None:
    data = make_data_dir(tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir()
    start = at(2026, 11, 25, 9, 0)  # the hub was off at 03:30
    previous = usb / backup_name("Casa Rossi", local(start - age_hours * 3600))
    previous.write_bytes(b"an older backup")
    clock = DrivenClock(start, stop_at=at(2026, 11, 26, 3, 0))  # stop before the next 03:30

    with pytest.raises(Stop):
        await schedule(data, usb, clock=clock).run()

    made = sorted(p.name for p in usb.iterdir() if p != previous)
    assert made == (["casahub-casa-rossi-20261125-090100.chb"] if caught_up else [])


async def test_a_clock_step_past_the_time_runs_once_not_for_every_missed_day(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir()
    clock = DrivenClock(at(2026, 11, 25, 3, 0), stop_at=at(2026, 12, 1, 0, 0))
    (usb / backup_name("Casa Rossi", local(at(2026, 11, 24, 23, 0)))).write_bytes(b"recent")
    backups = schedule(data, usb, clock=clock)
    original_sleep = clock.sleep

    async def sleep_with_ntp_step(seconds: float) -> None:
        await original_sleep(seconds)
        if clock.value < at(2026, 11, 28, 0, 0) and len(clock.sleeps) == 3:
            clock.value = at(2026, 11, 28, 12, 0)  # NTP steps the clock three days forward

    backups.sleep = sleep_with_ntp_step
    with pytest.raises(Stop):
        await backups.run()
    made = sorted(p.name for p in usb.iterdir())
    # One backup at the step (the newest was then days old), then 03:30 on the following nights.
    assert made == [
        "casahub-casa-rossi-20261124-230000.chb",
        "casahub-casa-rossi-20261128-120000.chb",
        "casahub-casa-rossi-20261129-033000.chb",
        "casahub-casa-rossi-20261130-033000.chb",
    ]


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if result.returncode != 0:
        why = f"cannot mount a tmpfs to play the USB stick (needs root): {result.stderr.decode().strip()}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why)  # CI runs as root: a full or read-only stick must be tested there
        pytest.skip(why)


async def test_a_full_or_read_only_stick_raises_the_anomaly_with_the_reason(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path)
    usb = tmp_path / "usb"
    mount_tmpfs(usb, "16k")  # smaller than the database: the stick is full
    try:
        faults = Faults()
        backups = schedule(data, usb, raise_fault=faults)
        assert await backups.run_once() is False
        status = read_status(data)
        assert status is not None and status.error is not None and "full" in status.error
        assert list(usb.iterdir()) == []  # nothing half-written left behind
        run("mount", "-o", "remount,ro", str(usb))
        assert await backups.run_once() is False
        status = read_status(data)
        assert status is not None and status.error is not None and "read-only" in status.error
        assert faults.calls == [("backup_failed", "backup", True)]  # raised once, not per failure
        run("mount", "-o", "remount,rw,size=4m", str(usb))
        assert await backups.run_once() is True
        assert faults.calls[-1] == ("backup_failed", "backup", False)
    finally:
        run("umount", str(usb))


# --------------------------------------------------------------------------- on a running hub


async def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def backup_faults(running: RunningHub) -> list[object]:
    return [a for a in running.hub.state.anomalies.values() if a.kind == "backup_failed"]


async def test_backup_during_an_alarm_storm_restores_and_passes_integrity_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    data = tmp_path / "data"
    usb = tmp_path / "usb"
    usb.mkdir()
    running = await start_hub(data)
    stop, warmed_up = asyncio.Event(), asyncio.Event()
    results: list[bool] = []
    try:
        backups = BackupSchedule(
            BackupConfig(dir=usb, keep=10, passphrase=Secret(PASSPHRASE)),
            data_dir=data,
            hub_name="casahub",
            timezone="Europe/Rome",
            config_path=None,
            raise_fault=running.hub.raise_fault,
            scrypt_log2_n=FAST,
        )
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            zones = [await api.zone_id(kind) for kind in ("water", "smoke", "contact", "motion")]
            triggers = 0

            async def storm() -> None:
                nonlocal triggers
                active = True
                while not stop.is_set():
                    for zone in zones:
                        await api.trigger(zone, active)
                        triggers += 1
                    if triggers >= 40:
                        warmed_up.set()
                    active = not active

            storm_task = asyncio.create_task(storm())
            await asyncio.wait_for(warmed_up.wait(), 30)
            before = triggers
            for _ in range(3):
                results.append(await backups.run_once())
                await asyncio.sleep(1.05)  # one file a second: names carry the second
            assert triggers > before, "the storm did not run during the backups"
            stop.set()
            await storm_task
            # The hub kept serving alarms throughout.
            assert (await api.get("/api/v1/system"))["incidents"]
    finally:
        stop.set()
        await running.stop()

    assert results == [True, True, True]
    files = [p for _, p in backups_in(usb, "casahub", ROME)]
    assert len(files) == 3
    for i, path in enumerate(files):
        target = tmp_path / f"restored{i}"
        info = restore_backup(path, target, passphrase=PASSPHRASE)
        assert target / "casahub.db" in info.restored
        assert integrity(target / "casahub.db") == "ok"
        conn = sqlite3.connect(target / "casahub.db")
        count = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        conn.close()
        assert count > 0
    # The passphrase is nowhere but in the config: not in the log, not in the recorded status.
    assert PASSPHRASE not in caplog.text
    assert PASSPHRASE not in (data / "backup-status.json").read_text()
    assert any("backup written" in r.getMessage() and "bytes" in r.getMessage() for r in caplog.records)


async def test_failure_raises_backup_failed_the_hub_goes_on_and_a_success_clears_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    usb = tmp_path / "usb"  # not there: the stick is not plugged in
    running = await start_hub(data)
    try:
        backups = BackupSchedule(
            BackupConfig(dir=usb),
            data_dir=data,
            hub_name="casahub",
            timezone="Europe/Rome",
            config_path=None,
            raise_fault=running.hub.raise_fault,
            is_active=lambda: bool(backup_faults(running)),
        )
        assert await backups.run_once() is False
        await wait_for(lambda: len(backup_faults(running)) == 1)
        status = read_status(data)
        assert status is not None and status.ok is False and status.error is not None
        assert "no such directory" in status.error and "mounted" in status.error

        # A second failure (now: a file where the directory should be) does not raise it twice.
        usb.write_text("not a directory")
        assert await backups.run_once() is False
        assert len(backup_faults(running)) == 1

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            listed = (await api.get("/api/v1/anomalies?state=active"))["items"]
            entry = next(a for a in listed if a["kind"] == "backup_failed")
            assert "USB" in json.dumps(entry["manual"])
            # The hub goes on: it still raises alarms.
            await api.trigger(await api.zone_id("water"))
            await wait_for(lambda: any(i.kind == "water" for i in running.hub.state.incidents.values()))
            assert (await api.request("GET", "/api/v1/health"))[0] == 200

            usb.unlink()
            usb.mkdir()
            assert await backups.run_once() is True
            await wait_for(lambda: not backup_faults(running))
            cleared = (await api.get("/api/v1/anomalies?state=all"))["items"]
            assert any(a["kind"] == "backup_failed" and a["state"] == "resolved" for a in cleared)
        status = read_status(data)
        assert status is not None and status.ok is True and status.error is None
        assert len(list(usb.iterdir())) == 1
    finally:
        await running.stop()


async def test_the_daemon_runs_the_schedule_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_schedule, "START_DELAY", 0.0)
    usb = tmp_path / "usb"
    config = tmp_path / "casahub.toml"
    config.write_text(f'[hub]\nname = "Casa Rossi"\n\n[backup]\ndir = "{usb}"\ntime = "03:30"\nkeep = 2\n')
    assert load_config(config).config.backup is not None
    running = await start_hub(tmp_path / "data", config)
    try:
        # The stick is missing at start: the catch-up fails, the anomaly is raised, the hub serves on.
        await wait_for(lambda: len(backup_faults(running)) == 1)
        async with aiohttp.ClientSession() as session:
            async with session.get(running.base + "/metrics") as resp:
                text = await resp.text()
            async with session.get(running.base + "/api/v1/health") as resp:
                assert resp.status == 200
        assert "casahub_backup_last_ok 0" in text
        assert "casahub_backup_last_success_timestamp_seconds 0" in text
        assert 'casahub_anomalies_active{kind="backup_failed"} 1' in text
    finally:
        await running.stop()

    # Restarted with the stick in place: the catch-up succeeds, keeps the config, clears the anomaly.
    usb.mkdir()
    running = await start_hub(tmp_path / "data", config)
    try:
        await wait_for(lambda: not backup_faults(running) and bool(list(usb.iterdir())))
        (made,) = list(usb.iterdir())
        assert made.name.startswith("casahub-casa-rossi-") and made.suffix == ".chb"
        restored = restore_backup(made, tmp_path / "restored")
        assert (tmp_path / "restored" / "casahub.toml").read_bytes() == config.read_bytes()
        assert tmp_path / "restored" / "casahub.db" in restored.restored
    finally:
        await running.stop()


# --------------------------------------------------------------------------- [backup] in the config


def load(tmp_path: Path, text: str) -> LoadedConfig:
    path = tmp_path / "casahub.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_backup_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "usb").mkdir()
    secret = tmp_path / "backup.pass"
    secret.write_text(" two spaces kept  \n")
    secret.chmod(0o600)
    loaded = load(tmp_path, '[backup]\ndir = "usb"\ntime = "2:05"\nkeep = 30\npassphrase_file = "backup.pass"\n')
    backup = loaded.config.backup
    assert backup is not None and backup.passphrase is not None
    assert backup.dir == tmp_path / "usb" and backup.time == "02:05" and backup.keep == 30
    # Read as `casahub restore --passphrase-file` reads it, so that file restores these backups.
    assert backup.passphrase.reveal() == " two spaces kept  "
    assert "two spaces" not in repr(loaded.config)
    assert loaded.warnings == []

    loaded = load(tmp_path, '[backup]\ndir = "usb"\ntime = 04:15:00\n')
    backup = loaded.config.backup
    assert backup is not None
    assert (backup.time, backup.keep, backup.passphrase) == ("04:15", 7, None)
    assert loaded.warnings == []  # not encrypted: the daemon says so in its log at start
    assert load(tmp_path, "").config.backup is None


def test_an_unplugged_backup_dir_is_accepted(tmp_path: Path) -> None:
    # The stick may be mounted after the hub starts: the daemon must start, each backup checks it.
    loaded = load(tmp_path, '[backup]\ndir = "/media/not-plugged-in"\n')
    assert loaded.config.backup is not None and loaded.config.backup.dir == Path("/media/not-plugged-in")
    assert loaded.warnings == []


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('time = "03:30"', "backup.dir", "required key missing in [backup]"),
        ('dir = "usb"\ntime = "25:00"', "backup.time", "expected a time of day"),
        ('dir = "usb"\ntime = 330', "backup.time", "expected a time of day"),
        ('dir = "usb"\nkeep = 0', "backup.keep", "must be at least 1"),
        ('dir = "usb"\nkeep = 366', "backup.keep", "must be at most 365"),
        ('dir = "usb"\nkeep = "7"', "backup.keep", "expected an integer"),
        ('dir = "usb"\npassphrase_file = "missing.pass"', "backup.passphrase_file", "cannot read"),
        ('dir = "usb"\npassphrase_file = "empty.pass"', "backup.passphrase_file", "is empty"),
        ('dir = "usb"\npassphrase = "inline"', "backup.passphrase", "unknown key"),
    ],
)
def test_backup_section_errors_name_the_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    (tmp_path / "usb").mkdir()
    (tmp_path / "empty.pass").write_text("\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"[backup]\n{text}\n")
    (issue,) = caught.value.issues
    assert issue.key == key and reason in issue.reason, issue
