"""Who a local command runs as: the data dir's owner (the daemon's user), also under sudo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hub.cli.local import resolve_data_dir

# Local commands that open the database: run as the data dir's owner (the daemon's user), so that a
# `sudo casahub token create` never leaves a root-owned casahub.db the service cannot write.
# `serve` too: a hub started by hand with sudo on the service's data dir must not leave it files
# (the WAL, certificates) the service then cannot write.
AS_OWNER = ("user", "token", "doctor", "serve")
# backup and restore also read or write files only root may (a backup in /root, the config in
# /etc/casahub): they run as root, then give what they left in the data dir back to its owner.
GIVE_BACK = ("backup", "restore")


def _data_dir_owner(data_dir: Path) -> tuple[int, int, str] | None:
    """(uid, gid, name) of the data dir's owner when we are root and it is someone else, else None."""
    if os.geteuid() != 0:
        return None
    try:
        uid = data_dir.stat().st_uid
    except OSError:
        return None  # not there yet: nobody to write as but us
    if uid == 0:
        return None
    import pwd

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return uid, data_dir.stat().st_gid, str(uid)
    return uid, entry.pw_gid, entry.pw_name


def become_owner(args: argparse.Namespace, *, reexec: bool) -> str | None:
    """As root on another user's data dir: start again as that user; else None. The line to print if not.

    The command starts again (same arguments, same stdin) as `sudo -u casahub casahub ...` would:
    nothing it imports later depends on root's files. Called in-process (`reexec` false, a test
    or a script calling main(argv)) it refuses instead of changing the caller's user."""
    try:
        data_dir = _serve_data_dir(args) if args.command == "serve" else resolve_data_dir(args)
    except SystemExit:
        return None  # an invalid config: the command itself says so
    owner = _data_dir_owner(data_dir)
    if owner is None:
        return None
    uid, gid, name = owner
    refusal = f"casahub: {data_dir} belongs to {name}: run this as that user: sudo -u {name} casahub {args.command} ..."
    if not reexec:
        return refusal
    try:
        # Opened while root: the interpreter may live where its new user cannot look (fexecve).
        interpreter = os.open(os.path.realpath(sys.executable), os.O_RDONLY)
        if name != str(uid):
            os.initgroups(name, gid)
        else:
            os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        sys.stdout.flush()
        os.execve(interpreter, [sys.executable, *sys.orig_argv[1:]], os.environ)
    except OSError:
        return refusal


def _serve_data_dir(args: argparse.Namespace) -> Path:
    """The data dir `serve` will use (hub/daemon.py plan()): --data-dir, [hub] data_dir, the demo's or the default."""
    if args.data_dir:
        return Path(args.data_dir)
    if args.config:
        from hub.config import ConfigError, load_config

        try:
            configured = load_config(args.config).config.hub.data_dir
        except ConfigError:
            raise SystemExit(2) from None
        if configured:
            return configured
    from hub.daemon import DEMO_DATA_DIR
    from hub.system.data_dir import default_data_dir

    return DEMO_DATA_DIR if args.demo else default_data_dir()


def give_back(data_dir: Path) -> None:
    """Files root left in the data dir (restored, or SQLite's -wal/-shm) go to the dir's owner."""
    owner = _data_dir_owner(data_dir)
    if owner is None:
        return
    uid, gid, _ = owner
    for folder, dirs, files in os.walk(data_dir):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_uid == 0:
                    os.lchown(path, uid, gid)
            except OSError:
                pass
