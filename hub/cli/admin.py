"""`casahub user` and `casahub token`: accounts and API tokens, straight in the data dir's database
(also while the daemon runs: SQLite WAL). No secret ever goes on the command line."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from hub.cli.local import EXIT_USAGE, resolve_data_dir, show

if TYPE_CHECKING:
    from hub.config.model import Config
    from hub.store.accounts import Accounts
    from hub.store.code_window import CodeWindow


def parse_ttl(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text.strip())
    if not match:
        raise ValueError(f"--ttl: expected a number with s, m, h or d (e.g. 8h), got {text!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


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


WINDOW_HELP = """a temporary code: the user's alarm and duress codes work only within the window, in the
hub's time zone ([hub] timezone of --config, else Europe/Rome); outside it they are refused
like wrong codes. A bare date is a whole day (--valid-until 2026-12-14: through the 14th).
`user window` replaces the whole window. E.g. the cleaner on Tuesdays 9-12, a guest for a week:

  casahub user add pulizie --weekdays tue --hours 09:00-12:00
  casahub user window ospite --valid-from 2026-12-07 --valid-until 2026-12-13
  casahub user window ospite --always"""


def add_window_options(parser: argparse.ArgumentParser, *, always: bool = False) -> None:
    """The temporary-code options of `user add` and `user window` (WINDOW_HELP)."""
    parser.add_argument("--valid-from", metavar="WHEN", help="ISO 8601 date or time the codes start working")
    parser.add_argument("--valid-until", metavar="WHEN", help="ISO 8601 date (inclusive) or time (exclusive)")
    parser.add_argument("--weekdays", metavar="DAYS", help="mon..sun, e.g. tue or mon-fri or sat,sun")
    parser.add_argument("--hours", metavar="SPAN", help="e.g. 09:00-12:00 (22:00-06:00 crosses midnight)")
    if always:
        parser.add_argument("--always", action="store_true", help="no window: the codes always work")


def _hub_zone(args: argparse.Namespace) -> tzinfo:
    """The hub's time zone: `[hub] timezone` of --config, else the config's default."""
    import zoneinfo

    name = "Europe/Rome"
    if getattr(args, "config", None):
        name = _config(args).hub.timezone
    return zoneinfo.ZoneInfo(name)


def _config(args: argparse.Namespace) -> Config:
    """The --config file (the built-in defaults without one); SystemExit listing its errors."""
    from hub.config import ConfigError, load_config

    try:
        return load_config(getattr(args, "config", None)).config
    except ConfigError as exc:
        raise SystemExit(f"casahub: invalid configuration:\n{exc}") from None


AREAS_HELP = """a user limited to areas arms and disarms only those (the house's [[areas]] in --config, the
file the hub runs with; without --config the only area is the default one, casa). An owner is
never limited. E.g. the tenant of the flat above the shop, then every area again:

  casahub user add inquilino --areas casa --config /etc/casahub/casahub.toml
  casahub user areas inquilino casa,garage --config /etc/casahub/casahub.toml
  casahub user areas inquilino --all"""


def _areas_of(args: argparse.Namespace, text: str) -> tuple[str, ...]:
    """The area ids of `text` ("garage,casa"), each one of the configured areas; SystemExit otherwise.
    The CLI works on the database, not on the running hub: the areas it knows are --config's."""
    ids = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not ids:
        raise SystemExit("casahub: --areas: at least one area id, e.g. --areas garage")
    known = [area.id for area in _config(args).alarm.areas]
    unknown = [area for area in ids if area not in known]
    if unknown:
        where = "" if getattr(args, "config", None) else " (without --config only the default; give the hub's --config)"
        raise SystemExit(f"casahub: --areas: no area {unknown[0]!r}: the areas are {', '.join(known)}{where}")
    return ids


def _areas_text(areas: tuple[str, ...] | None) -> str:
    return "every area" if areas is None else ", ".join(areas)


def _window_of(args: argparse.Namespace) -> CodeWindow | None:
    """The window the options give (None: none given); SystemExit naming the option."""
    from hub.store.code_window import WindowError, parse_window

    raw = {
        "valid_from": args.valid_from,
        "valid_until": args.valid_until,
        "weekdays": args.weekdays,
        "hours": args.hours,
    }
    if all(v is None for v in raw.values()):
        return None
    try:
        return parse_window({k: v for k, v in raw.items() if v is not None}, _hub_zone(args))
    except WindowError as exc:
        option = "--" + exc.field.removeprefix("window").strip(".").replace("_", "-")
        raise SystemExit(f"casahub: {option if option != '--' else 'window'}: {str(exc).split(': ', 1)[1]}") from None


