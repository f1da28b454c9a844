"""The hub's data dir: where it is by default and whether this process can write it, said in one
line that tells the user what to do (`sudo chown ...`) rather than a traceback."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DataDirError", "check_writable", "default_data_dir", "running_as"]


class DataDirError(Exception):
    """The hub cannot write its data dir or database; the message is one line saying what to do."""


def _owner(path: Path) -> str:
    import pwd

    try:
        uid = path.stat().st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return "another user"


def running_as() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def check_writable(data_dir: Path) -> None:
    """DataDirError unless the data dir and the database files in it can be written by this process."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"cannot create the data dir {data_dir}: {exc.strerror or exc}") from None
    db = data_dir / "casahub.db"
    for path, mode in (
        (data_dir, os.W_OK | os.X_OK),
        (db, os.R_OK | os.W_OK),
        (db.with_name(db.name + "-wal"), os.R_OK | os.W_OK),
        (db.with_name(db.name + "-shm"), os.R_OK | os.W_OK),
    ):
        if path.exists() and not os.access(path, mode):
            raise DataDirError(
                f"cannot write {path}: it belongs to {_owner(path)} and the hub runs as {running_as()};"
                f" fix it with: sudo chown -R {running_as()}: {data_dir}"
            )


def default_data_dir() -> Path:
    system = Path("/var/lib/casahub")
    return system if system.is_dir() else Path.home() / ".local" / "share" / "casahub"
