"""The real NUT server (Debian `nut-server`): upsd plus the dummy-ups driver, in a temp dir, on loopback.

`NutServer(tmp_path)` writes `ups.conf` (one `dummy-ups` UPS reading `<ups>.dev`),
`upsd.conf` (`LISTEN 127.0.0.1 <free port>`) and `upsd.users` into a temp dir and runs
`/lib/nut/dummy-ups -a <ups> -F` and `/lib/nut/upsd -F` with `NUT_CONFPATH` /
`NUT_STATEPATH` pointing there (and `-u root` when run as root: both refuse to keep root
otherwise). `set_vars(...)` rewrites the `.dev` file, which dummy-ups re-reads when its
mtime changes (every `pollinterval` = 1 s here). `stop_driver()`/`start_driver()` make upsd
answer `ERR DRIVER-NOT-CONNECTED` and recover; `stop_upsd()`/`start_upsd()` drop and
restore the TCP server on the same port.

Binaries missing: `require_nut()` fails under CI=true and skips otherwise (docs/architecture.md section 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from tests.peers import free_port

__all__ = ["DUMMY_UPS", "UPSD", "NutServer", "require_nut"]


def _find(name: str) -> Path:
    for folder in ("/lib/nut", "/usr/lib/nut", "/usr/libexec/nut", "/usr/sbin", "/usr/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else Path("/lib/nut") / name


DUMMY_UPS = _find("dummy-ups")
UPSD = _find("upsd")


def require_nut() -> None:
    """Skip the calling test without upsd/dummy-ups, with one line saying how to get them; fail in CI."""
    if DUMMY_UPS.is_file() and UPSD.is_file():
        return
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(
            f"NUT is required in CI (docs/architecture.md section 6): no {DUMMY_UPS} / {UPSD}; "
            "apt-get install nut-server"
        )
    pytest.skip("apt-get install nut-server")


class NutServer:
    """upsd + dummy-ups serving one UPS named `ups` on 127.0.0.1:`port`."""

    def __init__(
        self,
        root: Path,
        ups: str = "ups1",
        *,
        username: str = "monitor",
        password: str = "s3cret pass",
        port: int | None = None,
    ) -> None:
        self.root = root
        self.ups = ups
        self.username = username
        self.password = password
        self.port = port or free_port()
        self.conf = root / "nut-conf"
        self.state = root / "nut-state"
        self.dev = self.conf / f"{ups}.dev"
        self._driver: asyncio.subprocess.Process | None = None
        self._upsd: asyncio.subprocess.Process | None = None
        self._logs: list[Path] = []

    @property
    def address(self) -> str:
        """The casahub address of the UPS (drivers.nut: `<ups>@<host>:<port>`)."""
        return f"{self.ups}@127.0.0.1:{self.port}"

    # -- configuration

    def write_config(self) -> None:
        self.conf.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)
        (self.conf / "nut.conf").write_text("MODE=netserver\n")
        (self.conf / "ups.conf").write_text(
            f'[{self.ups}]\n  driver = dummy-ups\n  port = {self.dev.name}\n  pollinterval = 1\n  desc = "test UPS"\n'
        )
        (self.conf / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.port}\n")
        users = self.conf / "upsd.users"
        users.write_text(f'[{self.username}]\n  password = "{self.password}"\n  upsmon secondary\n')
        users.chmod(0o600)
        (self.conf / "upsd.conf").chmod(0o600)
        self.set_vars(**{"ups.status": "OL", "battery.charge": "100", "battery.runtime": "1800"})

    def set_vars(self, **variables: str) -> None:
        """Rewrite the `.dev` file (keys with dots: pass a dict with **); dummy-ups picks it up within ~1 s."""
        text = "".join(f"{name}: {value}\n" for name, value in variables.items())
        text += "ups.mfr: casahub tests\nups.model: dummy\n"
        tmp = self.dev.with_suffix(".tmp")
        tmp.write_text(text)
        # dummy-ups reloads the file when its mtime changes, compared in whole seconds: a rewrite
        # within the same second as the last one would go unseen, so each one is a second later.
        try:
            last = self.dev.stat().st_mtime
        except FileNotFoundError:
            last = 0.0
        stamp = max(time.time(), math.floor(last) + 1.0)
        os.utime(tmp, (stamp, stamp))
        tmp.replace(self.dev)  # atomic: dummy-ups never reads half a file

    def set_status(self, status: str, charge: int = 100) -> None:
        self.set_vars(**{"ups.status": status, "battery.charge": str(charge), "battery.runtime": str(charge * 18)})

    # -- processes

    def _env(self) -> dict[str, str]:
        return {**os.environ, "NUT_CONFPATH": str(self.conf), "NUT_STATEPATH": str(self.state)}

    def _as_root(self) -> list[str]:
        return ["-u", "root"] if os.geteuid() == 0 else []

    async def _spawn(self, name: str, *argv: str) -> asyncio.subprocess.Process:
        log = self.root / f"{name}.log"
        self._logs.append(log)
        with log.open("ab") as out:
            return await asyncio.create_subprocess_exec(
                *argv, env=self._env(), stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
            )

    async def start_driver(self) -> None:
        assert self._driver is None, "dummy-ups is already running"
        socket = self.state / f"dummy-ups-{self.ups}"
        with contextlib.suppress(FileNotFoundError):
            socket.unlink()
        self._driver = await self._spawn("dummy-ups", str(DUMMY_UPS), "-a", self.ups, "-F", *self._as_root())
        await self._wait(lambda: socket.exists(), self._driver, "dummy-ups to create its socket")

    async def stop_driver(self) -> None:
        await _stop(self._driver)
        self._driver = None

    async def start_upsd(self) -> None:
        assert self._upsd is None, "upsd is already running"
        self._upsd = await self._spawn("upsd", str(UPSD), "-F", *self._as_root())

        async def listening() -> bool:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True

        for _ in range(200):
            if self._upsd.returncode is not None:
                raise RuntimeError(f"upsd exited with {self._upsd.returncode}:\n{self.logs()}")
            if await listening():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"upsd did not listen on 127.0.0.1:{self.port}:\n{self.logs()}")

    async def stop_upsd(self) -> None:
        await _stop(self._upsd)
        self._upsd = None

    async def start(self) -> None:
        self.write_config()
        await self.start_driver()
        await self.start_upsd()
        await self.wait_status(lambda status: status == "OL")

    async def query(self, command: str) -> str:
        """One raw command to upsd and its one-line answer (independent of drivers.nut)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def wait_status(self, ready: Callable[[str], bool], timeout: float = 15) -> None:
        """Wait until upsd serves an `ups.status` that `ready` accepts (dummy-ups starts with WAIT)."""
        answer = ""
        for _ in range(int(timeout / 0.1)):
            answer = await self.query(f"GET VAR {self.ups} ups.status")
            prefix = f"VAR {self.ups} ups.status "
            if answer.startswith(prefix) and ready(answer[len(prefix) :].strip('"')):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"upsd still answers {answer!r} after {timeout:g} s:\n{self.logs()}")

    async def stop(self) -> None:
        await self.stop_upsd()
        await self.stop_driver()

    async def reset(self) -> None:
        """Both processes running and the UPS on line with a full battery (between tests sharing a server)."""
        self.set_status("OL")
        if self._driver is None or self._driver.returncode is not None:
            self._driver = None
            await self.start_driver()
        if self._upsd is None or self._upsd.returncode is not None:
            self._upsd = None
            await self.start_upsd()
        await self.wait_status(lambda status: status == "OL")

    async def _wait(self, condition: Callable[[], bool], process: asyncio.subprocess.Process, what: str) -> None:
        for _ in range(200):
            if condition():
                return
            if process.returncode is not None:
                raise RuntimeError(f"{what}: the process exited with {process.returncode}:\n{self.logs()}")
            await asyncio.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')}" for p in dict.fromkeys(self._logs) if p.exists()
        )


async def _stop(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 5)
    except TimeoutError:
        process.kill()
        await process.wait()
