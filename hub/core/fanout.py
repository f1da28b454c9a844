"""Fan-out of live updates to connected dashboards (WebSocket clients) and in-process readers.

The work is paid once, whatever the number of dashboards (docs/architecture.md, data path):
- a published message is one `LiveMessage` shared by every dashboard's queue; each reader
  variant (the household, an installer, ...: hub/web/ws.py) encodes it once, and a check a
  variant needs (a database look-up) runs once per message;
- the system snapshot is not queued per step: a step only says the system changed
  (`system_changed`, O(1)); a dashboard gets the latest snapshot once it has read what was
  queued before it, at most once per SYSTEM_EVERY seconds, built once for all of them;
- with nobody connected, nothing is built at all.

Each dashboard's queue is bounded: one that stops reading loses its oldest zone, output and
event messages (it re-reads the full state on reconnect), never an incident or an anomaly
until the hard limit, and it never slows the alarm path down.

In-process readers (the MQTT export) `subscribe()` to a plain asyncio.Queue of the message
dicts, the system snapshot included (built once per step for all of them, only while one
is subscribed).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

QUEUE_SIZE = 256  # messages a dashboard may fall behind before its oldest droppable ones go
QUEUE_LIMIT = 4 * QUEUE_SIZE  # past this even incidents go: the dashboard re-reads on reconnect
SYSTEM_EVERY = 0.1  # seconds: at most one system snapshot per dashboard this often
KEPT = frozenset({"incident", "anomaly", "system"})  # what a slow dashboard still gets, every one

Body = dict[str, Any]


class LiveMessage:
    """One message of the live stream, encoded at most once per reader variant."""

    __slots__ = ("_checks", "_texts", "body", "type")

    def __init__(self, body: Body) -> None:
        self.body = body
        self.type = body.get("type")
        self._texts: dict[Hashable, str | None] = {}
        self._checks: dict[str, asyncio.Future[bool]] = {}

    def encoded(self, variant: Hashable, encode: Callable[[Body], str | None]) -> str | None:
        """The text for `variant` (None: that variant does not see this message)."""
        try:
            return self._texts[variant]
        except KeyError:
            text = self._texts[variant] = encode(self.body)
            return text

    def check(self, name: str, make: Callable[[], Awaitable[bool]]) -> Awaitable[bool]:
        """An asynchronous check run once for every reader (a reader that goes away while
        waiting does not cancel it for the others)."""
        task = self._checks.get(name)
        if task is None:
            task = self._checks[name] = asyncio.ensure_future(make())
        return asyncio.shield(task)


class Subscription:
    """A dashboard's place in the live stream: its queued messages and its snapshot turn."""

    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout
        self._queue: deque[LiveMessage] = deque()
        self._wake = asyncio.Event()
        self._system_seen = fanout.generation
        self._system_sent_at = float("-inf")

    def snapshot(self) -> LiveMessage:
        """The system snapshot now, built for this reader (on connect)."""
        self._system_seen = self._fanout.generation
        self._system_sent_at = asyncio.get_running_loop().time()
        return LiveMessage(self._fanout.build_system())

    def push(self, message: LiveMessage) -> None:
        queue = self._queue
        if len(queue) >= QUEUE_SIZE:
            for n, queued in enumerate(queue):
                if queued.type not in KEPT:
                    del queue[n]  # the oldest that a later snapshot or message makes good
                    break
            else:
                if len(queue) >= QUEUE_LIMIT:
                    queue.popleft()
        queue.append(message)
        self._wake.set()

    def push_system(self, message: LiveMessage, generation: int) -> None:
        """A snapshot that must not be coalesced away, queued in order (it counts as sent)."""
        self.push(message)
        self._system_seen = generation
        self._system_sent_at = asyncio.get_running_loop().time()

    def wake(self) -> None:
        self._wake.set()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def next(self, timeout: float) -> LiveMessage | None:
        """The next message for this dashboard; None after `timeout` seconds of nothing.

        Queued messages first, in order; then, if the system changed since the last snapshot
        this dashboard got and SYSTEM_EVERY has passed, the latest snapshot (so it is never
        older than a message sent before it, and a slow dashboard ends with the latest).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._queue:
                return self._queue.popleft()
            now = loop.time()
            wait = deadline - now
            if self._system_seen != self._fanout.generation:
                due = self._system_sent_at + SYSTEM_EVERY - now
                if due <= 0:
                    self._system_seen, message = self._fanout.system()
                    self._system_sent_at = now
                    return message
                wait = min(wait, due)
            if wait <= 0:
                return None
            self._wake.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass


class Fanout:
    def __init__(self, build_system: Callable[[], Body] = lambda: {"type": "system", "system": {}}) -> None:
        self.build_system = build_system  # the system message, built when someone needs it
        self._queues: set[asyncio.Queue[Body]] = set()  # in-process readers
        self._streams: set[Subscription] = set()  # dashboards
        self.generation = 0  # bumped by every system change
        self._system: tuple[int, LiveMessage] | None = None

    # ------------------------------------------------------------------ dashboards
    def open(self) -> Subscription:
        subscription = Subscription(self)
        self._streams.add(subscription)
        return subscription

    def close(self, subscription: Subscription) -> None:
        self._streams.discard(subscription)

    def system(self) -> tuple[int, LiveMessage]:
        """The latest system snapshot and its generation, built once for every dashboard."""
        if self._system is None or self._system[0] != self.generation:
            self._system = (self.generation, LiveMessage(self.build_system()))
        return self._system

    # ------------------------------------------------------------------ in-process readers
    def subscribe(self) -> asyncio.Queue[Body]:
        queue: asyncio.Queue[Body] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Body]) -> None:
        self._queues.discard(queue)

    # ------------------------------------------------------------------ publishing
    def publish(self, body: Body) -> None:
        for queue in self._queues:
            _put_dropping_oldest(queue, body)
        if self._streams:
            message = LiveMessage(body)
            for subscription in self._streams:
                subscription.push(message)

    def system_changed(self, *, milestone: bool = False) -> None:
        """The system snapshot changed (an engine step): O(1) with nobody connected.

        A `milestone` (the mode changed) is not coalesced away: every dashboard gets that
        snapshot in order, so an arming followed at once by a disarming still shows on the
        screens that the system was armed. Mode changes are rare; a storm has one."""
        self.generation += 1
        self._system = None
        if self._queues:
            body = self.build_system()
            for queue in self._queues:
                _put_dropping_oldest(queue, body)
        if milestone and self._streams:
            message = self.system()[1]
            for subscription in self._streams:
                subscription.push_system(message, self.generation)
            return
        for subscription in self._streams:
            subscription.wake()

    @property
    def count(self) -> int:
        return len(self._queues) + len(self._streams)


def _put_dropping_oldest(queue: asyncio.Queue[Body], body: Body) -> None:
    if queue.full():
        try:
            queue.get_nowait()  # drop the oldest: the newest state matters most
        except asyncio.QueueEmpty:
            pass
    queue.put_nowait(body)
