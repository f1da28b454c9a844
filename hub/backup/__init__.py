"""Backups: the archive (create, verify, restore) and the nightly schedule.

One module per step: archive.py makes a backup file (its format: layout.py, its encryption:
encryption.py), verify.py checks one, restore.py writes it back after the review of
restore_plan.py, schedule.py makes one every night. The names below are the public API.
"""

from hub.backup.archive import UNENCRYPTED_WARNING, BackupInfo, create_backup
from hub.backup.encryption import DEFAULT_SCRYPT_LOG2_N, is_encrypted
from hub.backup.layout import BackupError
from hub.backup.restore import RestoreInfo, restore_backup
from hub.backup.restore_plan import RestorePlan

__all__ = [
    "DEFAULT_SCRYPT_LOG2_N",
    "UNENCRYPTED_WARNING",
    "BackupError",
    "BackupInfo",
    "RestoreInfo",
    "RestorePlan",
    "create_backup",
    "is_encrypted",
    "restore_backup",
]
