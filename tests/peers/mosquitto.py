"""The real Mosquitto MQTT broker (Debian `mosquitto`) on loopback, for the MQTT drivers and exports.

`Mosquitto(tmp_path)` writes a config (`listener PORT 127.0.0.1`, no persistence) and, when
given `users`, a password file made with `mosquitto_passwd` (else `allow_anonymous true`).
`start()` returns once the port accepts connections; `kill()` (SIGKILL) and `start()` again
bring it back on the same port, as a broker restart looks to its clients. The broker's log
is `log_path`, shown by `log()` when a test needs it.

mosquitto missing: `require_mosquitto()` fails under CI=true and skips otherwise (docs/architecture.md section 6).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from tests.peers import free_port

__all__ = ["Mosquitto", "find_mosquitto", "require_mosquitto"]

_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((path for path in _PATHS if os.access(path, os.X_OK)), None)


def require_mosquitto() -> str:
    """The broker's path; skips the calling test with one line saying how to get it, fails in CI."""
    path = find_mosquitto()
    if path is not None:
        return path
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("mosquitto is required in CI (docs/architecture.md section 6): apt-get install mosquitto")
    pytest.skip("apt-get install mosquitto")


class Mosquitto:
    """One mosquitto process on 127.0.0.1:`port`; `users` (name -> password) turns on password auth."""

    def __init__(self, directory: Path, port: int | None = None, users: dict[str, str] | None = None) -> None:
        self.executable = require_mosquitto()
        self.directory = directory
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.users = dict(users or {})
        self.config_path = directory / "mosquitto.conf"
        self.log_path = directory / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            # Run as whoever runs the tests: as root, mosquitto would otherwise switch to the
            # `mosquitto` user, who cannot read the password file in a private temp dir.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        ]
        if self.users:
            password_file = self.directory / "passwords"
            password_file.touch(mode=0o600)
            tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            for name, password in self.users.items():
                subprocess.run([tool, "-b", str(password_file), name, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        self.config_path.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts TCP connections."""
        if self.running:
            return
        self._process = self._spawn()
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}:\n{self.log()}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mosquitto did not listen on {self.port} in {timeout:g} s:\n{self.log()}"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Popen returns at once (fork + exec); the broker's log goes to `log_path`.
        return subprocess.Popen(
            [self.executable, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """SIGKILL the broker (connections drop without a DISCONNECT, as on a crash or power loss)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    async def stop(self) -> None:
        """Stop the broker gracefully (SIGTERM)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
