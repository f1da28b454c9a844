"""Web Push subscriptions of the dashboard app: which browser endpoints belong to which user.

A subscription is what a browser's `PushManager.subscribe()` returns: the push service's
endpoint URL plus the browser's P-256 key (`p256dh`) and auth secret, both base64url. The
endpoint identifies one browser profile, so it is unique here: when another user logs in
on the same browser and subscribes again, the subscription moves to that user.

Synchronous and serialised by a lock, like `hub.store.accounts`: the web handlers and the Web
Push channel call it through `asyncio.to_thread` on the account connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PER_USER", "PushStore", "PushSubscription"]

MAX_PER_USER = 10  # browsers per dashboard user; an 11th subscription replaces the oldest


@dataclass(frozen=True, slots=True)
class PushSubscription:
    id: int
    username: str
    endpoint: str
    p256dh: str  # base64url, the browser's uncompressed P-256 public key
    auth: str  # base64url, 16-byte auth secret
    user_agent: str | None
    created_at: float

    def info(self) -> dict[str, str | dict[str, str]]:
        """The `subscription_info` dict pywebpush expects."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


_COLUMNS = "id, username, endpoint, p256dh, auth, user_agent, created_at"


def _row(row: sqlite3.Row | tuple[Any, ...]) -> PushSubscription:
    """Works with or without `sqlite3.Row` as the connection's row factory."""
    return PushSubscription(
        id=int(row[0]),
        username=row[1],
        endpoint=row[2],
        p256dh=row[3],
        auth=row[4],
        user_agent=row[5],
        created_at=float(row[6]),
    )


class PushStore:
    """The `push_subscriptions` table on one sqlite3 connection (thread-safe)."""

    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock
        self._lock = threading.Lock()

    def add(
        self, username: str, endpoint: str, p256dh: str, auth: str, user_agent: str | None = None
    ) -> PushSubscription:
        """Store (or replace, when the endpoint is known) the subscription of `username`. A user
        keeps at most `MAX_PER_USER` subscriptions: beyond that the oldest ones go (every alarm
        is pushed to each of them, so their number must not grow without bound)."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute(
                    "INSERT INTO push_subscriptions (username, endpoint, p256dh, auth, user_agent, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (endpoint) DO UPDATE SET username = excluded.username, p256dh = excluded.p256dh,"
                    " auth = excluded.auth, user_agent = excluded.user_agent, created_at = excluded.created_at",
                    (username, endpoint, p256dh, auth, user_agent, self.clock()),
                )
                row = self.conn.execute(
                    f"SELECT {_COLUMNS} FROM push_subscriptions WHERE endpoint = ?", (endpoint,)
                ).fetchone()
                # Oldest first by when they were (re)subscribed; the one just stored always stays.
                self.conn.execute(
                    "DELETE FROM push_subscriptions WHERE username = ? AND id NOT IN ("
                    " SELECT id FROM push_subscriptions WHERE username = ?"
                    " ORDER BY id = ? DESC, created_at DESC, id DESC LIMIT ?)",
                    (username, username, int(row[0]), MAX_PER_USER),
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return _row(row)

    def remove(self, username: str, endpoint: str) -> bool:
        """Remove `username`'s subscription at `endpoint`; False when there is none (or it is someone else's)."""
        with self._lock:
            cur = self.conn.execute(
                "DELETE FROM push_subscriptions WHERE username = ? AND endpoint = ?", (username, endpoint)
            )
            return cur.rowcount > 0

    def remove_endpoint(self, endpoint: str) -> bool:
        """Forget an endpoint whoever owns it (the push service answered 404/410: it is gone)."""
        with self._lock:
            cur = self.conn.execute("DELETE FROM push_subscriptions WHERE endpoint = ?", (endpoint,))
            return cur.rowcount > 0

    def remove_user(self, username: str) -> int:
        with self._lock:
            cur = self.conn.execute("DELETE FROM push_subscriptions WHERE username = ?", (username,))
            return cur.rowcount

    def for_users(self, usernames: Iterable[str]) -> list[PushSubscription]:
        names = sorted(set(usernames))
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM push_subscriptions WHERE username IN ({marks}) ORDER BY id", names
            ).fetchall()
        return [_row(r) for r in rows]

    def all(self) -> list[PushSubscription]:
        with self._lock:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM push_subscriptions ORDER BY id").fetchall()
        return [_row(r) for r in rows]
