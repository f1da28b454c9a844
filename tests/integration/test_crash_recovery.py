"""kill -9 in the middle of an entry delay with undelivered outbox rows; restart; nothing lost."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.conftest import Api, free_port


def start(data_dir: Path, config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "serve",
            "--demo",
            "--config",
            str(config),
            "--data-dir",
            str(data_dir),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def wait_healthy(base: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/api/v1/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("hub did not become healthy")


async def test_kill_9_mid_entry_delay_recovers_everything(tmp_path: Path) -> None:
    config = tmp_path / "casahub.toml"
    # Short escalation so the reminder SMS is overdue (undelivered) while the hub is dead.
    config.write_text(
        "[alarm]\nexit_delay = 1\nentry_delay = 20\n\n[escalation]\nack_timeout = 6\n\n"
        '[[contacts]]\nname = "Anna"\nphone = "+393331234567"\nemail = "anna@example.org"\n'
    )
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(data_dir, config, port)
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(base, session)
            await api.login()
            water = await api.zone_id("water")
            door = await api.zone_id("contact")
            await api.trigger(water)
            status, _ = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
            assert status == 200
            for _ in range(100):
                if (await api.get("/api/v1/system"))["mode"] == "armed_away":
                    break
                await asyncio.sleep(0.05)
            await api.trigger(door)
            before = await api.get("/api/v1/system")
            assert before["mode"] == "pending"
            deadline_before = before["delays"]["entry"]["until"]
            incidents_before = {i["id"] for i in before["incidents"]}
            scheduled = [r for r in (await api.get("/api/v1/notifications"))["items"] if r["state"] == "scheduled"]
            assert scheduled, "the escalation step should be waiting"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    await asyncio.sleep(6)  # the reminder falls due while the hub is down

    db = sqlite3.connect(data_dir / "casahub.db")
    undelivered = db.execute("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'scheduled')").fetchone()[0]
    db.close()
    assert undelivered >= 1

    proc = start(data_dir, config, port)
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(base, session)
            await api.login()
            after = await api.get("/api/v1/system")
            assert after["mode"] == "pending"
            assert after["delays"]["entry"]["until"] == deadline_before
            assert {i["id"] for i in after["incidents"]} == incidents_before
            for _ in range(100):
                rows = (await api.get("/api/v1/notifications"))["items"]
                if all(r["state"] in ("sent", "cancelled") for r in rows):
                    break
                await asyncio.sleep(0.05)
            rows = (await api.get("/api/v1/notifications"))["items"]
            assert all(r["state"] == "sent" for r in rows), [(r["id"], r["state"]) for r in rows]
            assert any(r["template"] == "incident.reminder" for r in rows)
            status, body = await api.post("/api/v1/system/disarm", {"code": "12345"})
            assert status == 200 and body["mode"] == "disarmed"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, proc.stdout.read().decode() if proc.stdout else ""
