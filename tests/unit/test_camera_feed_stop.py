"""A camera feed stops when it is told to, whatever it is doing at that moment.

The hub's shutdown cancels the feed once and waits for it (drivers.base.stop_task). A feed
that swallowed that cancellation kept running, and the daemon's stop hung (seen in CI as
test_camera_live's `test_hub_stop_ends_open_streams`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from drivers.camera.feed import CameraFeed

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


class SlowToClose:
    """An upstream that takes its time to hang up (an RTSP teardown, a camera on Wi-Fi)."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.release = asyncio.Event()

    async def frames(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield JPEG
                await asyncio.sleep(0.01)
        finally:
            self.closing.set()
            await self.release.wait()


async def test_a_feed_cancelled_while_its_upstream_closes_stops() -> None:
    source = SlowToClose()
    feed = CameraFeed(source, name="Ingresso", address="cam-1", linger=0.01, probe_interval=3600)
    task = asyncio.create_task(feed.run())
    async with feed.need("live"):
        assert await feed.next_frame(0, timeout=10) is not None
    # Nobody watches any more: the feed closes the upstream, which is slow to go.
    await asyncio.wait_for(source.closing.wait(), 10)
    task.cancel()  # the hub stops right then
    source.release.set()
    await asyncio.wait({task}, timeout=10)
    assert task.done() and task.cancelled(), "the feed went on after it was cancelled"
    assert feed.stopped