def _window_text(window: CodeWindow | None) -> str:
    return "always" if window is None else window.describe()


def _areas_to_set(args: argparse.Namespace) -> tuple[str, ...] | None:
    """`user add --areas` and `user areas IDS|--all`: the areas checked before anything is written
    (None: every area); SystemExit naming the option."""
    if args.action == "add":
        return None if args.areas is None else _areas_of(args, args.areas)
    if args.action != "areas":
        return None
    if (args.areas is None) == (not args.all):
        print("casahub: give the areas (e.g. garage,casa), or --all", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    return None if args.all else _areas_of(args, args.areas)


def _limit_new_user(accounts: Accounts, username: str, areas: tuple[str, ...]) -> None:
    """A user just added is limited to `areas`; if that fails they are removed again: a user
    meant for the garage must never be left with codes that work everywhere."""
    from hub.store.accounts import AccountError

    try:
        accounts.set_areas(username, areas)
    except AccountError:
        accounts.remove_user(username)
        raise


def cmd_user(args: argparse.Namespace) -> int:
    from hub.store.accounts import AccountError, Accounts
    from hub.store.db import open_sync

    window = _window_of(args) if args.action in ("add", "window") else None
    areas = _areas_to_set(args)
    accounts = Accounts(open_sync(resolve_data_dir(args) / "casahub.db"))
    try:
        if args.action == "add":
            if areas is not None and args.role == "owner":
                raise AccountError("--areas: an owner's codes work in every area")
            given = _user_secrets(args, adding=True)
            user = accounts.add_user(
                args.username,
                given["password"],
                args.role,
                code=given.get("code") or None,
                duress_code=given.get("duress_code") or None,
                language=args.language,
                window=window,
            )
            if areas is not None:
                _limit_new_user(accounts, user.username, areas)
            text = f"user {user.username} ({user.role}) added"
            data: Any = {"user": user.username, "role": user.role}
            if window is not None:
                text += f"; codes valid {_window_text(window)}"
                data["window"] = window.as_json()
            if areas is not None:
                text += f"; areas: {_areas_text(areas)}"
                data["areas"] = list(areas)
            show(args, data, text)
        elif args.action == "areas":
            accounts.set_areas(args.username, areas)
            data = {"user": args.username, "areas": None if areas is None else list(areas)}
            show(args, data, f"user {args.username}: codes work in {_areas_text(areas)}")
        elif args.action == "window":
            if (window is None) == (not args.always):
                print(
                    "casahub: give --always, or the window (--valid-from, --valid-until, --weekdays, --hours)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            user = accounts.update_user(args.username, window=window)
            data = {"user": user.username, "window": None if window is None else window.as_json()}
            show(args, data, f"user {user.username}: codes valid {_window_text(window)}")
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
            show(args, {"user": args.username, "changed": True, "what": what}, f"user {args.username} updated")
        elif args.action == "list":
            users = accounts.list_users()
            data = [
                {
                    "user": u.username,
                    "role": u.role,
                    "language": u.language,
                    "code": u.has_code,
                    "duress_code": u.has_duress,
                    "window": None if u.window is None else u.window.as_json(),
                    "areas": None if u.areas is None else list(u.areas),
                }
                for u in users
            ]
            lines = [
                f"{u.username:<20} {u.role:<10} {u.language}  code:{'yes' if u.has_code else 'no'}"
                + ("" if u.window is None else f"  valid {_window_text(u.window)}")
                + ("" if u.areas is None else f"  areas: {_areas_text(u.areas)}")
                for u in users
            ]
            show(args, data, "\n".join(lines) or "no users")
        elif args.action == "remove":
            accounts.remove_user(args.username)
            show(args, {"user": args.username, "removed": True}, f"user {args.username} removed")
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

    accounts = Accounts(open_sync(resolve_data_dir(args) / "casahub.db"))
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
            show(args, data, secret)
        elif args.action == "list":
            now = time.time()
            tokens = accounts.list_tokens(now, include_ended=args.all)
            rows = [_token_json(t) for t in tokens]
            lines = [
                f"{t.id}  {t.role:<10} {t.user or '-':<16} {_until(t.expires_at)}  {t.state:<8} {t.label or ''}"
                for t in tokens
            ]
            show(args, rows, "\n".join(line.rstrip() for line in lines) or "no tokens")
        else:
            accounts.revoke_token(args.id)
            show(args, {"id": args.id, "revoked": True}, f"token {args.id} revoked")
    except AccountError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.conn.close()
    return 0
