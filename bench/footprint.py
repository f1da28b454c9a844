"""Footprint: resident memory and start-up time of `casahub serve`, and a Home Assistant reference.

casahub. A data dir is prepared with 200 paired devices (zigbee2mqtt radio sensors: contact,
motion, water, smoke, in turn, paired through `pair_device`) and a bearer token. The config
is a full production one: every channel against the loopback peers of tests.peers.household
(Twilio double, SMTP, push service, pysiaalarm DC-09), the zigbee2mqtt driver against a
Debian mosquitto when one is installed, HTTPS with the self-signed certificate (tls = "auto").
`casahub serve` runs as a subprocess; start-up is timed from spawning it to the first
`GET /api/v1/health` answering 200 (state recovered, drivers feeding), polling every 5 ms.
Then 5 WebSocket dashboards connect and, one second later, RSS is read from /proc/<pid>/status.
Run 0 is the first start (it creates the TLS certificate) and is reported apart; the figures
are the median of the next `runs` starts (warm page cache: a restart, not a cold boot).
alarms, hub and drivers are byte-compiled first, as a production install runs them.

Home Assistant (BENCH_HA=1): homeassistant==2024.3.3 in its own venv (bench/.venv-ha), config
`http` + `api` + a `manual` alarm_control_panel, no frontend, no recorder, no default_config.
Timed from spawning `python -m homeassistant` to the first HTTP answer on /api/ (401: no
token; HA starts its HTTP server once every integration is set up), then RSS 2 s later.
"""

from __future__ import annotations

import asyncio
import compileall
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import BENCH_DIR, ROOT, Report, Row, proc_pss_kb, proc_status, say
from tests.peers import free_port

SECTION = "4. footprint (casahub serve, 200 devices, 5 dashboards)"
RSS_TARGET_MB = 60.0
START_TARGET_S = 0.5
DEVICES = 200
DASHBOARDS = 5
HA_VERSION = "2024.3.3"
HA_VENV = BENCH_DIR / ".venv-ha"
# Installing an old Home Assistant today: josepy 2 broke acme (imported by hass_nabucasa on the
# first HTTP request); HA's own images pin it, plain pip does not.
HA_CONSTRAINTS = ("josepy<2",)
HA_INSTALL_TIMEOUT = 300


async def prepare_data_dir(data_dir: Path) -> str:
    """200 paired devices and an owner token; returns the token."""
    from alarms.model import AlarmSettings
    from alarms.policy import Escalation
    from hub.core.pairing import pair_device
    from hub.core.runtime import Hub
    from hub.store.accounts import Accounts
    from hub.store.db import Database, open_sync

    db = Database(data_dir / "casahub.db")
    await db.open()
    hub = Hub(db, settings=AlarmSettings(), contacts=[], escalation=Escalation(), transports={})
    await hub.recover()
    kinds = ("contact", "motion", "water", "smoke")
    for i in range(DEVICES):
        kind = kinds[i % len(kinds)]
        await pair_device(
            hub,
            driver="zigbee2mqtt",
            address=f"0x00158d0001{i:06x}",
            name=f"{kind} {i}",
            room=f"room {i % 12}",
            model="SNZB-04" if kind == "contact" else "RTCGQ11LM",
            bindkey=None,
            zones=[(kind, None, None, None)],  # type: ignore[list-item]
            by="config",
        )
    await db.close()
    accounts = Accounts(open_sync(data_dir / "casahub.db"))
    _, token = accounts.create_token("owner", label="bench-footprint")
    accounts.conn.close()
    return token


async def _poll(url: str, session: aiohttp.ClientSession, until: set[int], timeout: float) -> tuple[float, int]:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            async with session.get(url) as resp:
                if resp.status in until:
                    return time.perf_counter(), resp.status
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.005)
    raise TimeoutError(f"{url} did not answer {sorted(until)} within {timeout} s")


async def _dashboards(base: str, token: str, session: aiohttp.ClientSession, count: int) -> list[Any]:
    sockets = []
    for _ in range(count):
        ws = await session.ws_connect(
            base.replace("http", "ws", 1) + "/api/v1/ws", headers={"Authorization": f"Bearer {token}"}
        )
        msg = await ws.receive_json(timeout=10)
        assert msg.get("type") == "system", msg
        sockets.append(ws)
    return sockets


