"""`casahub backup` and `casahub restore`: one file holding the database, the config and the keys.

A backup is a gzip-compressed tar whose first member is `manifest.json` (format version,
casahub version, creation time, hub name, schema version, and the size and SHA-256 of every
other member), followed by `casahub.db`, the config file as `casahub.toml` (when one was
given), `certs/hub.crt`, `certs/hub.key`, `vapid_private.pem`, `centre.seq` and
`camera-tokens.json` (digests of the cameras' event tokens), those that exist. The database
is copied with SQLite's online backup API in one step, i.e. inside one read transaction: the
copy is the state of one commit, taken while the daemon keeps writing (WAL readers do not
block the writer), and it is switched to a rollback journal so the archived file stands alone.

With a passphrase the whole archive is encrypted (layout below), so nothing of it, not even
the manifest, can be read or changed without the passphrase:

    magic      16 bytes  b"CASAHUB-BACKUP-1"
    version     1 byte   1
    log2 N      1 byte   scrypt cost (r and p below), N = 2**log2N
    r           1 byte
    p           1 byte
    chunk       4 bytes  plaintext bytes per chunk, big-endian
    salt       16 bytes  scrypt salt (random)
    nonce      7 bytes   nonce prefix (random)
    mac        32 bytes  HMAC-SHA256 of all the bytes above, keyed with the second half of the scrypt output
    chunks...            AES-256-GCM(key = first half of the scrypt output,
                                     nonce = prefix + 4-byte counter + 1-byte last-chunk flag,
                                     aad = the 79 header bytes including the mac)

The header MAC tells a wrong passphrase apart from a damaged body; the counter and the last
flag in each nonce make reordered, dropped or truncated chunks fail authentication (the
STREAM construction). Chunking keeps memory flat whatever the size of the database.

`restore_backup` checks everything before it replaces anything: the format, the passphrase,
every chunk, the manifest and each member's hash, `PRAGMA integrity_check` of the database
and its schema version (not newer than this build). Then `review` sees the `RestorePlan`: the
users, valid tokens, contacts and centre the backup would install, and whether it is
authenticated. An encrypted backup is (each chunk's AES-GCM tag, under a key only the
passphrase gives); an unencrypted one is not: its checksums prove it is intact, not who made
it, and `casahub restore` shows the plan and asks (or needs `--yes`). Only then, and only with
`force` (or a yes from `confirm`) when it would replace files, and never while a daemon has the
database open, it moves the files into place, keeping each replaced file once as
`NAME.before-restore`.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import hashlib
import hmac
import io
import json
import os
import secrets
import shutil
import sqlite3
import struct
import tarfile
import tempfile
import tomllib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from hub.store.db import MIGRATIONS

MAGIC = b"CASAHUB-BACKUP-1"
CONTAINER_VERSION = 1
FORMAT_NAME = "casahub-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_NAME = "casahub.db"
CONFIG_MEMBER = "casahub.toml"
BEFORE_RESTORE = ".before-restore"

# Archive member -> path inside the data dir (the config goes to its own destination).
DATA_MEMBERS: dict[str, str] = {
    DB_NAME: DB_NAME,
    "certs/hub.crt": "certs/hub.crt",
    "certs/hub.key": "certs/hub.key",
    "vapid_private.pem": "vapid_private.pem",
    "centre.seq": "centre.seq",
    "camera-tokens.json": "camera-tokens.json",
}
MEMBERS = (DB_NAME, CONFIG_MEMBER, *(m for m in DATA_MEMBERS if m != DB_NAME))

DEFAULT_SCRYPT_LOG2_N = 17  # 128 MiB, about a second on a desktop: the cost of each guess
SCRYPT_R, SCRYPT_P = 8, 1
MAX_SCRYPT_LOG2_N = 20  # a header asking for more memory than a Pi has is refused, not tried
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 16 << 20
TAG_SIZE = 16
_HEADER = struct.Struct(">16sBBBBI16s7s")
HEADER_SIZE = _HEADER.size + 32
COPY_BLOCK = 1 << 16


UNENCRYPTED_WARNING = (
    "warning: {file} is not encrypted and holds secrets (password hashes, the TLS and push keys, "
    "the config's channel credentials): keep it safe, or encrypt it with --passphrase-file FILE or "
    "CASAHUB_BACKUP_PASSPHRASE (--encrypt asks for a passphrase on a terminal)"
)


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why, in one line."""


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


