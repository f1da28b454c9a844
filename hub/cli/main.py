"""The `casahub` command line (its verbs are a contract: README).

Local commands (`config check`, `user`, `token`, `backup`, `restore`) work on the data dir directly, also
while the daemon runs (SQLite WAL). Commands that act on the alarm (`status`, `arm`,
`disarm`) go through the HTTP API, so they pass the same code checks as the dashboard; so do the
installer's `pair` commands (hub/cli/pair.py).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def _add_local(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (TOML)")
    parser.add_argument("--data-dir", type=Path, help="data directory (database, certificates)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _add_remote(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hub", help="hub URL (or CASAHUB_HUB; default: the one hub on the LAN, else http://127.0.0.1:8080)"
    )
    parser.add_argument("--token", help="API token (or CASAHUB_TOKEN; prompted on a terminal)")
    parser.add_argument(
        "--fingerprint", help="the hub's TLS certificate SHA-256 (as printed at start); default: pinned on first use"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _add_pair(sub: Any) -> None:
    from alarms.model import BEHAVIOURS, ZONE_KINDS

    pair = sub.add_parser("pair", help="pair sensors with the hub (installers)")
    pair_sub = pair.add_subparsers(dest="action", required=True)
    hubs = pair_sub.add_parser("hubs", help="list the hubs on the LAN (mDNS)")
    hubs.add_argument("--timeout", type=float, default=2.0, help="seconds to listen (default 2)")
    hubs.add_argument("--json", action="store_true", help="machine-readable output")
    scan = pair_sub.add_parser("scan", help="look for devices to pair")
    scan.add_argument("--seconds", type=float, default=30.0, help="how long to scan (default 30, at most 600)")
    scan.add_argument("--driver", help="only this driver (bthome, zigbee2mqtt, simulated...)")
    _add_remote(scan)
    add = pair_sub.add_parser("add", help="pair a device found by a scan")
    add.add_argument("candidate", nargs="?", help="candidate id from `pair scan` (or its address)")
    add.add_argument("--name", help="the name the household sees")
    add.add_argument("--room", help="where it is")
    add.add_argument(
        "--kind", action="append", choices=ZONE_KINDS, help="zone kind (default: what the device senses); repeatable"
    )
    add.add_argument("--behaviour", choices=BEHAVIOURS, help="zone behaviour (default: by kind)")
    add.add_argument("--bindkey", help="BTHome encryption key (32 hex digits)")
    _add_remote(add)
    lst = pair_sub.add_parser("list", help="list the paired devices")
    _add_remote(lst)
    rename = pair_sub.add_parser("rename", help="rename a device (and its zones) or move it to another room")
    rename.add_argument("device", help="device id (or its name)")
    rename.add_argument("--name")
    rename.add_argument("--room")
    _add_remote(rename)
    remove = pair_sub.add_parser("remove", help="unpair a device and remove its zones")
    remove.add_argument("device", help="device id (or its name)")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation on a terminal")
    _add_remote(remove)
    walktest = pair_sub.add_parser("walktest", help="walk test: open every sensor, see it arrive, list the untested")
    walktest.add_argument(
        "--minutes", type=int, default=30, help="the hub ends the walk test after this (1-60, default 30)"
    )
    walktest.add_argument("--seconds", type=float, help="end the walk test after this many seconds (for scripts)")
    _add_remote(walktest)
    report = pair_sub.add_parser("report", help="the commissioning report for the homeowner and the insurer")
    report.add_argument("--format", choices=("md", "html", "json"), help="default md (json with --json)")
    report.add_argument("--output", type=Path, help="write to FILE (default: stdout; html: a file in this directory)")
    report.add_argument("--lang", choices=("it", "en"), help="report language (default: the hub's [hub] language)")
    report.add_argument("--send-tests", action="store_true", help="first send a test message on every channel")
    report.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each test (1-120)")
    _add_remote(report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casahub", description="casahub home security hub")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("CASAHUB_LOG_LEVEL") or None,
        help="debug, info, warning, error or critical (or CASAHUB_LOG_LEVEL); wins over [log] level",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub daemon")
    serve.add_argument("--config", type=Path)
    serve.add_argument("--demo", action="store_true", help="simulated kit, demo user, short delays")
    serve.add_argument("--data-dir", type=Path)
    serve.add_argument("--listen", help="HOST:PORT")

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="action", required=True)
    check = config_sub.add_parser("check", help="validate a config file")
    check.add_argument("file", nargs="?", type=Path)
    check.add_argument("--config", type=Path, dest="config_opt")

    user = sub.add_parser("user", help="manage users (local)")
    user_sub = user.add_subparsers(dest="action", required=True)
    # No secret in argv (`ps` and shell history show it): asked on the terminal without echo, or
    # read from stdin with --codes-from-stdin (STDIN_SECRETS_HELP says the format).
    add = user_sub.add_parser(
        "add",
        help="add a user (password and codes asked without echo, or --codes-from-stdin)",
        epilog=STDIN_SECRETS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("username")
    add.add_argument("--role", choices=("owner", "member", "installer"), default="member")
    add.add_argument("--codes-from-stdin", action="store_true", help="read password and codes from stdin (see below)")
    add.add_argument("--language", choices=("it", "en"), default="it")
    _add_local(add)
    passwd = user_sub.add_parser(
        "passwd",
        help="change a password or codes (asked without echo, or --codes-from-stdin)",
        epilog=STDIN_SECRETS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    passwd.add_argument("username")
    passwd.add_argument("--codes-from-stdin", action="store_true", help="read what changes from stdin (see below)")
    _add_local(passwd)
    lst = user_sub.add_parser("list", help="list users")
    _add_local(lst)
    remove = user_sub.add_parser("remove", help="remove a user")
    remove.add_argument("username")
    _add_local(remove)

    token = sub.add_parser("token", help="API tokens (local)")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="create a token (printed once, never shown again)")
    create.add_argument("--role", choices=("owner", "member", "installer"), required=True)
    create.add_argument(
        "--ttl", help="lifetime, e.g. 30m, 8h, 7d (installer: default 8h, at most 7d; others: default no expiry)"
    )
    create.add_argument(
        "--by", metavar="USER", help="the user the token belongs to: for an installer, the owner granting it"
    )
    create.add_argument("--label")
    _add_local(create)
    tlist = token_sub.add_parser("list", help="list the valid tokens (never their secrets)")
    tlist.add_argument("--all", action="store_true", help="also the expired and revoked ones")
    _add_local(tlist)
    revoke = token_sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id")
    _add_local(revoke)

    backup = sub.add_parser("backup", help="write the database, config and keys to one file (local)")
    backup.add_argument("file", type=Path)
    backup.add_argument("--passphrase-file", type=Path, help="encrypt with the passphrase in this file")
    backup.add_argument(
        "--encrypt", action="store_true", help="encrypt (passphrase from CASAHUB_BACKUP_PASSPHRASE or prompted)"
    )
    _add_local(backup)
    restore = sub.add_parser("restore", help="check a backup file and write it into the data dir (local)")
    restore.add_argument("file", type=Path)
    restore.add_argument("--passphrase-file", type=Path, help="the backup's passphrase, from this file")
    restore.add_argument("--force", action="store_true", help="replace an existing database and files")
    restore.add_argument(
        "--yes",
        action="store_true",
        help="without a terminal: install what an unencrypted backup holds (users, tokens, contacts, centre)"
        " and replace the current files",
    )
    _add_local(restore)

    doctor = sub.add_parser("doctor", help="check the configured channels (and send a test message)")
    doctor.add_argument(
        "--send-test", metavar="CHANNEL", choices=("sms", "email", "push", "ntfy", "voice", "gsm", "centre")
    )
    doctor.add_argument("--to", help="recipient of the test message (default: the first contact)")
    _add_local(doctor)

    status = sub.add_parser("status", help="alarm state")
    _add_remote(status)
    arm = sub.add_parser("arm", help="arm the system")
    arm.add_argument("mode", choices=("home", "away"))
    arm.add_argument("--force", action="store_true", help="bypass open zones")
    _add_remote(arm)
    disarm = sub.add_parser("disarm", help="disarm the system")
    _add_remote(disarm)
    _add_zone(sub)
    _add_pair(sub)
    return parser


def _add_zone(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    zone = sub.add_parser("zone", help="zones and their exclusions (household)")
    zone_sub = zone.add_subparsers(dest="zone_command", required=True)
    _add_remote(zone_sub.add_parser("list", help="every zone, and which ones do not protect right now"))
    exclude = zone_sub.add_parser("exclude", help="exclude an intrusion zone until the next disarm (inhibit)")
    include = zone_sub.add_parser("include", help="end an exclusion made until disarm")
    isolate = zone_sub.add_parser("isolate", help="owner: take a zone out of service for some hours, with a reason")
    isolate.add_argument("--reason", required=True, help="why, in your words (1-200 characters)")
    isolate.add_argument(
        "--hours", required=True, type=float, help="how long: 1-720 hours, at most 24 for smoke, water, power, panic"
    )
    restore = zone_sub.add_parser("restore", help="owner: put any excluded zone back into protection")
    for verb in (exclude, include, isolate, restore):
        verb.add_argument("zone", help="the zone's id or name")
        _add_remote(verb)


def parse_ttl(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text.strip())
    if not match:
        raise ValueError(f"--ttl: expected a number with s, m, h or d (e.g. 8h), got {text!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return Path(args.data_dir)
    if args.config:
        from hub.config import ConfigError, load_config

        try:
            loaded = load_config(args.config)
        except ConfigError as exc:
            raise SystemExit(f"casahub: invalid configuration:\n{exc}") from None
        if loaded.config.hub.data_dir:
            return loaded.config.hub.data_dir
    from hub.daemon import default_data_dir

    return default_data_dir()


def _secret(value: str | None, prompt: str, *, required: bool = True) -> str | None:
    if value is not None:
        return value
    if sys.stdin.isatty():
        first = getpass.getpass(f"{prompt}: ")
        if getpass.getpass(f"{prompt} (again): ") != first:
            raise SystemExit("casahub: the two entries differ")
        return first
    if not required:
        return None
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise SystemExit(f"casahub: {prompt.lower()}: give it with an option or on stdin")
    return line


STDIN_SECRETS = ("password", "code", "duress_code")
STDIN_SECRETS_HELP = """\
secrets never go on the command line. On a terminal they are asked without echo
(an empty answer: no code, or unchanged). With --codes-from-stdin, standard input
holds one `key=value` per line, keys password, code and duress_code; each at most
once, blank lines and lines starting with # are skipped, e.g.:

  printf 'password=%s\\ncode=%s\\n' "$PW" "$CODE" | casahub user add anna --role owner --codes-from-stdin