def _memory(pid: int) -> dict[str, float]:
    status = proc_status(pid)
    pss = proc_pss_kb(pid)
    return {
        "rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
        "hwm_mb": round(status.get("VmHWM", 0) / 1024, 1),
        "anon_mb": round(status.get("RssAnon", 0) / 1024, 1),
        "file_mb": round(status.get("RssFile", 0) / 1024, 1),
        "pss_mb": round(pss / 1024, 1) if pss is not None else 0.0,
    }


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def byte_compile_sources() -> None:
    """Write the .pyc of the hub's own packages, as a production install has them.

    deploy/install.sh pip-installs the tree and pip byte-compiles what it installs, so a real
    hub starts from bytecode. This bench (and CI) often runs with PYTHONDONTWRITEBYTECODE set,
    which the child inherits: without this step every timed start would compile some 170 modules
    from source and measure the compiler, not the hub. py_compile writes whatever that
    variable says, and an unchanged source keeps its .pyc, so this costs nothing the next time.
    """
    for package in ("alarms", "hub", "drivers"):
        compileall.compile_dir(ROOT / package, quiet=1)


async def measure_casahub(folder: Path, runs: int) -> dict[str, Any]:
    from tests.peers.household import household
    from tests.peers.mosquitto import Mosquitto, find_mosquitto
    from tests.peers.tls import trusted

    folder.mkdir(parents=True, exist_ok=True)
    data_dir = folder / "data"
    token = await prepare_data_dir(data_dir)
    byte_compile_sources()
    async with household(folder / "peers") as peers:
        config = peers.write_config(folder / "casahub.toml", language="en")
        broker = None
        if find_mosquitto() is not None:
            broker = Mosquitto(folder / "mosquitto")
            await broker.start()
            config.write_text(
                config.read_text() + f'\n[[drivers]]\ntype = "zigbee2mqtt"\nhost = "127.0.0.1"\nport = {broker.port}\n'
            )
        try:
            with trusted(peers.cert) as env:
                starts: list[dict[str, Any]] = []
                for run in range(runs + 1):
                    port = free_port()
                    base = f"https://127.0.0.1:{port}"
                    log = (folder / f"serve-{run}.log").open("wb")
                    connector = aiohttp.TCPConnector(ssl=False)
                    async with aiohttp.ClientSession(connector=connector) as session:
                        t0 = time.perf_counter()
                        proc = subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "hub.cli",
                                "serve",
                                "--config",
                                str(config),
                                "--data-dir",
                                str(data_dir),
                                "--listen",
                                f"127.0.0.1:{port}",
                            ],
                            cwd=ROOT,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env={**env, "PYTHONPATH": str(ROOT)},
                        )
                        try:
                            first, status = await _poll(base + "/api/v1/health", session, {200, 503}, 30)
                            ready = (
                                first
                                if status == 200
                                else (await _poll(base + "/api/v1/health", session, {200}, 30))[0]
                            )
                            sockets = await _dashboards(base, token, session, DASHBOARDS)
                            await asyncio.sleep(1.0)
                            memory = _memory(proc.pid)
                            for ws in sockets:
                                await ws.close()
                        finally:
                            _stop(proc)
                            log.close()
                    starts.append(
                        {"first_answer_s": round(first - t0, 3), "health_200_s": round(ready - t0, 3), **memory}
                    )
                    say(f"  footprint: start {run}: {ready - t0:.2f} s to health 200, RSS {memory['rss_mb']} MB")
        finally:
            if broker is not None:
                await broker.stop()
    timed = starts[1:] or starts
    return {
        "devices": DEVICES,
        "dashboards": DASHBOARDS,
        "zigbee2mqtt_driver": broker is not None,
        "tls": "auto (self-signed)",
        "first_start": starts[0],
        "runs": timed,
        "startup_median_s": round(statistics.median(r["health_200_s"] for r in timed), 3),
        "first_answer_median_s": round(statistics.median(r["first_answer_s"] for r in timed), 3),
        "rss_median_mb": round(statistics.median(r["rss_mb"] for r in timed), 1),
        "rss_max_mb": max(r["rss_mb"] for r in timed),
        "pss_median_mb": round(statistics.median(r["pss_mb"] for r in timed), 1),
        "anon_median_mb": round(statistics.median(r["anon_mb"] for r in timed), 1),
    }


# --------------------------------------------------------------------------- Home Assistant


def ensure_ha_venv() -> tuple[Path | None, str]:
    """bench/.venv-ha with homeassistant==HA_VERSION; (python, note) or (None, why not)."""
    python = HA_VENV / "bin" / "python"
    check = [str(python), "-c", f"import homeassistant.const as c; assert c.__version__ == '{HA_VERSION}'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, "reused bench/.venv-ha"
    base = getattr(sys, "_base_executable", sys.executable)
    started = time.monotonic()
    try:
        subprocess.run([base, "-m", "venv", "--clear", str(HA_VENV)], check=True, capture_output=True, timeout=120)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"homeassistant=={HA_VERSION}", *HA_CONSTRAINTS],
            capture_output=True,
            text=True,
            timeout=HA_INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return None, f"pip install homeassistant=={HA_VERSION} did not finish within {HA_INSTALL_TIMEOUT} s"
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not make the venv: {exc}"
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return None, f"pip install homeassistant=={HA_VERSION} failed: {tail}"
    return python, f"installed in {time.monotonic() - started:.0f} s"


