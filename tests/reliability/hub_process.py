"""`casahub serve --demo` as a child process that tests can SIGKILL, and a direct look at its database.

The same command as tests/e2e (output appended to one log file: a full pipe would stall the
hub), started again on the same data dir and port after each kill. `db_rows` reads the SQLite
file with a plain connection, as an installer would after a crash (only while no hub writes,
or read-only beside it: WAL lets one reader look while the hub writes).
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.peers import free_port

__all__ = ["HubProcess", "db_rows"]

ROOT = Path(__file__).resolve().parents[2]


class HubProcess:
    """One demo hub on 127.0.0.1:`port` over `data_dir`; start() after kill_9() reuses both.

    `scheme` "https" when the config sets `[web] tls = "auto"` (the client then skips certificate
    checks); `nofile` lowers the hub's open-file limit, soft and hard, as a small machine would have.
    """

    def __init__(
        self,
        data_dir: Path,
        config: Path,
        env: dict[str, str],
        log: Path,
        *,
        scheme: str = "http",
        nofile: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.env = env
        self.log = log
        self.port = free_port()
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.nofile = nofile
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "casahub.db"

    async def start(self, timeout: float = 30.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "the hub is already running"
        self.proc = self._spawn()
        self.starts += 1
        await self.wait_healthy(timeout)

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Popen returns at once (fork + exec); the hub's output goes to `log`.
        with self.log.open("ab") as out:
            out.write(f"\n----- start {self.starts + 1}\n".encode())
            out.flush()
            return subprocess.Popen(
                [
                    *(sys.executable, "-m", "hub.cli", "serve", "--demo", "--config", str(self.config)),
                    *("--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
                preexec_fn=self._limits if self.nofile is not None else None,
            )

    def _limits(self) -> None:
        # In the child, before exec: the hub starts with this limit and cannot raise it.
        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    async def wait_healthy(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(
            # force_close: no kept-alive connection of ours stays counted against 127.0.0.1's limit
            connector=aiohttp.TCPConnector(ssl=False, force_close=True),
            timeout=aiohttp.ClientTimeout(total=5),
        ) as session:
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    async with session.get(self.base + "/api/v1/health") as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.02)
        raise AssertionError(f"hub did not become healthy (exit status {self.proc.poll()}):\n{self.tail()}")

    def kill_9(self, *, expect_running: bool = True) -> None:
        """SIGKILL the hub; with `expect_running`, a hub that already exited by itself is an error."""
        if self.proc is None:
            return
        exited = self.proc.poll()
        if exited is not None:
            assert not expect_running, f"the hub exited by itself with status {exited}:\n{self.tail()}"
            return
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        """SIGTERM and wait: a clean stop, exit status 0 expected."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill_9(expect_running=False)
            return -signal.SIGKILL

    def tail(self, chars: int = 6000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def db_rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()
