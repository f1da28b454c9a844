"""An in-process hub, its peers in a process of their own, instrumented to time commits; a driver to feed it.

`bench_hub(folder)` starts the peers of `tests.peers.household` (Twilio double, aiosmtpd with
STARTTLS + AUTH, a push service over HTTPS, the pysiaalarm DC-09 receiver with AES-128) in a
process of their own (bench/remote_peers.py), as real services are other machines: their CPU
is not paid in the hub's event loop. A demo hub runs in this process, configured against them
as tests/e2e do, with the dashboard user's app subscribed to push. `Rig.peers` holds the
peers' arrivals as of its last `refresh()`; `Rig.wait_peers` refreshes and checks. Two hooks
time the hub without changing what it does:

- `Database.transaction` and `step_transaction` (engine steps) are wrapped to note
  `time.perf_counter()` right after COMMIT returned;
- `Hub.submit` is wrapped to hand every step to the listeners with that commit time and the
  time `submit` returned (after the dashboards' fan-out). Nothing can run between the COMMIT
  of a step and the end of its `submit` (no await there), so the noted commit is the step's.

`FeedDriver` is a driver (the protocol of drivers/base.py) whose readings are whatever the
benchmark puts in its queue; `pump` feeds them to `Hub.ingest` as the daemon's `_pump` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alarms.model import AnyEvent, Step
from bench.remote_peers import RemotePeers, remote_peers
from drivers.base import Reading, ReadingStream

log = logging.getLogger("bench")

Listener = Callable[[AnyEvent, Step, float, float], None]


class FeedQueue:
    """The benchmarks' view of a driver's ReadingStream: `put_nowait(None)` ends it."""

    def __init__(self, stream: ReadingStream) -> None:
        self.stream = stream

    def put_nowait(self, reading: Reading | None) -> None:
        if reading is None:
            self.stream.end()
        else:
            self.stream.put(reading)

    def qsize(self) -> int:
        return self.stream.qsize()

    def empty(self) -> bool:
        return self.stream.qsize() == 0


class FeedDriver:
    """A driver fed by the benchmark: `queue.put_nowait(reading)` is a reading at the driver boundary."""

    type = "bench"

    def __init__(self, name: str = "bench", interval: float | None = 60.0) -> None:
        self.type = name
        self.interval = interval
        self.queue = FeedQueue(ReadingStream(name))  # the real drivers' stream, with its two lanes
        self.done = 0  # readings the hub has finished ingesting

    def readings(self) -> AsyncIterator[Reading]:
        return self.queue.stream.readings()

    async def candidates(self) -> list[Any]:
        return []

    async def scan(self, seconds: float) -> None:
        return None

    def fixed_devices(self) -> list[Any]:
        return []

    def expected_interval(self, address: str) -> float | None:
        return self.interval


async def pump(hub: Any, name: str, driver: FeedDriver) -> None:
    """hub.daemon._pump, counting: feed each reading to the hub; a bad reading is logged, never fatal."""
    async for reading in driver.readings():
        try:
            await hub.ingest(name, reading)
        except Exception:
            log.exception("reading from %s could not be applied: %r", name, reading)
        driver.done += 1


@dataclass
class Rig:
    running: Any  # tests.conftest.RunningHub
    peers: RemotePeers  # the peers' process (bench/remote_peers.py), as of the last refresh()
    api: Any  # tests.conftest.Api, logged in as the demo owner
    folder: Path
    listeners: list[Listener] = field(default_factory=list)
    last_commit: float = 0.0
    commits: int = 0  # hub.db.transaction() (engine steps, pairing, audit, telemetry flush)
    other_commits: int = 0  # hub.db.execute(): each its own BEGIN IMMEDIATE ... COMMIT
    problems: list[str] = field(default_factory=list)  # what a benchmark saw go wrong (reported)

    @property
    def hub(self) -> Any:
        return self.running.hub

    @property
    def daemon(self) -> Any:
        return self.running.daemon

    @property
    def simulated(self) -> Any:
        return self.running.daemon.drivers["simulated"]

    def instrument(self) -> None:
        hub = self.hub
        db = hub.db
        original_transaction = db.transaction
        rig = self

        @asynccontextmanager
        async def transaction(**kwargs: Any) -> AsyncIterator[Any]:
            async with original_transaction(**kwargs) as conn:
                yield conn
            rig.last_commit = time.perf_counter()
            rig.commits += 1

        db.transaction = transaction
        original_step = db.step_transaction

        @asynccontextmanager
        async def step_transaction() -> AsyncIterator[Any]:  # an engine step's (hub/store/inline_tx.py)
            async with original_step() as conn:
                yield conn
            rig.last_commit = time.perf_counter()
            rig.commits += 1

        db.step_transaction = step_transaction
        original_execute = db.execute

        async def execute(sql: str, params: Any = ()) -> int:
            row_id = await original_execute(sql, params)
            rig.other_commits += 1  # one-statement write transactions (outbox dispatcher, ...)
            return row_id

        db.execute = execute
        original_submit = hub.submit

        async def submit(event: AnyEvent, *, actor: str | None = None) -> Step:
            step = await original_submit(event, actor=actor)
            done = time.perf_counter()
            for listener in self.listeners:
                listener(event, step, rig.last_commit, done)
            return step

        hub.submit = submit

    def add_feed(self, name: str, interval: float | None = 60.0) -> tuple[FeedDriver, asyncio.Task[None]]:
        """A FeedDriver known to the daemon (supervision asks it for expected intervals) and its pump."""
        driver = FeedDriver(name, interval)
        self.daemon.drivers[name] = driver
        task = asyncio.create_task(pump(self.hub, name, driver), name=f"bench-pump:{name}")
        return driver, task

    async def outbox_idle(self, timeout: float = 30.0) -> None:
        """Wait until no outbox row is pending (scheduled escalation steps may wait)."""
        deadline = time.monotonic() + timeout
        while True:
            row = await self.hub.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            if row is not None and row[0] == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"outbox still has {row[0] if row else '?'} pending rows after {timeout} s")
            await asyncio.sleep(0.01)

    async def wait_peers(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """Refresh the peers' arrivals every 5 ms until `predicate()` holds; AssertionError after `timeout` s.

        The peers stamp arrivals themselves: the pace of this polling is not in any latency.
        """
        deadline = time.monotonic() + timeout
        while True:
            await self.peers.refresh()
            if predicate():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            await asyncio.sleep(0.005)

    async def count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        row = await self.hub.db.fetchone(sql, params)
        return int(row[0]) if row is not None and row[0] is not None else 0


EXTRA_CONTACT = """
[[contacts]]
name = "Marco Rossi"
phone = "+393339876543"
email = "marco@casa.example"
language = "it"
push = false
"""


@asynccontextmanager
async def bench_hub(folder: Path, *, extra_config: str = "", second_contact: bool = False) -> AsyncIterator[Rig]:
    from tests.conftest import start_hub
    from tests.peers.household import logged_in
    from tests.peers.tls import trusted

    async with remote_peers(folder / "peers") as peers:
        text = peers.config.read_text()
        if second_contact:
            text += EXTRA_CONTACT
        config = folder / "casahub.toml"
        config.write_text(text + extra_config)
        with trusted(peers.cert):  # the hub trusts the peers' self-signed certificate
            running = await start_hub(folder / "data", config)
            try:
                async with logged_in(running.base) as api:
                    # What the dashboard PWA does (tests.peers.household.subscribe_app), the
                    # browser subscribed at the push service in the peers' process.
                    key = (await api.get("/api/v1/push/vapid"))["public_key"]
                    status, body = await api.post("/api/v1/push/subscriptions", await peers.subscribe(key))
                    assert status == 201, body
                    rig = Rig(running=running, peers=peers, api=api, folder=folder)
                    rig.instrument()
                    await rig.outbox_idle()  # hub_started and friends are out before anything is timed
                    yield rig
            finally:
                await running.stop()
