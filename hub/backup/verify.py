"""Checking a backup before anything is replaced (hub/backup/restore.py): the format, the
passphrase, every chunk, the manifest and each member's size and SHA-256, `PRAGMA
integrity_check` of the database and its schema version (not newer than this build)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import sqlite3
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

from hub.backup.encryption import CONTAINER_VERSION, HEADER_SIZE, MAGIC, DecryptReader
from hub.backup.layout import COPY_BLOCK, DB_NAME, FORMAT_NAME, FORMAT_VERSION, MANIFEST, MEMBERS, BackupError
from hub.store.db import MIGRATIONS


def open_archive(raw: IO[bytes], src: Path, passphrase: str | None) -> tuple[Any, DecryptReader | None, bool]:
    """The plaintext stream of the archive (still compressed), the decryptor, and whether it was encrypted."""
    head = raw.read(len(MAGIC))
    if head == MAGIC:
        if passphrase is None:
            raise BackupError(
                f"{src} is encrypted: give the passphrase with --passphrase-file or CASAHUB_BACKUP_PASSPHRASE"
            )
        header = head + raw.read(HEADER_SIZE - len(MAGIC))
        if len(header) < HEADER_SIZE:
            raise BackupError(f"{src} is truncated (incomplete header)")
        if header[len(MAGIC)] != CONTAINER_VERSION:
            raise BackupError(f"{src} was made by a newer casahub (container version {header[len(MAGIC)]})")
        reader = DecryptReader(raw, passphrase, header)
        return reader, reader, True
    if not head:
        raise BackupError(f"{src} is empty")
    if len(head) < len(MAGIC) and MAGIC.startswith(head):
        raise BackupError(f"{src} is truncated (incomplete header)")
    if head[:2] == b"\x1f\x8b":
        raw.seek(0)
        return raw, None, False
    raise BackupError(f"{src} is not a casahub backup")


def _check_manifest(data: bytes, encrypted: bool) -> dict[str, Any]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BackupError("the backup's manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BackupError("not a casahub backup (its manifest is not one)")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise BackupError("the backup's manifest has no format version")
    if version > FORMAT_VERSION:
        raise BackupError(f"the backup was made by a newer casahub (format {version}): upgrade casahub first")
    if bool(manifest.get("encrypted")) != encrypted:
        raise BackupError("the backup's manifest does not match its encryption")
    members = manifest.get("members")
    if not isinstance(members, dict) or DB_NAME not in members:
        raise BackupError("the backup's manifest lists no database")
    for name, entry in members.items():
        if name not in MEMBERS:
            raise BackupError(f"the backup's manifest lists an unknown member {name!r}")
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("bytes"), int)
            or entry["bytes"] < 0
        ):
            raise BackupError(f"the backup's manifest entry for {name} is malformed")
    return manifest


def extract(
    src: Path, raw: IO[bytes], stream: Any, reader: DecryptReader | None, encrypted: bool, staging: Path
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Decompress and check every member into `staging`. Raises BackupError."""
    manifest: dict[str, Any] | None = None
    staged: dict[str, Path] = {}
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            for info in tar:
                if manifest is None:
                    if info.name != MANIFEST or not info.isreg() or info.size > 1 << 20:
                        raise BackupError(f"{src} is not a casahub backup (no manifest)")
                    fh = tar.extractfile(info)
                    assert fh is not None
                    manifest = _check_manifest(fh.read(), encrypted)
                    continue
                entry = manifest["members"].get(info.name)
                if entry is None or not info.isreg():
                    raise BackupError(f"the backup holds an unexpected member {info.name!r}")
                if info.name in staged:
                    raise BackupError(f"the backup holds {info.name} twice")
                if info.size != entry["bytes"]:
                    raise BackupError(f"{info.name} in the backup does not match the manifest (size)")
                fh = tar.extractfile(info)
                assert fh is not None
                target = staging / info.name.replace("/", "__")
                if not hmac.compare_digest(_stage(fh, target), entry["sha256"]):
                    raise BackupError(f"{info.name} in the backup does not match the manifest (SHA-256)")
                staged[info.name] = target
            # Read to the end: the gzip trailer (CRC, length) and, encrypted, the last chunk's flag.
            while gz.read(COPY_BLOCK):
                pass
        if reader is not None and (not reader.finished or raw.read(1)):
            raise BackupError(f"{src} is damaged (data after the end)")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        raise BackupError(f"{src} is damaged or truncated ({detail})") from None
    if manifest is None:
        raise BackupError(f"{src} is not a casahub backup (no manifest)")
    missing = sorted(set(manifest["members"]) - set(staged))
    if missing:
        raise BackupError(f"{src} is incomplete: missing {', '.join(missing)}")
    return manifest, staged


def _stage(fh: IO[bytes], target: Path) -> str:
    """Copy a member into the staging dir; returns its SHA-256."""
    digest = hashlib.sha256()
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        out = os.fdopen(fd, "wb")
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    with out:
        while block := fh.read(COPY_BLOCK):  # a damaged archive raises here: "damaged or truncated"
            digest.update(block)
            try:
                out.write(block)
            except OSError as exc:
                raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
        try:
            out.flush()
            os.fsync(out.fileno())
        except OSError as exc:
            raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def check_database(path: Path) -> int:
    """integrity_check and schema version of the staged database; returns the version."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"the database in the backup cannot be read: {exc}") from None
    if result != ["ok"]:
        raise BackupError(f"the database in the backup fails its integrity check: {'; '.join(result[:3])}")
    if version > len(MIGRATIONS):
        raise BackupError(
            f"the database in the backup has schema version {version}, newer than this casahub's "
            f"{len(MIGRATIONS)}: upgrade casahub first"
        )
    return version