@dataclass(frozen=True)
class RestorePlan:
    """What a restore would install, read from the checked backup before anything is replaced.

    An unencrypted backup's checksums prove that it is intact, not who made it: anyone who held
    the file may have added an owner or pointed the centre elsewhere. So a restore shows this
    and lets a person say yes (`casahub restore` on a terminal, or `--yes`). An encrypted
    backup is `authenticated`: every byte was checked with the key from the passphrase."""

    src: Path
    authenticated: bool
    manifest: dict[str, Any]
    users: list[dict[str, str]]  # {"username", "role"}
    tokens: list[dict[str, Any]]  # the valid ones: {"id", "role", "user", "label", "expires_at"}
    contacts: list[dict[str, Any]]  # {"name", "phone", "email", "source": "config" | "dashboard"}
    centre: str | None  # one line; None when the backup holds no config (the current one stays)
    has_config: bool
    replaced: list[Path]  # existing files the restore replaces (kept as NAME.before-restore)

    def lines(self) -> list[str]:
        """The plan for a person to read (values from the backup are shown escaped)."""
        manifest = self.manifest
        made = f"backup of {_shown(manifest.get('created_at'))} (casahub {_shown(manifest.get('casahub_version'))}"
        if manifest.get("hub_name"):
            made += f", hub {_shown(manifest['hub_name'])}"
        head = (
            f"{self.src}: {made}), authenticated: encrypted with this passphrase, not changed since"
            if self.authenticated
            else f"{self.src}: {made}), NOT encrypted: nothing proves who made it or that it was not edited"
        )
        out = [head, f"users ({len(self.users)}):"]
        out += [f"  {_shown(u['username'])}  {_shown(u['role'])}" for u in self.users] or ["  none"]
        out.append(f"API tokens ({len(self.tokens)} valid):")
        for t in self.tokens:
            who = f", for {_shown(t['user'])}" if t["user"] else ""
            label = f' "{_shown(t["label"])}"' if t["label"] else ""
            until = f", until {_when(t['expires_at'])}" if t["expires_at"] is not None else ", never expires"
            out.append(f"  {_shown(t['id'])}  {_shown(t['role'])}{who}{label}{until}")
        if not self.tokens:
            out.append("  none")
        out.append(f"contacts ({len(self.contacts)}):")
        for c in self.contacts:
            reach = ", ".join(_shown(v) for v in (c["phone"], c["email"]) if v) or "no phone, no email"
            out.append(
                f"  {_shown(c['name'])}: {reach}"
                + (" (added from the dashboard)" if c["source"] == "dashboard" else "")
            )
        if not self.contacts:
            out.append("  none")
        if self.has_config:
            out.append(f"assistance centre: {self.centre or 'none configured'}")
        else:
            out.append("assistance centre: unchanged (the backup holds no config)")
        if self.replaced:
            out.append("replaces: " + ", ".join(str(p) for p in self.replaced) + f" (kept as NAME{BEFORE_RESTORE})")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "authenticated": self.authenticated,
            "users": self.users,
            "tokens": self.tokens,
            "contacts": self.contacts,
            "centre": self.centre if self.has_config else None,
            "replaces": [str(p) for p in self.replaced],
        }


@dataclass(frozen=True)
class RestoreInfo:
    restored: list[Path]  # where each member was written
    kept: list[Path]  # the replaced files, now NAME.before-restore
    manifest: dict[str, Any]
    plan: RestorePlan | None = None


