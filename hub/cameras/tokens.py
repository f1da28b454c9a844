"""Per-camera event tokens: what a camera presents when it calls `POST /api/v1/cameras/{id}/events`.

Cheap cameras can only call a URL, so the token may come as `?token=` as well as a bearer
header. The owner gets a token once (`POST /api/v1/cameras/{id}/token`); only its SHA-256
digest is kept, in `camera-tokens.json` in the data dir (mode 0600), so a copy of the data
dir gives no usable token. A new token replaces the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

__all__ = ["PREFIX", "CameraTokens"]

PREFIX = "chc_"  # casahub camera: tells a camera token from a user token (chb_) at a glance
FILE = "camera-tokens.json"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class CameraTokens:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def issue(self, camera: str) -> str:
        """A new token for `camera` (shown once; the previous one stops working)."""
        secret = f"{PREFIX}{secrets.token_urlsafe(24)}"
        digests = self._load()
        digests[camera] = _digest(secret)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(digests, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        return secret

    def check(self, camera: str, secret: str) -> bool:
        stored = self._load().get(camera)
        if not stored or not secret:
            return False
        return hmac.compare_digest(stored, _digest(secret))

    def has(self, camera: str) -> bool:
        return camera in self._load()

    def forget(self, camera: str) -> None:
        digests = self._load()
        if digests.pop(camera, None) is not None:
            with contextlib.suppress(OSError):
                self.path.write_text(json.dumps(digests), encoding="utf-8")
