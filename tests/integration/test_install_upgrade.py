"""deploy/install.sh upgrades and rolls back: real venvs installed from a lock file with hashes,
the real daemon started by a stand-in `systemctl`, an upgrade whose migration fails on purpose
rolled back by itself (old venv, backup restored), and `--rollback` by hand.

No network: the wheels come from this test's own wheelhouse, repacked from what the running
venv has installed (the versions requirements/runtime.txt pins, which `make test` installs),
and a lock of those wheels' hashes; pip runs with --no-index and no machine-wide pip config.
The same steps on an arm64 Raspberry Pi OS root are in deploy/README.md.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store.db import MIGRATIONS
from tests.peers import free_port

pytestmark = pytest.mark.slow  # three venvs and four daemon starts: about two minutes

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
SCHEMA = len(MIGRATIONS)
# Only what install.sh copies, and itself.
TREE = ("pyproject.toml", "README.md", "alarms", "drivers", "hub", "config", "deploy", "requirements")

# Stands in for systemd: runs the installed unit's ExecStart in the background, stops it with SIGTERM.
FAKE_SYSTEMCTL = r"""#!/usr/bin/env bash
set -u
unit="$CASAHUB_TEST_UNIT"
state="$CASAHUB_TEST_STATE"
pidfile=$state/casahub.pid
echo "$*" >>"$state/calls"
running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
    running && return 0
    local cmd
    cmd=$(sed -n 's/^ExecStart=//p' "$unit")
    # shellcheck disable=SC2086  # the unit's command line, split as systemd splits it
    $cmd >>"$state/daemon.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
}
stop() {
    if running; then
        local pid i
        pid=$(cat "$pidfile")
        kill -TERM "$pid"
        for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}
case $1 in
    daemon-reload|enable|disable|try-restart) ;;
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    is-active) running ;;
    *) echo "fake systemctl: $*" >&2; exit 1 ;;
esac
"""


# --------------------------------------------------------------------------- a wheelhouse without network


def locked_pins(lock: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: importlib.metadata.Distribution, dest: Path) -> Path:
    """A wheel of an installed distribution: its files in site-packages, its dist-info, a new RECORD."""
    files = [f for f in dist.files or () if not str(f).startswith("..") and "__pycache__" not in f.parts]
    info_dir = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info") and f.name == "METADATA")
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    parts = [list(dict.fromkeys(tag.split("-")[i] for tag in tags)) for i in range(3)]
    name = re.sub(r"[-_.]+", "_", info_dir.removesuffix(".dist-info").rsplit("-", 1)[0])
    wheel = dest / f"{name}-{dist.version}-{'-'.join('.'.join(p) for p in parts)}.whl"
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    record: list[str] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for f in files:
            if f.parts[0] == info_dir and f.name in skip:
                continue
            data = Path(str(dist.locate_file(f))).read_bytes()
            zf.writestr(str(f), data)
            record.append(f"{f},{_record_hash(data)},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(directory of wheels, lock of their hashes): requirements/runtime.txt, as installed here."""
    house = tmp_path_factory.mktemp("wheelhouse")
    lock_lines = []
    for name, version in sorted(locked_pins(RUNTIME_LOCK).items()):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} (requirements/runtime.txt) is not installed here: `make test` installs the lock")
        if dist.version != version:
            pytest.fail(f"{name} {dist.version} installed, {version} locked: `make test` installs the lock")
        wheel = repack(dist, house)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lock_lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    lock = house / "runtime-local.txt"
    lock.write_text("\n".join(lock_lines) + "\n")
    return house, lock


# --------------------------------------------------------------------------- the machine under test


