"""`casahub backup` and `casahub restore` (the archive itself: hub/backup/)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from hub.cli.local import resolve_data_dir, show


def _passphrase(args: argparse.Namespace, *, wanted: bool, confirm: bool, why: str = "") -> str | None:
    """--passphrase-file, else CASAHUB_BACKUP_PASSPHRASE, else a prompt when `wanted` and a terminal is attached."""
    if args.passphrase_file is not None:
        try:
            text = Path(args.passphrase_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SystemExit(f"casahub: --passphrase-file: cannot read {args.passphrase_file}: {exc}") from None
        text = text.removesuffix("\n").removesuffix("\r")
        if not text:
            raise SystemExit(f"casahub: --passphrase-file: {args.passphrase_file} is empty")
        return text
    env = os.environ.get("CASAHUB_BACKUP_PASSPHRASE")
    if env:
        return env
    if not wanted:
        return None
    if not sys.stdin.isatty():
        raise SystemExit(f"casahub: {why}give the passphrase with --passphrase-file FILE or CASAHUB_BACKUP_PASSPHRASE")
    try:
        first = getpass.getpass("Backup passphrase: ")
        if not first:
            raise SystemExit("casahub: the passphrase is empty")
        if confirm and getpass.getpass("Backup passphrase (again): ") != first:
            raise SystemExit("casahub: the two entries differ")
    except (EOFError, KeyboardInterrupt):
        raise SystemExit("\ncasahub: no passphrase given") from None
    return first


def _ask(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_backup(args: argparse.Namespace) -> int:
    from hub.backup.archive import UNENCRYPTED_WARNING, create_backup
    from hub.backup.layout import BackupError

    passphrase = _passphrase(args, wanted=args.encrypt, confirm=True, why="--encrypt: ")
    try:
        info = create_backup(resolve_data_dir(args), args.file, config_path=args.config, passphrase=passphrase)
    except BackupError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    if passphrase is None:
        print(f"casahub: {UNENCRYPTED_WARNING.format(file=info.path)}", file=sys.stderr)
    if info.external_files:
        print(
            f"casahub: note: the config refers to files the backup does not hold: {', '.join(info.external_files)}",
            file=sys.stderr,
        )
    data = {"file": str(info.path), "bytes": info.bytes, "encrypted": info.encrypted, "members": info.members}
    text = (
        f"backup written to {info.path} ({info.bytes} bytes, {'encrypted' if info.encrypted else 'NOT encrypted'}): "
        + ", ".join(info.members)
    )
    show(args, data, text)
    return 0


def restore_data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is None and args.config is not None and not Path(args.config).exists():
        from hub.system.data_dir import default_data_dir

        return default_data_dir()  # the config is what we are restoring: it cannot name the data dir yet
    return resolve_data_dir(args)


def cmd_restore(args: argparse.Namespace) -> int:
    from hub.backup.encryption import is_encrypted
    from hub.backup.layout import BackupError
    from hub.backup.restore import restore_backup
    from hub.backup.restore_plan import RestorePlan

    passphrase = _passphrase(args, wanted=is_encrypted(args.file), confirm=False, why=f"{args.file} is encrypted: ")
    data_dir = restore_data_dir(args)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.json
    shown = False

    def review(plan: RestorePlan) -> bool:
        # An unencrypted backup proves it is intact, not who made it: a person checks who it lets in.
        nonlocal shown
        if plan.authenticated or args.yes:
            return True
        if not interactive:
            raise BackupError(
                f"{args.file} is not encrypted, so nothing proves who made it: run restore on a terminal to see"
                " the users, tokens, contacts and centre it would install, or give --yes"
            )
        print("\n".join(plan.lines()))
        shown = _ask("install these users, tokens, contacts and centre, replacing what is listed?")
        return shown

    try:
        info = restore_backup(
            args.file,
            data_dir,
            config_dest=args.config,
            passphrase=passphrase,
            force=args.force or args.yes,
            confirm=(lambda question: shown or _ask(question)) if interactive else None,
            review=review,
        )
    except BackupError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    manifest = info.manifest
    plan = info.plan
    lines = [] if plan is None or shown else plan.lines()
    lines += [
        f"restored the backup of {manifest.get('created_at')} (casahub {manifest.get('casahub_version')}"
        + (f", hub {manifest['hub_name']}" if manifest.get("hub_name") else "")
        + "):",
        *(f"  {path}" for path in info.restored),
    ]
    if info.kept:
        lines.append("the files it replaced are kept as: " + ", ".join(str(p) for p in info.kept))
    data: dict[str, object] = {"restored": [str(p) for p in info.restored]}
    if plan is not None:
        data |= plan.as_json()
    show(args, data, "\n".join(lines))
    return 0