# ---------------------------------------------------------------- helpers


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _casahub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casahub")
    except PackageNotFoundError:
        return "0+unknown"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if not passphrase:
        raise BackupError("the passphrase is empty")
    key = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return key[:32], key[32:]


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class _EncryptWriter:
    """A write-only file object: buffers plaintext, writes authenticated chunks to `out`."""

    def __init__(self, out: IO[bytes], passphrase: str, log2_n: int) -> None:
        salt, prefix = secrets.token_bytes(16), secrets.token_bytes(7)
        key, mac_key = _derive(passphrase, salt, log2_n, SCRYPT_R, SCRYPT_P)
        head = _HEADER.pack(MAGIC, CONTAINER_VERSION, log2_n, SCRYPT_R, SCRYPT_P, CHUNK_SIZE, salt, prefix)
        self.header = head + hmac.new(mac_key, head, hashlib.sha256).digest()
        self._aead = AESGCM(key)
        self._prefix = prefix
        self._out = out
        self._buffer = bytearray()
        self._counter = 0
        out.write(self.header)

    def write(self, data: bytes) -> int:
        self._buffer += data
        # Strictly more than one chunk buffered: the last chunk (flagged) is written by finish().
        while len(self._buffer) > CHUNK_SIZE:
            self._emit(bytes(self._buffer[:CHUNK_SIZE]), last=False)
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def flush(self) -> None:
        pass

    def _emit(self, plain: bytes, *, last: bool) -> None:
        if self._counter > 0xFFFFFFFF:
            raise BackupError("the backup is too large")
        nonce = _nonce(self._prefix, self._counter, last)
        self._out.write(self._aead.encrypt(nonce, plain, self.header))
        self._counter += 1

    def finish(self) -> None:
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()


class _DecryptReader:
    """A read-only file object over the chunks: returns only authenticated plaintext."""

    def __init__(self, raw: IO[bytes], passphrase: str, header: bytes) -> None:
        _, _, log2_n, r, p, chunk, salt, prefix = _HEADER.unpack(header[: _HEADER.size])
        if not 10 <= log2_n <= MAX_SCRYPT_LOG2_N or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise BackupError("the backup header is damaged (key derivation parameters out of range)")
        if not 1 <= chunk <= MAX_CHUNK_SIZE:
            raise BackupError("the backup header is damaged (chunk size out of range)")
        key, mac_key = _derive(passphrase, salt, log2_n, r, p)
        expected = hmac.new(mac_key, header[: _HEADER.size], hashlib.sha256).digest()
        if not hmac.compare_digest(expected, header[_HEADER.size :]):
            raise BackupError("wrong passphrase (or the backup's header is damaged)")
        self._aead = AESGCM(key)
        self._header = header
        self._prefix = prefix
        self._raw = raw
        self._block = chunk + TAG_SIZE
        self._next = raw.read(self._block)
        self._counter = 0
        self._plain = b""
        self._offset = 0
        self.finished = False

    def _fill(self) -> None:
        current = self._next
        if len(current) < TAG_SIZE:
            raise BackupError("the backup is truncated")
        self._next = self._raw.read(self._block) if len(current) == self._block else b""
        last = not self._next
        try:
            self._plain = self._aead.decrypt(_nonce(self._prefix, self._counter, last), current, self._header)
        except InvalidTag:
            where = HEADER_SIZE + self._counter * self._block
            what = "truncated or damaged" if last else "damaged"
            raise BackupError(f"the backup is {what} (authentication failed at byte {where})") from None
        self._offset = 0
        self._counter += 1
        self.finished = last

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        want = size if size >= 0 else 1 << 62
        while want > 0:
            if self._offset >= len(self._plain):
                if self.finished:
                    break
                self._fill()
                continue
            part = self._plain[self._offset : self._offset + want]
            self._offset += len(part)
            want -= len(part)
            parts.append(part)
        return b"".join(parts)


