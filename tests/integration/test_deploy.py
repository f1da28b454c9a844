"""deploy/: the systemd unit (systemd-analyze), install.sh in a throwaway prefix, and the daemon
under the unit's restrictions (MemoryDenyWriteExecute's seccomp rule, sd_notify + watchdog).

systemd-analyze comes with Debian's `systemd` (deploy/test-peers.txt): missing, these tests
fail under CI=true and skip otherwise (docs/architecture.md section 6).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.peers import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "casahub.service"
INSTALL = DEPLOY / "install.sh"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_systemd_analyze() -> str:
    """systemd-analyze's path; fails in CI, skips otherwise, with one line saying how to get it."""
    path = shutil.which("systemd-analyze")
    if path is None:
        message = "systemd-analyze missing: apt-get install systemd"
        if IN_CI:
            pytest.fail(f"{message} (required in CI, docs/architecture.md section 6)")
        pytest.skip(message)
    return path


def systemd_units_dir() -> Path:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "sysinit.target").exists():
            return candidate
    pytest.fail("systemd is installed but its units (sysinit.target) are not: apt-get install --reinstall systemd")


def unit_settings(text: str) -> dict[str, list[str]]:
    """Key -> every value it is given (units repeat keys), comments and sections ignored."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


# --------------------------------------------------------------------------- the unit file


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A file system root with systemd's own units, the casahub unit and its ExecStart binary."""
    require_systemd_analyze()
    root = tmp_path / "root"
    shutil.copytree(systemd_units_dir(), root / "usr/lib/systemd/system", symlinks=True)
    binary = root / "opt/casahub/current/bin/casahub"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/casahub.service")
    return root


