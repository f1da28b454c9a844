"""The start-up heap, moved out of the garbage collector's way.

A running hub holds ~100k long-lived objects from start-up (modules, the config, the engine
state, aiohttp's routes). CPython's full (generation 2) collection walks all of them: on the
bench (bench/latency.py) one took 87 ms, and the alarm that arrived then waited for it. Frozen
(`gc.freeze`) they are skipped; the same collection took 9 ms. Reference counting still frees
them, only cycles among them wait until `thaw` (the daemon's stop). Never called per step.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect what start-up left behind, then freeze the rest (after recovery, once)."""
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """Give the frozen objects back to the collector (the hub stopped; tests start many hubs)."""
    gc.unfreeze()