HA_CONFIG = """\
homeassistant:
  name: Bench
  latitude: 45.46
  longitude: 9.19
  elevation: 120
  unit_system: metric
  time_zone: Europe/Rome
  country: IT
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
alarm_control_panel:
  - platform: manual
    name: Casa
    code: "12345"
    arming_time: 0
    delay_time: 0
    trigger_time: 180
"""


async def measure_ha(folder: Path, runs: int) -> dict[str, Any]:
    python, note = await asyncio.to_thread(ensure_ha_venv)
    if python is None:
        say(f"  footprint: Home Assistant skipped: {note}")
        return {"skipped": True, "reason": note}
    config_dir = folder / "ha-config"
    shutil.rmtree(config_dir, ignore_errors=True)
    config_dir.mkdir(parents=True)
    starts: list[dict[str, Any]] = []
    for run in range(runs + 1):
        port = free_port()
        (config_dir / "configuration.yaml").write_text(HA_CONFIG.format(port=port))
        log = (folder / f"ha-{run}.log").open("wb")
        async with aiohttp.ClientSession() as session:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [str(python), "-m", "homeassistant", "--config", str(config_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
            try:
                first, status = await _poll(f"http://127.0.0.1:{port}/api/", session, {401, 200}, 180)
                await asyncio.sleep(2.0)
                memory = _memory(proc.pid)
            finally:
                _stop(proc, 30)
                log.close()
        errors = [
            line.strip()[:200]
            for line in (folder / f"ha-{run}.log").read_text(errors="replace").splitlines()
            if " ERROR " in line
        ]
        starts.append({"http_s": round(first - t0, 3), "status": status, **memory, "log_errors": errors[:3]})
        say(f"  footprint: Home Assistant start {run}: {first - t0:.2f} s to HTTP, RSS {memory['rss_mb']} MB")
    timed = starts[1:] or starts
    return {
        "version": HA_VERSION,
        "install": note,
        "config": "http + api + manual alarm_control_panel; no frontend, no recorder, no default_config",
        "first_start": starts[0],
        "runs": timed,
        "startup_median_s": round(statistics.median(r["http_s"] for r in timed), 3),
        "rss_median_mb": round(statistics.median(r["rss_mb"] for r in timed), 1),
        "pss_median_mb": round(statistics.median(r["pss_mb"] for r in timed), 1),
    }


def run(folder: Path, report: Report, *, runs: int = 5, with_ha: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"casahub": asyncio.run(measure_casahub(folder / "casahub", runs))}
    c = result["casahub"]
    report.add(
        Row(
            SECTION,
            f"RSS after start-up + {DASHBOARDS} WebSocket dashboards",
            value=f"{c['rss_median_mb']:.1f} MB (PSS {c['pss_median_mb']:.1f})",
            target=f"<= {RSS_TARGET_MB:g} MB",
            met=c["rss_median_mb"] <= RSS_TARGET_MB,
        ),
        Row(
            SECTION,
            f"start-up to health 200, median of {len(c['runs'])}",
            value=f"{c['startup_median_s']:.3f} s",
            target=f"<= {START_TARGET_S:g} s",
            met=c["startup_median_s"] <= START_TARGET_S,
        ),
        Row(SECTION, "    to the first HTTP answer (503 starting)", value=f"{c['first_answer_median_s']:.3f} s"),
        Row(
            SECTION, "    first start (creates the TLS certificate)", value=f"{c['first_start']['health_200_s']:.3f} s"
        ),
    )
    if with_ha:
        ha = asyncio.run(measure_ha(folder / "ha", runs))
        result["home_assistant"] = ha
        if ha.get("skipped"):
            report.add(Row(SECTION, f"Home Assistant {HA_VERSION}: skipped", value=ha["reason"][:36]))
        else:
            report.add(
                Row(
                    SECTION, f"Home Assistant {HA_VERSION} RSS (http+api+manual)", value=f"{ha['rss_median_mb']:.1f} MB"
                ),
                Row(SECTION, f"Home Assistant {HA_VERSION} start-up to HTTP", value=f"{ha['startup_median_s']:.3f} s"),
            )
    else:
        result["home_assistant"] = {"skipped": True, "reason": "opt-in: run with BENCH_HA=1"}
        report.add(Row(SECTION, f"Home Assistant {HA_VERSION} reference", value="BENCH_HA=1 to run"))
    return result
