"""The `casahub` command line (its verbs are a contract: README).

Local commands (`config check`, `user`, `token`, `backup`, `restore`) work on the data dir directly, also
while the daemon runs (SQLite WAL). Commands that act on the alarm (`status`, `arm`,
`disarm`, `zone`, `output`) go through the HTTP API, so they pass the same code checks as the
dashboard; so do the installer's `pair` commands (hub/cli/pair.py).

This module is the parser and the dispatch; the verbs live beside it: admin.py (`user`,
`token`), backup_cmd.py (`backup`, `restore`), client.py (`status`, `arm`, `disarm`, `zone`),
pair.py, doctor.py; data_owner.py decides which user a local command runs as.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from hub.cli.admin import AREAS_HELP, STDIN_SECRETS_HELP, WINDOW_HELP, add_window_options, cmd_token, cmd_user
from hub.cli.backup_cmd import cmd_backup, cmd_restore, restore_data_dir
from hub.cli.data_owner import AS_OWNER, GIVE_BACK, become_owner, give_back
from hub.cli.local import EXIT_USAGE, resolve_data_dir


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
    from alarms.messages import LANGUAGES
    from alarms.model import BEHAVIOURS, ZONE_KINDS
    from alarms.outputs import OUTPUT_KINDS

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
    add.add_argument("--room", help="where it is: a room in use (an unknown one is refused unless --new-room)")
    add.add_argument("--new-room", action="store_true", help="create --room: no device is in it yet")
    add.add_argument(
        "--kind", action="append", choices=ZONE_KINDS, help="zone kind (default: what the device senses); repeatable"
    )
    add.add_argument("--behaviour", choices=BEHAVIOURS, help="zone behaviour (default: proposed from kind and name)")
    add.add_argument("--modes", help="armed modes that watch it, e.g. home,night,away,vacation (default: proposed)")
    add.add_argument("--areas", help="the areas its zones belong to, e.g. casa,garage (default: the first area)")
    add.add_argument("--chime", action=argparse.BooleanOptionalAction, help="chime sirens beep when it opens disarmed")
    add.add_argument(
        "--output",
        action="append",
        dest="outputs",
        choices=OUTPUT_KINDS,
        help="pair it as a siren, a water valve or a relay (switch); repeatable; with no --kind, an output only",
    )
    add.add_argument("--bindkey", help="BTHome encryption key (32 hex digits)")
    _add_remote(add)
    zone = pair_sub.add_parser("zone", help="change a zone while disarmed: behaviour, modes, areas, chime, watch")
    zone.add_argument("zone", help="zone id (or its name)")
    zone.add_argument("--behaviour", choices=BEHAVIOURS)
    zone.add_argument("--modes", help="armed modes that watch it, e.g. home,night,away,vacation")
    zone.add_argument("--areas", help="the areas it belongs to, e.g. casa,garage (while disarmed)")
    zone.add_argument("--chime", action=argparse.BooleanOptionalAction, help="chime sirens beep when it opens disarmed")
    zone.add_argument("--watch-days", type=int, help="days without a change before a warning (0: off)")
    _add_remote(zone)
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
    report.add_argument("--lang", choices=LANGUAGES, help="report language (default: the hub's [hub] language)")
    report.add_argument("--send-tests", action="store_true", help="first send a test message on every channel")
    report.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each test (1-120)")
    _add_remote(report)


def build_parser() -> argparse.ArgumentParser:
    # The choices come from the Literals: languages, arm targets, channels, roles.
    from alarms.messages import LANGUAGES
    from alarms.model import ARM_TARGETS
    from alarms.policy import CHANNELS
    from hub.store.accounts import ROLES

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
    serve.add_argument("--reset", action="store_true", help="with --demo: delete the demo's data first (.casahub-demo)")

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
    add.add_argument("--role", choices=ROLES, default="member")
    add.add_argument("--codes-from-stdin", action="store_true", help="read password and codes from stdin (see below)")
    add.add_argument("--language", choices=LANGUAGES, default="it")
    add_window_options(add)
    add.add_argument("--areas", metavar="IDS", help="only these areas, e.g. garage,casa (default: every area)")
    add.epilog = f"{STDIN_SECRETS_HELP}\n\n{WINDOW_HELP}\n\n{AREAS_HELP}"
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
    window = user_sub.add_parser(
        "window",
        help="when a user's codes work (a temporary code), or --always",
        epilog=WINDOW_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    window.add_argument("username")
    add_window_options(window, always=True)
    _add_local(window)
    areas = user_sub.add_parser(
        "areas",
        help="the areas a user's codes arm and disarm, or --all",
        epilog=AREAS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    areas.add_argument("username")
    areas.add_argument("areas", nargs="?", metavar="IDS", help="area ids, e.g. garage,casa")
    areas.add_argument("--all", action="store_true", help="every area again")
    _add_local(areas)
    lst = user_sub.add_parser("list", help="list users")
    _add_local(lst)
    remove = user_sub.add_parser("remove", help="remove a user")
    remove.add_argument("username")
    _add_local(remove)

    token = sub.add_parser("token", help="API tokens (local)")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="create a token (printed once, never shown again)")
    create.add_argument("--role", choices=ROLES, required=True)
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
    doctor.add_argument("--send-test", metavar="CHANNEL", choices=CHANNELS)
    doctor.add_argument("--to", help="recipient of the test message (default: the first contact)")
    doctor.add_argument("--groups", action="store_true", help="only check the groups the configured drivers need")
    _add_local(doctor)

    status = sub.add_parser("status", help="alarm state")
    _add_remote(status)
    arm = sub.add_parser("arm", help="arm the system")
    arm.add_argument("mode", choices=ARM_TARGETS)
    arm.add_argument("--force", action="store_true", help="bypass open zones")
    arm.add_argument("--area", help="only this area (its id, e.g. garage); default: every area your code may use")
    _add_remote(arm)
    disarm = sub.add_parser("disarm", help="disarm the system")
    disarm.add_argument("--area", help="only this area (its id); default: every area your code may use")
    _add_remote(disarm)
    _add_zone(sub)
    _add_output(sub)
    _add_pair(sub)
    return parser


def _add_output(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    output = sub.add_parser("output", help="sirens, water valves and relays")
    output_sub = output.add_subparsers(dest="output_command", required=True)
    _add_remote(output_sub.add_parser("list", help="every siren, valve and relay, and what it is doing"))
    test = output_sub.add_parser("test", help="owner, installer: try one while disarmed (a short sound, a valve cycle)")
    reopen = output_sub.add_parser("open", help="owner: open a water valve a leak closed (asks the alarm code)")
    for verb in (test, reopen):
        verb.add_argument("output", help="the output's id or name")
        _add_remote(verb)


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in AS_OWNER:
        refused = become_owner(args, reexec=argv is None)
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
                reset=args.reset,
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
        data_dir = restore_data_dir(args) if args.command == "restore" else resolve_data_dir(args)
        try:
            return cmd_backup(args) if args.command == "backup" else cmd_restore(args)
        finally:
            give_back(data_dir)
    if args.command == "doctor":
        from hub.cli.doctor import doctor_main

        return doctor_main(args.config, resolve_data_dir(args), args.send_test, args.to, args.json, args.groups)
    if args.command == "pair":
        from hub.cli.pair import run_pair

        return run_pair(args)
    from hub.cli.client import run_remote

    return run_remote(args)


if __name__ == "__main__":
    sys.exit(main())
