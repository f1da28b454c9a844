"""Software debounce of GPIO lines, pure: for chips whose kernel driver cannot debounce."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LineDebounce"]


class LineDebounce:
    """Per-line software debounce: a level counts once it has held `period` seconds after its last edge.

    `edge(line, level, at)` records an edge (at: monotonic seconds); `due(now)` returns the
    (line, level) changes whose quiet time has passed, each only if it differs from the
    line's stable level; `next_deadline()` says when to call `due` next. A period of 0
    accepts every edge at once (the kernel already debounced).
    """

    def __init__(self, period: float, levels: Mapping[int, bool]) -> None:
        self.period = period
        self.stable: dict[int, bool] = dict(levels)
        self._pending: dict[int, tuple[bool, float]] = {}

    def edge(self, line: int, level: bool, at: float) -> None:
        if line in self.stable:
            self._pending[line] = (level, at + self.period)

    def due(self, now: float) -> list[tuple[int, bool]]:
        changes: list[tuple[int, bool]] = []
        for line, (level, deadline) in list(self._pending.items()):
            if deadline <= now:
                del self._pending[line]
                if self.stable[line] != level:
                    self.stable[line] = level
                    changes.append((line, level))
        return changes

    def next_deadline(self) -> float | None:
        return min((deadline for _, deadline in self._pending.values()), default=None)