`user add` needs password; `user passwd` changes the keys given. Without a
terminal and without --codes-from-stdin, the first line of stdin is the password."""


def _stdin_secrets() -> dict[str, str]:
    """The `key=value` lines of stdin (STDIN_SECRETS_HELP); SystemExit naming a bad line, never its value."""
    found: dict[str, str] = {}
    for number, raw in enumerate(sys.stdin.read().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in STDIN_SECRETS:
            raise SystemExit(f"casahub: stdin line {number}: expected password=..., code=... or duress_code=...")
        if key in found:
            raise SystemExit(f"casahub: stdin line {number}: {key} given twice")
        found[key] = value
    return found


def _user_secrets(args: argparse.Namespace, *, adding: bool) -> dict[str, str]:
    """password / code / duress_code for `user add|passwd`: from stdin, the terminal, or one stdin line."""
    if args.codes_from_stdin:
        found = _stdin_secrets()
        if adding and "password" not in found:
            raise SystemExit("casahub: no password=... line on stdin")
        if not found:
            raise SystemExit("casahub: nothing to change on stdin (password=..., code=..., duress_code=...)")
        return found
    if not sys.stdin.isatty():
        password = _secret(None, "Password" if adding else "New password")
        assert password is not None
        return {"password": password}
    found = {}
    prompts: tuple[tuple[str, str], ...]
    if adding:
        found["password"] = _secret(None, "Password") or ""
        prompts = (("code", "Alarm code (digits; empty: none)"), ("duress_code", "Duress code (empty: none)"))
    else:
        prompts = (
            ("password", "New password (empty: unchanged)"),
            ("code", "New alarm code (empty: unchanged)"),
            ("duress_code", "New duress code (empty: unchanged)"),
        )
    for key, prompt in prompts:
        value = _secret(None, prompt)
        if value:
            found[key] = value
    return found


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def cmd_user(args: argparse.Namespace) -> int:
    from hub.store.accounts import AccountError, Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(_data_dir(args) / "casahub.db"))
    try:
        if args.action == "add":
            given = _user_secrets(args, adding=True)
            user = accounts.add_user(
                args.username,
                given["password"],
                args.role,
                code=given.get("code") or None,
                duress_code=given.get("duress_code") or None,
                language=args.language,
            )
            _out(args, {"user": user.username, "role": user.role}, f"user {user.username} ({user.role}) added")
        elif args.action == "passwd":
            given = _user_secrets(args, adding=False)
            if not given:
                print("casahub: nothing changed", file=sys.stderr)
                return 1
            # All checked before anything is written; a new password ends the user's sessions and
            # tokens at once (hub/store/accounts.py).
            accounts.update_user(
                args.username,
                password=given.get("password"),
                code=given.get("code"),
                duress_code=given.get("duress_code"),
            )
            what = sorted(given)
            _out(args, {"user": args.username, "changed": True, "what": what}, f"user {args.username} updated")
        elif args.action == "list":
            users = accounts.list_users()
            data = [
                {
                    "user": u.username,
                    "role": u.role,
                    "language": u.language,
                    "code": u.has_code,
                    "duress_code": u.has_duress,
                }
                for u in users
            ]
            lines = [f"{u.username:<20} {u.role:<10} {u.language}  code:{'yes' if u.has_code else 'no'}" for u in users]
            _out(args, data, "\n".join(lines) or "no users")
        elif args.action == "remove":
            accounts.remove_user(args.username)
            _out(args, {"user": args.username, "removed": True}, f"user {args.username} removed")
    except AccountError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.conn.close()
    return 0


def _until(expires_at: float | None) -> str:
    if expires_at is None:
        return "no expiry".ljust(16)
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(expires_at))


def _token_json(token: Any) -> dict[str, Any]:
    return {
        "id": token.id,
        "role": token.role,
        "user": token.user,
        "label": token.label,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "state": token.state,
    }


def cmd_token(args: argparse.Namespace) -> int:
    from hub.store.accounts import INSTALLER_TTL, INSTALLER_TTL_MAX, AccountError, Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(_data_dir(args) / "casahub.db"))
    try:
        if args.action == "create":
            try:
                ttl = parse_ttl(args.ttl) if args.ttl else None
            except ValueError as exc:
                print(f"casahub: {exc}", file=sys.stderr)
                return EXIT_USAGE
            if args.role == "installer":
                if not args.by:
                    print(
                        "casahub: an installer token is granted by an owner: add --by OWNER (an existing owner's"
                        " username)",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                if ttl is not None and ttl > INSTALLER_TTL_MAX:
                    print(f"casahub: --ttl: an installer token lasts at most 7d, got {args.ttl}", file=sys.stderr)
                    return EXIT_USAGE
                ttl = INSTALLER_TTL if ttl is None else ttl
            token_id, secret = accounts.create_token(args.role, ttl=ttl, username=args.by, label=args.label)
            data = {"token": secret, "id": token_id, "role": args.role, "user": args.by, "ttl": ttl}
            _out(args, data, secret)
        elif args.action == "list":
            now = time.time()
            tokens = accounts.list_tokens(now, include_ended=args.all)
            rows = [_token_json(t) for t in tokens]
            lines = [
                f"{t.id}  {t.role:<10} {t.user or '-':<16} {_until(t.expires_at)}  {t.state:<8} {t.label or ''}"
                for t in tokens
            ]
            _out(args, rows, "\n".join(line.rstrip() for line in lines) or "no tokens")
        else:
            accounts.revoke_token(args.id)
            _out(args, {"id": args.id, "revoked": True}, f"token {args.id} revoked")
    except AccountError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.conn.close()
    return 0


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
    from hub.backup.archive import UNENCRYPTED_WARNING, BackupError, create_backup

    passphrase = _passphrase(args, wanted=args.encrypt, confirm=True, why="--encrypt: ")
    try:
        info = create_backup(_data_dir(args), args.file, config_path=args.config, passphrase=passphrase)
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
    _out(args, data, text)
    return 0


def _restore_data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is None and args.config is not None and not Path(args.config).exists():
        from hub.daemon import default_data_dir

        return default_data_dir()  # the config is what we are restoring: it cannot name the data dir yet
    return _data_dir(args)


def cmd_restore(args: argparse.Namespace) -> int:
    from hub.backup.archive import BackupError, RestorePlan, is_encrypted, restore_backup

    passphrase = _passphrase(args, wanted=is_encrypted(args.file), confirm=False, why=f"{args.file} is encrypted: ")
    data_dir = _restore_data_dir(args)
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
    _out(args, data, "\n".join(lines))
    return 0


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


def _become_owner(args: argparse.Namespace, *, reexec: bool) -> str | None:
    """As root on another user's data dir: start again as that user; else None. The line to print if not.

    The command starts again (same arguments, same stdin) as `sudo -u casahub casahub ...` would:
    nothing it imports later depends on root's files. Called in-process (`reexec` false, a test
    or a script calling main(argv)) it refuses instead of changing the caller's user."""
    try:
        data_dir = _serve_data_dir(args) if args.command == "serve" else _data_dir(args)
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
    from hub.daemon import DEMO_DATA_DIR, default_data_dir

    return DEMO_DATA_DIR if args.demo else default_data_dir()