class Pi:
    """A prefix with install.sh's layout, the stand-in systemctl, and a way to run install.sh."""

    def __init__(self, tmp: Path, house: Path, lock: Path) -> None:
        self.prefix = tmp / "pi"
        self.state = tmp / "state"
        self.state.mkdir()
        bindir = tmp / "bin"
        bindir.mkdir()
        systemctl = bindir / "systemctl"
        systemctl.write_text(FAKE_SYSTEMCTL)
        systemctl.chmod(0o755)
        self.lock = lock
        self.port = free_port()
        self.data = self.prefix / "var/lib/casahub"
        self.current = self.prefix / "opt/casahub/current"
        config = self.prefix / "etc/casahub/casahub.toml"
        config.parent.mkdir(parents=True)
        config.write_text(f'[web]\nlisten = "127.0.0.1:{self.port}"\ntls = "off"\n')
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        python = os.environ.get("CASAHUB_TEST_PYTHON", "python3")
        env |= {
            "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            "PYTHON": python if shutil.which(python) else sys.executable,
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(house),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "CASAHUB_TEST_UNIT": str(self.prefix / "etc/systemd/system/casahub.service"),
            "CASAHUB_TEST_STATE": str(self.state),
        }
        self.env = env

    def install(self, tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(tree / "deploy/install.sh"), "--prefix", str(self.prefix), "--systemctl", *args],
            capture_output=True,
            text=True,
            timeout=600,
            env=self.env,
            check=False,
        )

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=5) as resp:
            assert resp.status == 200
            body: dict[str, object] = json.loads(resp.read())
            return body

    def casahub(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [str(self.current / "bin/casahub"), *args, "--data-dir", str(self.data)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def schema(self) -> tuple[int, set[str]]:
        # closing(): an open WAL connection here would hold the database "in use" for restore.
        with contextlib.closing(sqlite3.connect(self.data / "casahub.db")) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return int(version), tables

    def stop(self) -> None:
        subprocess.run(["systemctl", "stop", "casahub.service"], env=self.env, timeout=60, check=False)


def build(tmp: Path, name: str, version: str, migrations: tuple[str, ...]) -> Path:
    """A copy of this tree as casahub `version`, with `migrations` appended to the schema's."""
    tree = tmp / name
    tree.mkdir()
    for part in TREE:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / part)
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text(), count=1))
    db = tree / "hub/store/db.py"
    db.write_text(db.read_text() + f"\nMIGRATIONS = (*MIGRATIONS, *{migrations!r})\n")
    return tree


@pytest.fixture
def pi(tmp_path: Path, wheelhouse: tuple[Path, Path]) -> Iterator[Pi]:
    machine = Pi(tmp_path, *wheelhouse)
    try:
        yield machine
    finally:
        machine.stop()


def test_a_failed_upgrade_rolls_back_by_itself_and_rollback_works_by_hand(pi: Pi, tmp_path: Path) -> None:
    lock = ("--lock", str(pi.lock))
    version = importlib.metadata.version("casahub")

    # 1. The first install, from the lock: the daemon serves, someone is added.
    first = pi.install(ROOT, *lock)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "hashes checked" in first.stdout + first.stderr
    assert pi.health()["version"] == version
    v1 = pi.current.resolve()
    assert v1.parent.name == "venvs" and v1.name.startswith(f"{version}-")
    assert (pi.prefix / "opt/casahub/venv/bin/casahub").exists()  # the old path still works
    pi.casahub("user", "add", "anna", "--role", "owner", stdin="a long password\n")
    assert pi.schema()[0] == SCHEMA

    # 2. An upgrade whose migration fails: one step commits, the next one raises, the daemon exits.
    broken = build(tmp_path, "broken", "9.0.1", ("CREATE TABLE broken_was_here (x INTEGER);", "SELECT x FROM nowhere;"))
    failed = pi.install(broken, *lock, "--health-timeout", "20")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "rolling back" in failed.stdout and "serves again with its data" in failed.stderr, (
        failed.stdout + failed.stderr
    )
    assert pi.current.resolve() == v1
    assert pi.health()["version"] == version
    version_now, tables = pi.schema()
    assert version_now == SCHEMA and "broken_was_here" not in tables  # the backup was restored
    assert "anna" in pi.casahub("user", "list")
    assert "nowhere" in (pi.state / "daemon.log").read_text()

    # 3. A good upgrade migrates and serves; 4. --rollback by hand goes back, data as it was before it.
    good = build(tmp_path, "good", "9.0.2", ("CREATE TABLE good_was_here (x INTEGER);",))
    upgraded = pi.install(good, *lock)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert pi.health()["version"] == "9.0.2"
    assert pi.schema()[0] == SCHEMA + 1 and "good_was_here" in pi.schema()[1]
    v3 = pi.current.resolve()
    assert v3 != v1 and v1.exists()  # the old venv was never touched

    back = pi.install(good, "--rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert pi.current.resolve() == v1
    assert pi.health()["version"] == version
    version_now, tables = pi.schema()
    assert version_now == SCHEMA and "good_was_here" not in tables
    assert "anna" in pi.casahub("user", "list")
    # What the newer version had made of the data is kept, in case the rollback was the mistake.
    assert (pi.prefix / f"opt/casahub/backups/rolled-back-{v3.name}.chb").exists()

    # Nothing left to roll back to: said, and nothing changes.
    again = pi.install(good, "--rollback")
    assert again.returncode != 0 and "no previous version" in again.stderr
    assert pi.health()["version"] == version
