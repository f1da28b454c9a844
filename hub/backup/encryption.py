"""The encrypted container of a backup made with a passphrase (hub/backup/archive.py).

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
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from hub.backup.layout import BackupError

MAGIC = b"CASAHUB-BACKUP-1"
CONTAINER_VERSION = 1

DEFAULT_SCRYPT_LOG2_N = 17  # 128 MiB, about a second on a desktop: the cost of each guess
SCRYPT_R, SCRYPT_P = 8, 1
MAX_SCRYPT_LOG2_N = 20  # a header asking for more memory than a Pi has is refused, not tried
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 16 << 20
TAG_SIZE = 16
_HEADER = struct.Struct(">16sBBBBI16s7s")
HEADER_SIZE = _HEADER.size + 32


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if not passphrase:
        raise BackupError("the passphrase is empty")
    key = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return key[:32], key[32:]


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class EncryptWriter:
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


class DecryptReader:
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
