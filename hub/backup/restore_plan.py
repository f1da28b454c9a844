"""The restore's review: who and what a checked backup would install, for a person to read."""

from __future__ import annotations

import contextlib
import datetime
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.backup.layout import BEFORE_RESTORE, CONFIG_MEMBER, DB_NAME, BackupError


@dataclass(frozen=True)
class RestorePlan:
    """What a restore would install, read from the checked backup before anything is replaced.

    An unencrypted backup's checksums prove that it is intact, not who made it: anyone who held
    the file may have added an owner or pointed the centre elsewhere. So a restore shows this
    and lets a person say yes (`casahub restore` on a terminal, or `--yes`). An encrypted
    backup is `authenticated`: every byte was checked with the key from the passphrase."""

    src: Path
    authenticated: bool
    manifest: dict[str, Any]
    users: list[dict[str, str]]  # {"username", "role"}
    tokens: list[dict[str, Any]]  # the valid ones: {"id", "role", "user", "label", "expires_at"}
    contacts: list[dict[str, Any]]  # {"name", "phone", "email", "source": "config" | "dashboard"}
    centre: str | None  # one line; None when the backup holds no config (the current one stays)
    has_config: bool
    replaced: list[Path]  # existing files the restore replaces (kept as NAME.before-restore)

    def lines(self) -> list[str]:
        """The plan for a person to read (values from the backup are shown escaped)."""
        manifest = self.manifest
        made = f"backup of {_shown(manifest.get('created_at'))} (casahub {_shown(manifest.get('casahub_version'))}"
        if manifest.get("hub_name"):
            made += f", hub {_shown(manifest['hub_name'])}"
        head = (
            f"{self.src}: {made}), authenticated: encrypted with this passphrase, not changed since"
            if self.authenticated
            else f"{self.src}: {made}), NOT encrypted: nothing proves who made it or that it was not edited"
        )
        out = [head, f"users ({len(self.users)}):"]
        out += [f"  {_shown(u['username'])}  {_shown(u['role'])}" for u in self.users] or ["  none"]
        out.append(f"API tokens ({len(self.tokens)} valid):")
        for t in self.tokens:
            who = f", for {_shown(t['user'])}" if t["user"] else ""
            label = f' "{_shown(t["label"])}"' if t["label"] else ""
            until = f", until {_when(t['expires_at'])}" if t["expires_at"] is not None else ", never expires"
            out.append(f"  {_shown(t['id'])}  {_shown(t['role'])}{who}{label}{until}")
        if not self.tokens:
            out.append("  none")
        out.append(f"contacts ({len(self.contacts)}):")
        for c in self.contacts:
            reach = ", ".join(_shown(v) for v in (c["phone"], c["email"]) if v) or "no phone, no email"
            out.append(
                f"  {_shown(c['name'])}: {reach}"
                + (" (added from the dashboard)" if c["source"] == "dashboard" else "")
            )
        if not self.contacts:
            out.append("  none")
        if self.has_config:
            out.append(f"assistance centre: {self.centre or 'none configured'}")
        else:
            out.append("assistance centre: unchanged (the backup holds no config)")
        if self.replaced:
            out.append("replaces: " + ", ".join(str(p) for p in self.replaced) + f" (kept as NAME{BEFORE_RESTORE})")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "authenticated": self.authenticated,
            "users": self.users,
            "tokens": self.tokens,
            "contacts": self.contacts,
            "centre": self.centre if self.has_config else None,
            "replaces": [str(p) for p in self.replaced],
        }


def _shown(value: object, limit: int = 120) -> str:
    """A value from a backup as one safe line: control characters (terminal escapes) escaped, cut short."""
    text = "" if value is None else str(value)
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _when(timestamp: object) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(float(timestamp), datetime.UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return _shown(timestamp)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _centre_line(centre: Any) -> str | None:
    if not isinstance(centre, dict) or not centre:
        return None
    protocol = centre.get("protocol", "dc09")
    if protocol == "webhook":
        return f"webhook {_shown(centre.get('url'))}"
    line = (
        f"DC-09 to {_shown(centre.get('host'))}:{_shown(centre.get('port'))}, account {_shown(centre.get('account'))}"
    )
    if centre.get("backup_host"):
        line += f"; backup receiver {_shown(centre.get('backup_host'))}:{_shown(centre.get('backup_port'))}"
    return line


def read_plan(
    src: Path, manifest: dict[str, Any], staged: dict[str, Path], encrypted: bool, replaced: list[Path]
) -> RestorePlan:
    """Who and what the staged backup would install: users, valid tokens, contacts and the centre."""
    users: list[dict[str, str]] = []
    tokens: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    try:
        conn = sqlite3.connect(f"{staged[DB_NAME].resolve().as_uri()}?mode=ro", uri=True)
        try:
            for username, role in conn.execute("SELECT username, role FROM users ORDER BY role, username"):
                users.append({"username": str(username), "role": str(role)})
            now = datetime.datetime.now(datetime.UTC).timestamp()
            for token_id, role, user, label, expires_at in conn.execute(
                "SELECT id, role, username, label, expires_at FROM tokens"
                " WHERE revoked = 0 AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
                (now,),
            ):
                tokens.append(
                    {"id": str(token_id), "role": str(role), "user": user, "label": label, "expires_at": expires_at}
                )
            with contextlib.suppress(sqlite3.OperationalError):  # a schema from before dashboard contacts
                for name, phone, email in conn.execute("SELECT name, phone, email FROM contacts ORDER BY name"):
                    contacts.append({"name": name, "phone": phone, "email": email, "source": "dashboard"})
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"the database in the backup cannot be read: {exc}") from None
    centre: str | None = None
    has_config = CONFIG_MEMBER in staged
    if has_config:
        try:
            config = tomllib.loads(staged[CONFIG_MEMBER].read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BackupError(f"the config in the backup cannot be read: {exc}") from None
        entries = config.get("contacts", [])
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                contacts.insert(
                    sum(c["source"] == "config" for c in contacts),
                    {
                        "name": entry.get("name"),
                        "phone": entry.get("phone"),
                        "email": entry.get("email"),
                        "source": "config",
                    },
                )
        centre = _centre_line(config.get("centre"))
    return RestorePlan(
        src=src,
        authenticated=encrypted,
        manifest=manifest,
        users=users,
        tokens=tokens,
        contacts=contacts,
        centre=centre,
        has_config=has_config,
        replaced=replaced,
    )