def test_the_unit_file_verifies(unit_root: Path) -> None:
    result = subprocess.run(
        [require_systemd_analyze(), "verify", "--man=no", f"--root={unit_root}", "casahub.service"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 on unknown keys and unparsable values, and only warns: any output is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_systemd_analyze_catches_a_broken_unit(unit_root: Path) -> None:
    broken = unit_root / "etc/systemd/system/casahub.service"
    broken.write_text(UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=very"))
    result = subprocess.run(
        [require_systemd_analyze(), "verify", "--man=no", f"--root={unit_root}", "casahub.service"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "ProtectSystem" in result.stderr or "protect system" in result.stderr.lower()


def test_the_unit_exposure_is_low(unit_root: Path) -> None:
    result = subprocess.run(
        [
            require_systemd_analyze(),
            "security",
            "--offline=yes",
            f"--root={unit_root}",
            "--no-pager",
            "casahub.service",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for casahub\.service: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 4.0, result.stdout  # "OK" or better on systemd's 0-10 scale


def test_the_unit_has_the_contracted_settings() -> None:
    s = unit_settings(UNIT.read_text())
    one = {key: values[-1] for key, values in s.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert one["WatchdogSec"] == "30"
    assert one["Restart"] == "on-failure"
    assert one["User"] == "casahub"
    # /opt/casahub/current: the versioned venv install.sh switched to (issue 18: upgrades never
    # touch the running venv).
    assert one["ExecStart"] == (
        "/opt/casahub/current/bin/casahub serve --config /etc/casahub/casahub.toml --data-dir /var/lib/casahub"
    )
    assert one["ExecStartPre"].startswith("-/opt/casahub/current/bin/casahub doctor --groups ")
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "RestrictSUIDSGID",
        "LockPersonality",
        "MemoryDenyWriteExecute",
    ):
        assert one[key] == "yes", key
    assert one["ProtectSystem"] == "strict"
    assert "/var/lib/casahub" in s["ReadWritePaths"]
    assert one["AmbientCapabilities"] == "" and one["CapabilityBoundingSet"] == ""
    assert one["DevicePolicy"] == "closed"
    assert {v.split()[0] for v in s["DeviceAllow"]} >= {"char-gpiochip", "char-ttyUSB"}
    assert one["RestartPreventExitStatus"] == "2"  # an invalid config does not loop
    assert one["LimitNOFILE"] == "8192"  # room for the web server's cap and the alarm path's reserve
    # 5 quick failures (an unwritable database: status 3) and systemd stops retrying.
    assert one["StartLimitBurst"] == "5"
    assert 0 < int(one["StartLimitIntervalSec"]) <= 600


# --------------------------------------------------------------------------- install.sh


def run_install(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHON"] = os.environ.get("CASAHUB_TEST_PYTHON", "python3")
    if shutil.which(env["PYTHON"]) is None:
        env["PYTHON"] = sys.executable  # a venv's python still makes venvs
    result = subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check:
        assert result.returncode == 0, f"install.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_install_sh_syntax() -> None:
    result = subprocess.run(["bash", "-n", str(INSTALL)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert INSTALL.read_text().splitlines()[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in INSTALL.read_text()
    assert os.access(INSTALL, os.X_OK)


def test_install_sh_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck missing (a lint, not a peer): apt-get install shellcheck")
    result = subprocess.run([shellcheck, str(INSTALL)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_install_sh_refuses_bad_options(tmp_path: Path) -> None:
    assert run_install("--bogus", check=False).returncode != 0
    assert run_install("--prefix", str(tmp_path), "--purge", check=False).returncode != 0
    assert "Install (or upgrade" in run_install("--help").stdout


def test_install_upgrade_uninstall_purge_in_a_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "pi"
    venv_casahub = prefix / "opt/casahub/venv/bin/casahub"
    config = prefix / "etc/casahub/casahub.toml"
    data = prefix / "var/lib/casahub"
    unit = prefix / "etc/systemd/system/casahub.service"

    first = run_install("--prefix", str(prefix))
    assert "skipped" in first.stdout and "system user casahub" in first.stdout  # no useradd in a prefix
    assert os.access(venv_casahub, os.X_OK)
    help_text = subprocess.run([venv_casahub, "--help"], capture_output=True, text=True, check=True).stdout
    assert "serve" in help_text
    assert config.read_text() == (ROOT / "config/casahub.toml").read_text()
    assert (data.stat().st_mode & 0o777) == 0o750
    assert (config.stat().st_mode & 0o777) == 0o640
    unit_text = unit.read_text()
    current = prefix / "opt/casahub/current"
    assert current.is_symlink() and current.resolve().parent == prefix / "opt/casahub/venvs"
    assert f"ExecStart={current}/bin/casahub serve --config {config} --data-dir {data}" in unit_text
    assert f"ReadWritePaths={data}" in unit_text
    assert (prefix / "etc/udev/rules.d/90-casahub-led.rules").exists()
    assert not (ROOT / "build").exists(), "pip built inside the source tree"

    # The installed unit, pointing at the installed program, verifies too.
    if shutil.which("systemd-analyze") is not None:
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
        )
        assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr

    # Running it again upgrades: the config and the data stay as they are.
    config.write_text(config.read_text() + '\n[led]\npath = "/sys/class/leds/ACT"\n')
    edited = config.read_text()
    subprocess.run(
        [venv_casahub, "user", "add", "anna", "--role", "owner", "--data-dir", str(data)],
        input="a long password\n",
        text=True,
        capture_output=True,
        check=True,
    )
    first_venv = current.resolve()
    second = run_install("--prefix", str(prefix))
    assert "keeping the existing" in second.stdout
    assert "backing up" in second.stdout  # before the new version may migrate the database
    assert config.read_text() == edited
    users = subprocess.run([venv_casahub, "user", "list", "--data-dir", str(data)], capture_output=True, text=True)
    assert "anna" in users.stdout, users.stdout + users.stderr
    assert os.access(venv_casahub, os.X_OK)
    assert current.resolve() != first_venv and first_venv.is_dir()  # a new venv; the old one kept

    # An upgrade onto a config that does not pass `config check` stops before (re)starting anything.
    config.write_text("[alarm]\nexit_delay = -1\n")
    refused = run_install("--prefix", str(prefix), check=False)
    assert refused.returncode != 0
    assert "not valid" in refused.stderr and "exit_delay" in refused.stdout + refused.stderr
    assert config.read_text() == "[alarm]\nexit_delay = -1\n"
    config.write_text(edited)

    # Uninstall: the program and the unit go, config and data stay.
    run_install("--prefix", str(prefix), "--uninstall")
    assert not (prefix / "opt/casahub").exists()
    assert not unit.exists()
    assert not (prefix / "etc/udev/rules.d/90-casahub-led.rules").exists()
    assert config.read_text() == edited
    assert (data / "casahub.db").exists()

    # Purge (also fine after a plain uninstall): config and data go too.
    run_install("--prefix", str(prefix), "--uninstall", "--purge")
    assert not (prefix / "etc/casahub").exists()
    assert not data.exists()


# --------------------------------------------------------------------------- the daemon under the unit's rules

# systemd's MemoryDenyWriteExecute=yes is this seccomp rule (src/shared/seccomp-util.c): mmap
# with PROT_WRITE|PROT_EXEC and mprotect/pkey_mprotect adding PROT_EXEC fail with EPERM.
MDWE_LAUNCHER = r"""
import ctypes, errno, mmap, platform, struct, sys

ARCHES = {  # machine: (AUDIT_ARCH_*, mmap syscalls, mprotect syscalls)
    "x86_64": (0xC000003E, (9,), (10, 329)),
    "aarch64": (0xC00000B7, (222,), (226, 288)),
    "armv7l": (0x40000028, (192,), (125, 394)),
    "armv6l": (0x40000028, (192,), (125, 394)),
}
LD, JEQ, JSET, AND, RET = 0x20, 0x15, 0x45, 0x54, 0x06
ALLOW, DENY = 0x7FFF0000, 0x00050000 | errno.EPERM
W, X = 2, 4

def program():
    arch, mmaps, mprotects = ARCHES[platform.machine()]
    code = [(LD, None, None, 4), (JEQ, None, "allow", arch)]
    for nr in mmaps:
        code += [(LD, None, None, 0), (JEQ, None, "+3", nr), (LD, None, None, 32),
                 (AND, None, None, W | X), (JEQ, "deny", "allow", W | X)]
    for nr in mprotects:
        code += [(LD, None, None, 0), (JEQ, None, "+2", nr), (LD, None, None, 32), (JSET, "deny", "allow", X)]
    code += [(RET, None, None, ALLOW), (RET, None, None, DENY)]
    labels = {"allow": len(code) - 2, "deny": len(code) - 1}
    def rel(i, label):
        if label is None:
            return 0
        target = i + 1 + int(label[1:]) if label.startswith("+") else labels[label]
        return target - (i + 1)
    raw = b"".join(struct.pack("HBBI", op, rel(i, t), rel(i, f), k) for i, (op, t, f, k) in enumerate(code))
    return raw, len(code)

class Prog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

raw, n = program()
buf = ctypes.create_string_buffer(raw, len(raw))
prog = Prog(n, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong)
if libc.prctl(38, 1, None, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP
    raise OSError(ctypes.get_errno(), "seccomp filter not installed")
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    pass
else:
    raise SystemExit("the seccomp rule does not deny writable+executable mappings")
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
page = libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
if libc.mprotect(page, 4096, mmap.PROT_READ | mmap.PROT_EXEC) == 0:
    raise SystemExit("the seccomp rule does not deny mprotect(PROT_EXEC)")
print("mdwe: active", file=sys.stderr, flush=True)

# Everything the hub loads on a Pi: compiled cffi/pyo3 modules, the drivers, ctypes (adjtimex).
import argon2, cryptography.hazmat.primitives.asymmetric.ec as ec, gpiod, msgspec, aiohttp  # noqa
import drivers.bthome, drivers.gpio, drivers.nut, drivers.power_supply, drivers.zigbee2mqtt  # noqa
from hub.system.host_health import clock_synced_adjtimex
ec.generate_private_key(ec.SECP256R1())
argon2.PasswordHasher().verify(argon2.PasswordHasher().hash("x"), "x")
clock_synced_adjtimex()
ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 0)()
from hub.cli.main import main
sys.argv = ["casahub", *sys.argv[1:]]
sys.exit(main())
"""


def wait_for_health(base: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, object]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the hub exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", context=context, timeout=2) as resp:
                if resp.status == 200:
                    body: dict[str, object] = json.loads(resp.read())
                    return body
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the hub did not become healthy")


def stop_process(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64", "armv7l", "armv6l"), reason="no syscall table")
def test_the_hub_runs_without_writable_executable_memory(tmp_path: Path) -> None:
    """MemoryDenyWriteExecute=yes in the unit: the hub (TLS, argon2, drivers) works under that rule."""
    config = tmp_path / "casahub.toml"
    config.write_text('[web]\ntls = "auto"\n')
    launcher = tmp_path / "mdwe_launcher.py"
    launcher.write_text(MDWE_LAUNCHER)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(launcher),
            "serve",
            "--demo",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_health(f"https://127.0.0.1:{port}", proc)
        # A login runs argon2 verify in the filtered process.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/api/v1/session",
            data=json.dumps({"username": "demo", "password": "demo"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as resp:
            assert resp.status == 200
    finally:
        _, err = stop_process(proc)
    assert "mdwe: active" in err, err
    assert proc.returncode == 0, err[-3000:]


class NotifyReceiver:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def collect_until(self, predicate: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data))
            if predicate in data:
                return
        raise AssertionError(f"{predicate!r} not received; got {[m for _, m in self.messages]!r}")

    def count(self, needle: str) -> int:
        return sum(needle in m for _, m in self.messages)


@pytest.fixture
def notify_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sdn", dir="/tmp") as tmp:  # AF_UNIX paths are short
        yield Path(tmp)


def test_the_daemon_notifies_systemd(tmp_path: Path, notify_dir: Path) -> None:
    receiver = NotifyReceiver(str(notify_dir / "notify"))
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_dir / "notify"), WATCHDOG_USEC="1000000")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "serve",
            "--demo",
            "--data-dir",
            str(tmp_path / "data"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", proc, timeout=60)
        receiver.collect_until("READY=1", timeout=10)  # serving, so READY=1 has been sent
        first = receiver.count("WATCHDOG=1")
        # WATCHDOG_USEC=1 s: pings every 0.5 s; three more arrive within a few seconds.
        for _ in range(3):
            receiver.collect_until("WATCHDOG=1", timeout=5)
        assert receiver.count("WATCHDOG=1") >= first + 3
        proc.send_signal(signal.SIGTERM)
        receiver.collect_until("STOPPING=1", timeout=20)
    finally:
        _, err = stop_process(proc)
        receiver.sock.close()
    assert proc.returncode == 0, err[-3000:]


# --------------------------------------------------------------------------- ops: exits and ownership


def serve_command(data_dir: Path, port: int, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "hub.cli", "serve", "--demo", "--data-dir", str(data_dir)),
        *("--listen", f"127.0.0.1:{port}", *extra),
    ]


def test_a_busy_listen_address_exits_2_at_once_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            serve_command(tmp_path / "data", port), cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert elapsed < 5, elapsed
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def missing(why: str) -> NoReturn:
    """What the test needs is not here: a failure in CI (which runs as root), a skip on a laptop."""
    if IN_CI:
        pytest.fail(why)
    pytest.skip(why)


def require_root_and_setpriv() -> str:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        message = "needs root and setpriv (util-linux) to run the hub as another user"
        if IN_CI and os.geteuid() == 0:
            pytest.fail(message)
        pytest.skip(message)
    return setpriv


@pytest.fixture
def nobodys_dir() -> Iterator[Path]:
    """A data dir owned by `nobody` (as /var/lib/casahub is the casahub user's), in a place it can reach."""
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        missing("no user nobody to own the data dir")
    with tempfile.TemporaryDirectory(prefix="casahub-owner", dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        data = Path(tmp) / "data"
        data.mkdir()
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
        yield data


def test_a_daemon_that_cannot_write_its_database_exits_3_in_one_line(nobodys_dir: Path) -> None:
    """`sudo casahub ...` of an older casahub left a root-owned casahub.db: the service says so and stops."""
    setpriv = require_root_and_setpriv()
    from hub.store.db import open_sync

    open_sync(nobodys_dir / "casahub.db").close()  # root's, 0644: nobody can read, not write
    started = time.monotonic()
    result = subprocess.run(
        [
            setpriv,
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            *serve_command(nobodys_dir, free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert time.monotonic() - started < 15
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(nobodys_dir / "casahub.db") in lines[0] and "root" in lines[0] and "chown" in lines[0], lines
    assert "Traceback" not in result.stdout + result.stderr


def test_local_commands_run_as_root_write_as_the_data_dirs_owner(nobodys_dir: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        missing("needs root")
    owner = nobodys_dir.stat().st_uid

    def casahub(*args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    casahub("token", "create", "--role", "owner", "--data-dir", str(nobodys_dir))
    casahub("user", "add", "anna", "--role", "owner", "--data-dir", str(nobodys_dir), stdin="a long password\n")
    assert "anna" in casahub("user", "list", "--data-dir", str(nobodys_dir))
    made = sorted(nobodys_dir.rglob("*"))
    assert made and {p.stat().st_uid for p in made} == {owner}, [(p, p.stat().st_uid) for p in made]

    backup = tmp_path / "hub.chb"
    casahub("backup", str(backup), "--data-dir", str(nobodys_dir))
    assert backup.stat().st_uid == 0  # where root asked for it, as root
    fresh = nobodys_dir.parent / "fresh"
    fresh.mkdir()
    os.chown(fresh, owner, nobodys_dir.stat().st_gid)
    casahub("restore", str(backup), "--data-dir", str(fresh), "--yes")
    restored = sorted(fresh.rglob("*"))
    assert restored and {p.stat().st_uid for p in restored} == {owner}, [(p, p.stat().st_uid) for p in restored]
    # The service, running as that user, can open what the CLI wrote.
    from hub.store.db import open_sync

    assert os.access(fresh / "casahub.db", os.R_OK)
    open_sync(fresh / "casahub.db").close()


def test_a_hub_started_by_hand_as_root_runs_as_the_data_dirs_owner(nobodys_dir: Path) -> None:
    if os.geteuid() != 0:
        missing("needs root")
    port = free_port()
    proc = subprocess.Popen(
        serve_command(nobodys_dir, port, "--config", str(ROOT / "config" / "casahub.toml")),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_health(f"https://127.0.0.1:{port}", proc)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    finally:
        _, err = stop_process(proc)
    assert proc.returncode == 0, err[-3000:]
    assert int(uid) == nobodys_dir.stat().st_uid
    made = sorted(nobodys_dir.rglob("*"))
    assert any(p.name == "casahub.db" for p in made) and any(p.name == "hub.crt" for p in made), made
    assert {p.stat().st_uid for p in made} == {nobodys_dir.stat().st_uid}, [(p, p.stat().st_uid) for p in made]
