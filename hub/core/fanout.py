"""Fan-out of live updates to connected dashboards (WebSocket clients).

Each subscriber has a bounded queue: a dashboard that stops reading loses old updates
(it re-reads the full state on reconnect), it never slows the alarm path down.
"""

from __future__ import annotations

import asyncio
from typing import Any

QUEUE_SIZE = 256


class Fanout:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        for queue in self._subscribers:
            if queue.full():
                try:
                    queue.get_nowait()  # drop the oldest: the newest state matters most
                except asyncio.QueueEmpty:
                    pass
            queue.put_nowait(message)

    @property
    def count(self) -> int:
        return len(self._subscribers)
