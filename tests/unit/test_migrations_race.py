"""The daemon and the CLI may open a new database at the same moment (install.sh creates the
owner while the service starts): whoever migrates second finds the work done, and a failed
migration leaves the schema it found."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from hub.store import db as db_mod
from hub.store.db import MIGRATIONS, Database, open_sync


def test_the_second_opener_waits_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "casahub.db"
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("BEGIN IMMEDIATE")  # the daemon is migrating right now
    opened: list[sqlite3.Connection | BaseException] = []

    def cli() -> None:
        try:
            opened.append(open_sync(path))
        except BaseException as exc:  # handed to the test
            opened.append(exc)

    second = threading.Thread(target=cli)
    second.start()
    second.join(0.5)  # it has read the version (0) and waits for the write lock
    for number, script in enumerate(MIGRATIONS, start=1):
        for statement in db_mod._split_sql(script):
            first.execute(statement)
        first.execute(f"PRAGMA user_version={number}")
    first.execute("COMMIT")
    second.join(30)
    assert len(opened) == 1 and isinstance(opened[0], sqlite3.Connection), opened
    assert opened[0].execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    opened[0].close()
    first.close()


async def test_a_failing_migration_leaves_the_schema_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "casahub.db"
    open_sync(path).close()
    monkeypatch.setattr(db_mod, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE later (x); INSERT INTO nowhere VALUES (1)"])
    database = Database(path)
    with pytest.raises(db_mod.StorageError):
        await database.open()
    await database.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert check.execute("SELECT name FROM sqlite_master WHERE name = 'later'").fetchone() is None
    check.close()
