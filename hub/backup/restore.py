"""`casahub restore`: a backup file written back into the data dir.

`restore_backup` checks everything before it replaces anything (hub/backup/verify.py): the
format, the passphrase, every chunk, the manifest and each member's hash, `PRAGMA
integrity_check` of the database and its schema version (not newer than this build). Then
`review` sees the `RestorePlan` (hub/backup/restore_plan.py): the users, valid tokens, contacts
and centre the backup would install, and whether it is authenticated. An encrypted backup is
(each chunk's AES-GCM tag, under a key only the passphrase gives); an unencrypted one is not:
its checksums prove it is intact, not who made it, and `casahub restore` shows the plan and
asks (or needs `--yes`). Only then, and only with `force` (or a yes from `confirm`) when it
would replace files, and never while a daemon has the database open, it moves the files into
place, keeping each replaced file once as `NAME.before-restore`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hub.backup.files import fsync_dir, sha256_file
from hub.backup.layout import BEFORE_RESTORE, CONFIG_MEMBER, DATA_MEMBERS, DB_NAME, BackupError
from hub.backup.restore_plan import RestorePlan, read_plan
from hub.backup.verify import check_database, extract, open_archive


@dataclass(frozen=True)
class RestoreInfo:
    restored: list[Path]  # where each member was written
    kept: list[Path]  # the replaced files, now NAME.before-restore
    manifest: dict[str, Any]
    plan: RestorePlan | None = None


def _same_content(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        return sha256_file(a) == sha256_file(b)
    except OSError:
        return False


def _take_database(db_path: Path) -> None:
    """Make sure no daemon has the database open, and fold its WAL into it (the kept copy stands alone).

    Leaving WAL mode needs the only connection: with the daemon running it fails, and nothing changed.
    """
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=rw", uri=True, timeout=1, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the current database {db_path}: {exc}") from None
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(
                f"the database {db_path} is in use (is the daemon running?): stop it before restoring"
            ) from None
        mode = None  # a damaged current database: it is being replaced anyway
    except sqlite3.DatabaseError:
        mode = None
    finally:
        conn.close()
    if mode is not None and str(mode).lower() != "delete":
        raise BackupError(f"the database {db_path} is in use (is the daemon running?): stop it before restoring")


@dataclass
class _Move:
    staged: Path
    target: Path
    mode: int


def restore_backup(
    src: Path,
    data_dir: Path,
    *,
    config_dest: Path | None = None,
    passphrase: str | None = None,
    force: bool = False,
    confirm: Callable[[str], bool] | None = None,
    review: Callable[[RestorePlan], bool] | None = None,
) -> RestoreInfo:
    """Check the backup completely, then write its files into `data_dir` (and the config to
    `config_dest`, default `data_dir/casahub.toml`). `review(plan)` (when given) sees what the
    restore would install before anything is replaced, and cancels it by returning False (or
    by raising BackupError). Replacing existing files then needs `force` or `confirm(question)`
    returning True. On any error nothing was changed."""
    src, data_dir = Path(src), Path(data_dir)
    config_dest = Path(config_dest) if config_dest is not None else data_dir / CONFIG_MEMBER
    if not src.is_file():
        raise BackupError(f"no such backup file: {src}")
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"{data_dir} is not a directory")

    try:
        raw = src.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {src}: {exc.strerror or exc}") from None
    with raw:
        return _restore(src, raw, data_dir, config_dest, passphrase, force, confirm, review)


def _restore(
    src: Path,
    raw: IO[bytes],
    data_dir: Path,
    config_dest: Path,
    passphrase: str | None,
    force: bool,
    confirm: Callable[[str], bool] | None,
    review: Callable[[RestorePlan], bool] | None,
) -> RestoreInfo:
    # A wrong passphrase or a foreign file is refused before anything is created.
    stream, reader, encrypted = open_archive(raw, src, passphrase)
    created: list[Path] = []
    for directory in reversed([data_dir, *data_dir.parents]):
        if not directory.exists():
            directory.mkdir(mode=0o700)
            created.append(directory)
    staging = Path(tempfile.mkdtemp(prefix=".casahub-restore-", dir=data_dir))
    config_tmp: Path | None = None
    try:
        manifest, staged = extract(src, raw, stream, reader, encrypted, staging)
        check_database(staged[DB_NAME])

        moves: list[_Move] = []
        for name, path in staged.items():
            if name == CONFIG_MEMBER:
                continue
            moves.append(_Move(path, data_dir / DATA_MEMBERS[name], 0o644 if name.endswith(".crt") else 0o600))
        if CONFIG_MEMBER in staged:
            moves.append(_Move(staged[CONFIG_MEMBER], config_dest, 0o600))

        db_target = data_dir / DB_NAME
        replaced = [m.target for m in moves if m.target.exists() and not _same_content(m.staged, m.target)]
        if db_target.exists() and db_target not in replaced:
            replaced.insert(0, db_target)
        plan = read_plan(src, manifest, staged, encrypted, replaced)
        if review is not None and not review(plan):
            raise BackupError("restore cancelled: nothing was changed")
        if replaced and not force:
            question = "replace " + ", ".join(str(p) for p in replaced) + f" (kept as *{BEFORE_RESTORE})?"
            if confirm is None or not confirm(question):
                what = f"{replaced[0]} and {len(replaced) - 1} more file(s)" if len(replaced) > 1 else f"{replaced[0]}"
                raise BackupError(
                    f"{what} would be replaced: give --force to restore over the current files"
                    f" (they are kept as NAME{BEFORE_RESTORE})"
                )
        if db_target.exists():
            _take_database(db_target)

        # The config may live on another filesystem (/etc): stage it beside its destination.
        for move in moves:
            if move.target == config_dest:
                config_dest.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{config_dest.name}.", suffix=".tmp", dir=config_dest.parent)
                config_tmp = Path(name)
                with os.fdopen(fd, "wb") as out, move.staged.open("rb") as fh:
                    shutil.copyfileobj(fh, out)
                    out.flush()
                    os.fsync(out.fileno())
                move.staged = config_tmp
        restored, kept = _commit(moves, data_dir)
        config_tmp = None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if config_tmp is not None:
            config_tmp.unlink(missing_ok=True)
        if not (data_dir / DB_NAME).exists():
            for directory in reversed(created):
                with contextlib.suppress(OSError):
                    directory.rmdir()
    return RestoreInfo(restored=restored, kept=kept, manifest=manifest, plan=plan)


def _owner_of(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def _commit(moves: list[_Move], data_dir: Path) -> tuple[list[Path], list[Path]]:
    """Move the staged files into place; on an error put back what was there."""
    done: list[tuple[Path, Path | None]] = []  # (target, its kept copy)
    kept: list[Path] = []
    # Stray WAL/SHM files of the old database would be applied to the new one: keep them aside too.
    db_target = data_dir / DB_NAME
    sidecars = [db_target.with_name(DB_NAME + suffix) for suffix in ("-wal", "-shm", "-journal")]
    try:
        for sidecar in sidecars:
            if sidecar.exists():
                moved = sidecar.with_name(sidecar.name + BEFORE_RESTORE)
                os.replace(sidecar, moved)
                done.append((sidecar, moved))
                kept.append(moved)
        for move in moves:
            move.target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            mode, owner = move.mode, None
            if move.target.exists():
                st = move.target.stat()
                mode, owner = st.st_mode & 0o777, (st.st_uid, st.st_gid)
            elif os.geteuid() == 0:
                owner = _owner_of(move.target.parent)
            os.chmod(move.staged, mode)
            if owner is not None and os.geteuid() == 0:
                os.chown(move.staged, *owner)
            aside: Path | None = None
            if move.target.exists():
                aside = move.target.with_name(move.target.name + BEFORE_RESTORE)
                os.replace(move.target, aside)
                kept.append(aside)
            done.append((move.target, aside))
            os.replace(move.staged, move.target)
        for directory in {m.target.parent for m in moves} | {data_dir}:
            fsync_dir(directory)
    except OSError as exc:
        for target, aside in reversed(done):
            with contextlib.suppress(OSError):
                if aside is not None:
                    os.replace(aside, target)
                elif target.exists():
                    target.unlink()
        raise BackupError(f"cannot write {exc.filename or data_dir}: {exc.strerror or exc}") from None
    return [m.target for m in moves], kept
