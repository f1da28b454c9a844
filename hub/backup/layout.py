"""What a backup file holds: its format name and version, its members and where each goes.

Shared by making (hub/backup/archive.py), checking (hub/backup/verify.py) and restoring
(hub/backup/restore.py) a backup, as is BackupError, which all of them raise.
"""

from __future__ import annotations

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
COPY_BLOCK = 1 << 16


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why, in one line."""
