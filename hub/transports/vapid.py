"""The hub's VAPID key pair (RFC 8292): it signs every Web Push request the hub sends.

Browsers bind a push subscription to the application server key they were given at
`PushManager.subscribe()` time, so the key must stay the same across restarts: a new key
silently orphans every subscription. Where the key comes from:

1. `[push] vapid_private_key` / `vapid_private_key_file` in the config (already read by
   `hub.config` into `PushConfig.vapid_private_key`), else
2. `<data_dir>/vapid_private.pem`, generated on first start (mode 600) and reused after.

Accepted key texts: PEM (PKCS#8 or SEC 1 "EC PRIVATE KEY"), base64url DER, or the base64url
32-byte private scalar (what `web-push generate-vapid-keys` and `vapid --gen` print).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.config import PushConfig
from hub.transports.base import TransportError

__all__ = [
    "VAPID_FILE_NAME",
    "VapidKeyError",
    "VapidKeys",
    "application_server_key",
    "b64url_decode",
    "b64url_encode",
    "load_or_create",
    "load_private_key",
]

log = logging.getLogger(__name__)

VAPID_FILE_NAME = "vapid_private.pem"


class VapidKeyError(TransportError, ValueError):
    """The VAPID private key cannot be read or is not a P-256 key; the message says where it came from."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ValueError on anything else."""
    cleaned = "".join(text.split())
    if not cleaned or any(c not in _B64URL for c in cleaned.rstrip("=")):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(cleaned.rstrip("=") + "=" * (-len(cleaned.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM, base64url DER or a base64url raw scalar; VapidKeyError otherwise."""
    text = text.strip()
    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise VapidKeyError(f"not a readable unencrypted PEM private key ({exc})") from None
    else:
        try:
            raw = b64url_decode(text)
        except ValueError:
            raise VapidKeyError("neither PEM nor base64url") from None
        if len(raw) == 32:
            try:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            except ValueError as exc:
                raise VapidKeyError(f"not a valid P-256 private scalar ({exc})") from None
        else:
            try:
                key = serialization.load_der_private_key(raw, password=None)
            except (ValueError, TypeError) as exc:
                raise VapidKeyError(f"not a DER private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidKeyError("VAPID needs an EC P-256 (prime256v1) key")
    return key


def application_server_key(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The public key as the browser's `applicationServerKey` wants it: base64url uncompressed point."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url_encode(point)


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    source: str  # where it came from, for logs and `doctor`: "config" or the file path

    @property
    def public_key(self) -> str:
        """base64url uncompressed point (65 bytes), for `GET /api/v1/push/vapid`."""
        return application_server_key(self.private_key)

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")


def load_or_create(push: PushConfig | None, data_dir: Path) -> VapidKeys:
    """The configured key when `[push]` has one, else `<data_dir>/vapid_private.pem` (created on first use)."""
    if push is not None and push.vapid_private_key.reveal():
        where = str(push.vapid_private_key_file) if push.vapid_private_key_file else "[push] vapid_private_key"
        try:
            return VapidKeys(load_private_key(push.vapid_private_key.reveal()), source=where)
        except VapidKeyError as exc:
            raise VapidKeyError(f"{where}: {exc}") from None
    return _load_or_generate(data_dir / VAPID_FILE_NAME)


def _load_or_generate(path: Path) -> VapidKeys:
    if path.exists():
        return _load_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    keys = VapidKeys(key, source=str(path))
    # Written aside, then linked into place: a crash leaves no half-written key, and of two
    # processes starting at once the second finds the first one's key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, keys.private_pem.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _load_file(path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("generated a new VAPID key pair in %s", path)
    return keys


def _load_file(path: Path) -> VapidKeys:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise VapidKeyError(f"{path}: cannot read the VAPID key: {exc}") from None
    if path.stat().st_mode & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
    try:
        return VapidKeys(load_private_key(text), source=str(path))
    except VapidKeyError as exc:
        # Never replace it silently: every browser subscription is bound to this key.
        raise VapidKeyError(f"{path}: {exc} (move the file away to generate a new key)") from None
