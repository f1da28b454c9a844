"""The database's write lock: engine steps first, everyone else in the order they came.

An alarm's step must not queue behind the dispatcher's "sent" records or a telemetry flush
(issue 19), but those writers must keep their own order: the output dispatcher writes a
command's "sent" and then its "confirmed", and the last write is the state that stays. So two
FIFO queues, urgent served first, and the lock handed straight to the next waiter on release
(nobody arriving meanwhile can slip in between).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriteLock:
    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._held

    @asynccontextmanager
    async def hold(self, *, urgent: bool) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed the lock as we were cancelled: pass it on
            elif waiter in queue:  # (a release may have dropped it already)
                queue.remove(waiter)
            raise

    def _release(self) -> None:
        """Hand the lock to the next waiter (urgent ones first), or free it."""
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # still held: it is that waiter's now
                    return
        self._held = False
