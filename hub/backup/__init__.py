"""Backups: the archive (create, verify, restore) and the nightly schedule."""
