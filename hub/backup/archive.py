"""`casahub backup`: one file holding the database, the config and the keys (`casahub restore` reads it back).

A backup is a gzip-compressed tar whose first member is `manifest.json` (format version,
casahub version, creation time, hub name, schema version, and the size and SHA-256 of every
other member), followed by `casahub.db`, the config file as `casahub.toml` (when one was
given), `certs/hub.crt`, `certs/hub.key`, `vapid_private.pem`, `centre.seq` and
`camera-tokens.json` (digests of the cameras' event tokens), those that exist. The database
is copied with SQLite's online backup API in one step, i.e. inside one read transaction: the
copy is the state of one commit, taken while the daemon keeps writing (WAL readers do not
block the writer), and it is switched to a rollback journal so the archived file stands alone.

With a passphrase the whole archive is encrypted: hub/backup/encryption.py. Checking a
backup is hub/backup/verify.py, restoring it hub/backup/restore.py; `hub.backup` exports
the public names of all of them.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hub.backup.encryption import DEFAULT_SCRYPT_LOG2_N, EncryptWriter
from hub.backup.files import fsync_dir, sha256_file, write_private
from hub.backup.layout import (
    CONFIG_MEMBER,
    DATA_MEMBERS,
    DB_NAME,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    MEMBERS,
    BackupError,
)

UNENCRYPTED_WARNING = (
    "warning: {file} is not encrypted and holds secrets (password hashes, the TLS and push keys, "
    "the config's channel credentials): keep it safe, or encrypt it with --passphrase-file FILE or "
    "CASAHUB_BACKUP_PASSPHRASE (--encrypt asks for a passphrase on a terminal)"
)


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    bytes: int
    encrypted: bool
    members: list[str]
    created_at: str
    hub_name: str | None
    schema_version: int
    # Files the config refers to (`*_file` keys, TLS files) that the backup does not hold.
    external_files: list[str] = field(default_factory=list)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _casahub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casahub")
    except PackageNotFoundError:
        return "0+unknown"


def _external_files(config_path: Path) -> list[str]:
    """Files the config names (`*_file` keys, `[web] tls` cert and key): they are not in the backup."""
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found: list[str] = []

    def walk(node: Any, keys: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*keys, str(key)))
        elif isinstance(node, list):
            for item in node:
                walk(item, keys)
        elif isinstance(node, str) and keys:
            last = keys[-1]
            if last.endswith("_file") or (len(keys) >= 2 and keys[-2:] in {("tls", "cert"), ("tls", "key")}):
                path = Path(node)
                found.append(str(path if path.is_absolute() else config_path.parent / path))

    walk(data, ())
    return sorted(set(found))


def _hub_name(config_path: Path) -> str | None:
    from hub.config import ConfigError, load_config

    try:
        return load_config(config_path).config.hub.name
    except (ConfigError, OSError):
        return None


def _copy_database(db_path: Path, dest: Path) -> int:
    """Online backup of the live database into `dest`; returns its schema version."""
    try:
        # mode=rw: a missing database is an error, not a new empty one.
        src = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the database {db_path}: {exc}") from None
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst = sqlite3.connect(dest, isolation_level=None)
        try:
            # pages=-1: the whole database in one step, inside one read transaction of `src`,
            # so the copy is one committed state even while the daemon writes.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")
            result = [row[0] for row in dst.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                raise BackupError(f"the database {db_path} fails its integrity check: {'; '.join(result[:3])}")
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database {db_path}: {exc}") from None
    finally:
        src.close()
    with dest.open("rb+") as fh:
        os.fsync(fh.fileno())
    return version


def create_backup(
    data_dir: Path,
    dest: Path,
    *,
    config_path: Path | None = None,
    passphrase: str | None = None,
    scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
) -> BackupInfo:
    """Write one backup file at `dest` (atomically, mode 0600); works while the daemon runs."""
    data_dir, dest = Path(data_dir), Path(dest)
    db_path = data_dir / DB_NAME
    if not db_path.is_file():
        raise BackupError(f"no database in {data_dir} (is it the hub's data directory?)")
    if config_path is not None and not Path(config_path).is_file():
        raise BackupError(f"cannot read the config file {config_path}")
    if passphrase is not None and not passphrase:
        raise BackupError("the passphrase is empty")
    if dest.is_dir():
        raise BackupError(f"{dest} is a directory: give a file name")
    dest_dir = dest.parent if str(dest.parent) else Path(".")
    if not dest_dir.is_dir():
        raise BackupError(f"no such directory: {dest_dir}")

    created_at = _now_iso()
    with tempfile.TemporaryDirectory(prefix=".casahub-backup-", dir=dest_dir) as tmp:
        staging = Path(tmp)
        with contextlib.suppress(OSError):  # a FAT USB stick has no modes
            os.chmod(staging, 0o700)
        staged: dict[str, Path] = {}
        schema = _copy_database(db_path, staging / DB_NAME)
        staged[DB_NAME] = staging / DB_NAME
        sources: dict[str, Path] = {name: data_dir / rel for name, rel in DATA_MEMBERS.items() if name != DB_NAME}
        if config_path is not None:
            sources[CONFIG_MEMBER] = Path(config_path)
        for name, source in sources.items():
            try:
                data = source.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise BackupError(f"cannot read {source}: {exc.strerror or exc}") from None
            target = staging / name.replace("/", "__")
            write_private(target, data)
            staged[name] = target
        members = [m for m in MEMBERS if m in staged]
        hub_name = _hub_name(Path(config_path)) if config_path is not None else None
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "casahub_version": _casahub_version(),
            "created_at": created_at,
            "hub_name": hub_name,
            "schema_version": schema,
            "encrypted": passphrase is not None,
            "config": str(Path(config_path).resolve()) if config_path is not None else None,
            "members": {
                name: {"sha256": sha256_file(staged[name]), "bytes": staged[name].stat().st_size} for name in members
            },
        }
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"

        tmp_out = staging / "out"
        fd = os.open(tmp_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            encryptor = EncryptWriter(out, passphrase, scrypt_log2_n) if passphrase is not None else None
            sink: Any = encryptor if encryptor is not None else out
            with gzip.GzipFile(filename="", fileobj=sink, mode="wb", compresslevel=6, mtime=0) as gz:
                with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    _add_member(tar, MANIFEST, io.BytesIO(manifest_bytes), len(manifest_bytes))
                    for name in members:
                        with staged[name].open("rb") as fh:
                            _add_member(tar, name, fh, staged[name].stat().st_size)
            if encryptor is not None:
                encryptor.finish()
            out.flush()
            os.fsync(out.fileno())
        size = tmp_out.stat().st_size
        os.replace(tmp_out, dest)
        fsync_dir(dest_dir)
    return BackupInfo(
        path=dest,
        bytes=size,
        encrypted=passphrase is not None,
        members=members,
        created_at=created_at,
        hub_name=hub_name,
        schema_version=schema,
        external_files=_external_files(Path(config_path)) if config_path is not None else [],
    )


def _add_member(tar: tarfile.TarFile, name: str, fh: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(datetime.datetime.now(datetime.UTC).timestamp())
    tar.addfile(info, fh)