def is_encrypted(path: Path) -> bool:
    """True when `path` starts like an encrypted casahub backup (the passphrase is needed)."""
    try:
        with Path(path).open("rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


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


def _shown(value: object, limit: int = 120) -> str:
    """A value from a backup as one safe line: control characters (terminal escapes) escaped, cut short."""
    text = "" if value is None else str(value)
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _when(timestamp: object) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(float(timestamp), datetime.UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return _shown(timestamp)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _centre_line(centre: Any) -> str | None:
    if not isinstance(centre, dict) or not centre:
        return None
    protocol = centre.get("protocol", "dc09")
    if protocol == "webhook":
        return f"webhook {_shown(centre.get('url'))}"
    line = (
        f"DC-09 to {_shown(centre.get('host'))}:{_shown(centre.get('port'))}, account {_shown(centre.get('account'))}"
    )
    if centre.get("backup_host"):
        line += f"; backup receiver {_shown(centre.get('backup_host'))}:{_shown(centre.get('backup_port'))}"
    return line


def _plan(
    src: Path, manifest: dict[str, Any], staged: dict[str, Path], encrypted: bool, replaced: list[Path]
) -> RestorePlan:
    """Who and what the staged backup would install: users, valid tokens, contacts and the centre."""
    users: list[dict[str, str]] = []
    tokens: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    try:
        conn = sqlite3.connect(f"{staged[DB_NAME].resolve().as_uri()}?mode=ro", uri=True)
        try:
            for username, role in conn.execute("SELECT username, role FROM users ORDER BY role, username"):
                users.append({"username": str(username), "role": str(role)})
            now = datetime.datetime.now(datetime.UTC).timestamp()
            for token_id, role, user, label, expires_at in conn.execute(
                "SELECT id, role, username, label, expires_at FROM tokens"
                " WHERE revoked = 0 AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
                (now,),
            ):
                tokens.append(
                    {"id": str(token_id), "role": str(role), "user": user, "label": label, "expires_at": expires_at}
                )
            with contextlib.suppress(sqlite3.OperationalError):  # a schema from before dashboard contacts
                for name, phone, email in conn.execute("SELECT name, phone, email FROM contacts ORDER BY name"):
                    contacts.append({"name": name, "phone": phone, "email": email, "source": "dashboard"})
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"the database in the backup cannot be read: {exc}") from None
    centre: str | None = None
    has_config = CONFIG_MEMBER in staged
    if has_config:
        try:
            config = tomllib.loads(staged[CONFIG_MEMBER].read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BackupError(f"the config in the backup cannot be read: {exc}") from None
        entries = config.get("contacts", [])
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                contacts.insert(
                    sum(c["source"] == "config" for c in contacts),
                    {
                        "name": entry.get("name"),
                        "phone": entry.get("phone"),
                        "email": entry.get("email"),
                        "source": "config",
                    },
                )
        centre = _centre_line(config.get("centre"))
    return RestorePlan(
        src=src,
        authenticated=encrypted,
        manifest=manifest,
        users=users,
        tokens=tokens,
        contacts=contacts,
        centre=centre,
        has_config=has_config,
        replaced=replaced,
    )


# ---------------------------------------------------------------- backup


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
            _write_private(target, data)
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
                name: {"sha256": _sha256_file(staged[name]), "bytes": staged[name].stat().st_size} for name in members
            },
        }
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"

        tmp_out = staging / "out"
        fd = os.open(tmp_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            encryptor = _EncryptWriter(out, passphrase, scrypt_log2_n) if passphrase is not None else None
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
        _fsync_dir(dest_dir)
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


# ---------------------------------------------------------------- restore


def _open_archive(raw: IO[bytes], src: Path, passphrase: str | None) -> tuple[Any, _DecryptReader | None, bool]:
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
        reader = _DecryptReader(raw, passphrase, header)
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


def _extract(
    src: Path, raw: IO[bytes], stream: Any, reader: _DecryptReader | None, encrypted: bool, staging: Path
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


def _check_database(path: Path) -> int:
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


def _same_content(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        return _sha256_file(a) == _sha256_file(b)
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
    stream, reader, encrypted = _open_archive(raw, src, passphrase)
    created: list[Path] = []
    for directory in reversed([data_dir, *data_dir.parents]):
        if not directory.exists():
            directory.mkdir(mode=0o700)
            created.append(directory)
    staging = Path(tempfile.mkdtemp(prefix=".casahub-restore-", dir=data_dir))
    config_tmp: Path | None = None
    try:
        manifest, staged = _extract(src, raw, stream, reader, encrypted, staging)
        _check_database(staged[DB_NAME])

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
        plan = _plan(src, manifest, staged, encrypted, replaced)
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
            _fsync_dir(directory)
    except OSError as exc:
        for target, aside in reversed(done):
            with contextlib.suppress(OSError):
                if aside is not None:
                    os.replace(aside, target)
                elif target.exists():
                    target.unlink()
        raise BackupError(f"cannot write {exc.filename or data_dir}: {exc.strerror or exc}") from None
    return [m.target for m in moves], kept