def _give_back(data_dir: Path) -> None:
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in AS_OWNER:
        refused = _become_owner(args, reexec=argv is None)
        if refused is not None:
            print(refused, file=sys.stderr)
            return 1
    from hub.system.logs import setup_logging

    try:
        # Defaults until a command reads its config: `serve` then applies [log] (hub/system/logs.py).
        setup_logging(level=args.log_level)
    except ValueError as exc:
        print(f"casahub: --log-level: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "serve":
        from hub.daemon import ServeOptions, serve

        return serve(
            ServeOptions(
                config=args.config,
                demo=args.demo,
                data_dir=args.data_dir,
                listen=args.listen,
                log_level=args.log_level,
            )
        )
    if args.command == "config":
        from hub.config import check_main

        return check_main(args.file or args.config_opt)
    if args.command == "user":
        return cmd_user(args)
    if args.command == "token":
        return cmd_token(args)
    if args.command in GIVE_BACK:
        data_dir = _restore_data_dir(args) if args.command == "restore" else _data_dir(args)
        try:
            return cmd_backup(args) if args.command == "backup" else cmd_restore(args)
        finally:
            _give_back(data_dir)
    if args.command == "doctor":
        from hub.cli.doctor import doctor_main

        return doctor_main(args.config, _data_dir(args), args.send_test, args.to, args.json)
    if args.command == "pair":
        from hub.cli.pair import run_pair

        return run_pair(args)
    from hub.cli.client import run_remote

    return run_remote(args)


if __name__ == "__main__":
    sys.exit(main())
