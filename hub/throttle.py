"""Failure throttles for logins and alarm codes (brute-force protection).

Kept in memory: a restart clears them, which costs an attacker a restart per few
guesses — acceptable, and it keeps the SD card free of a write per failed attempt.
"""

from __future__ import annotations

from collections import deque


class FailureThrottle:
    """At most `limit` failures per key within `window` seconds; then locked.

    With `lockout` set, reaching the limit locks the key for `lockout` seconds from the
    last failure (alarm codes: 3 wrong -> 90 s). Without it, the key is locked until the
    oldest counted failure leaves the window (logins: 5 in 15 minutes).
    """

    def __init__(self, limit: int, window: float, lockout: float | None = None) -> None:
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until `key` may try again, or None when it may try now."""
        failures = self._failures.get(key)
        if not failures:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < self.limit:
            if not failures:
                del self._failures[key]
            return None
        until = failures[-1] + self.lockout if self.lockout is not None else failures[0] + self.window
        if until <= now:
            failures.clear()
            return None
        return until - now

    def failure(self, key: str, now: float) -> None:
        failures = self._failures.setdefault(key, deque())
        failures.append(now)
        while len(failures) > self.limit:
            failures.popleft()

    def success(self, key: str) -> None:
        self._failures.pop(key, None)

    def forget(self, key: str, at: float) -> None:
        """Take back one failure counted at `at` (it turned out to be a success), keep the others."""
        failures = self._failures.get(key)
        if failures and at in failures:
            failures.remove(at)
