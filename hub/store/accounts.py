"""Users, alarm codes, API tokens and login sessions, stored in the hub database.

Synchronous on purpose: the same functions serve the local CLI (`casahub user`, `casahub
token`, which run beside the daemon) and the daemon, which calls them in a worker thread
because argon2 hashing is CPU work that must not block the event loop.
Passwords and codes are argon2id hashes; tokens and session ids are stored as SHA-256
digests, so a copy of the database gives no usable credential.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, tzinfo
from enum import Enum
from typing import TYPE_CHECKING, Literal, get_args

from alarms.messages import LANGUAGES
from hub.bounds import TEXT_MAX, too_long
from hub.store.code_window import CodeWindow, from_stored, inside, to_stored

if TYPE_CHECKING:
    from argon2 import PasswordHasher

Role = Literal["owner", "member", "installer"]
ROLES: tuple[Role, ...] = get_args(Role)


@functools.cache
def hasher() -> PasswordHasher:
    """The argon2id hasher, made (and argon2 imported) at the first hash or verify: a start needs
    neither (bearer tokens are SHA-256 digests), and the daemon hashes in a worker thread."""
    from argon2 import PasswordHasher

    # RFC 9106's second recommended profile scaled to a Pi: ~50 ms per hash on a Pi 4,
    # so a login (one verify) stays well under the 1 s the API promises.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def __getattr__(name: str) -> object:
    # The old module-level name, for importers of `HASHER`.
    if name == "HASHER":
        return hasher()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A valid hash of a random secret, verified when the user does not exist, so that the
# time a failed login takes does not tell whether the username exists.
_DUMMY_HASH: str | None = None  # made on first use: hashing at import would cost every start ~30 ms


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hasher().hash(secrets.token_hex(16))
    return _DUMMY_HASH


SESSION_TTL = 30 * 24 * 3600
# Installer access (EN 50131 access level 3) is granted by an owner (level 2) for a while only.
INSTALLER_TTL = 8 * 3600
INSTALLER_TTL_MAX = 7 * 24 * 3600
MIN_PASSWORD = 4
MIN_CODE_DIGITS = 4


GRADE2_CODE_DIGITS = 5  # EN 50131 grade 2: arming codes of at least 5 digits


def code_grade2(code: str | None) -> int | None:
    """1 if a code meets grade 2, 0 if not, None for no code. Noted when the code is set: the
    stored hash cannot tell its length later (the commissioning report needs it)."""
    return None if not code else int(len(code) >= GRADE2_CODE_DIGITS)


class AccountError(ValueError):
    """A user-facing problem with an account operation (unknown user, weak code, ...)."""


class LastOwnerError(AccountError):
    """The change would leave the hub without an owner (nobody could manage users any more)."""


class CodeClashError(AccountError):
    """A duress code equal to an alarm code (or the reverse): the hub could not tell them apart."""


class OwnerWindowError(AccountError):
    """The change would leave owners whose codes all have a window: an owner must never be unable
    to disarm their own house, so while any owner's code has a window another owner keeps one
    that always works."""


class Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED  # update_user: leave the code window as it is


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    language: str
    has_code: bool
    has_duress: bool
    # False while the user never chose a language (the dashboard then follows the browser).
    language_saved: bool = False
    # When the alarm and duress codes work (hub/store/code_window.py); None: always.
    window: CodeWindow | None = None
    areas: tuple[str, ...] | None = None  # the areas the user may arm and disarm; None: every one


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a logged-in user or a token."""

    name: str  # the username, or "token:<id>"
    role: Role
    kind: Literal["session", "token"]
    csrf: str | None = None  # only for sessions
    session: str | None = None  # session digest, for logout
    user: str | None = None  # a token's user: for installer tokens the owner who granted it


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret (only a digest is stored anyway)."""

    id: str
    role: Role
    user: str | None
    label: str | None
    created_at: float
    expires_at: float | None
    state: Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class CodeMatch:
    username: str
    duress: bool
    role: Role = "member"
    # False: the code is right but outside its user's window, to be refused like a wrong one.
    inside: bool = True
    areas: tuple[str, ...] | None = None  # the areas its user may arm and disarm; None: every one


def _areas_of(stored: str | None, role: str) -> tuple[str, ...] | None:
    """A user's stored areas (a JSON list; NULL: every area); an owner's codes work everywhere. A
    limit that cannot be read is no area: it must never widen into everything."""
    if stored is None or role == "owner":
        return None
    try:
        value = json.loads(stored)
    except ValueError:
        return ()
    return tuple(a for a in value if isinstance(a, str)) if isinstance(value, list) else ()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _verify(hash_: str | None, secret: str) -> bool:
    if not hash_:
        return False
    from argon2.exceptions import InvalidHashError, VerificationError  # at first use, like hasher()

    try:
        return hasher().verify(hash_, secret)
    except (VerificationError, InvalidHashError):
        return False


def _grant_holds(role: str, username: str | None, user_exists: bool, user_role: str | None) -> bool:
    """A token with a user lives only as long as its user does; an installer token needs one, and
    only while that user is still an owner (who granted it)."""
    if role == "installer":
        return bool(username) and bool(user_exists) and user_role == "owner"
    return username is None or bool(user_exists)


class Accounts:
    """Account operations on one sqlite3 connection, serialised by a lock (thread-safe)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ users
    def add_user(
        self,
        username: str,
        password: str,
        role: Role = "member",
        *,
        code: str | None = None,
        duress_code: str | None = None,
        language: str = "it",
        language_saved: bool = False,
        window: CodeWindow | None = None,
    ) -> User:
        if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise AccountError("username: use letters, digits, '.', '-' or '_'")
        if (reason := too_long(username)) is not None:
            raise AccountError(f"username: {reason}")
        if role not in ROLES:
            raise AccountError(f"role: must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        if language not in LANGUAGES:
            raise AccountError("language: must be 'it' or 'en'")
        code_hash = self._code_hash(code, "code")
        duress_hash = self._code_hash(duress_code, "duress code")
        if code and duress_code and code == duress_code:
            raise CodeClashError("duress code: must differ from the alarm code")
        with self._lock:
            self._check_no_clash(username, code or None, duress_code or None)
            self._check_owner_code_always(username, role=role, has_code=code_hash is not None, window=window)
            try:
                self.conn.execute(
                    "INSERT INTO users (username, role, password_hash, code_hash, duress_hash, language, created_at,"
                    " code_grade2, duress_grade2, code_window) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        username,
                        role,
                        hasher().hash(password),
                        code_hash,
                        duress_hash,
                        language,
                        time.time(),
                        code_grade2(code),
                        code_grade2(duress_code),
                        to_stored(window),
                    ),
                )
            except sqlite3.IntegrityError:
                raise AccountError(f"user {username!r} already exists") from None
        if language_saved:
            with self._lock:
                self.conn.execute("UPDATE users SET language_saved = 1 WHERE username = ?", (username,))
        return User(username, role, language, code_hash is not None, duress_hash is not None, language_saved, window)

    @staticmethod
    def _code_hash(code: str | None, what: str) -> str | None:
        if code is None or code == "":
            return None
        if not code.isdigit() or len(code) < MIN_CODE_DIGITS:
            raise AccountError(f"{what}: at least {MIN_CODE_DIGITS} digits (5 or more for EN 50131 grade 2)")
        return hasher().hash(code)

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        with self._lock:
            cur = self.conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (hasher().hash(password), username)
            )
            if cur.rowcount == 0:
                raise AccountError(f"no user {username!r}")
            self._end_credentials(username)

    def set_codes(self, username: str, *, code: str | None = None, duress_code: str | None = None) -> None:
        updates = []
        params: list[str | int | None] = []
        if code is not None:
            updates.append("code_hash = ?, code_grade2 = ?")
            params += [self._code_hash(code, "code"), code_grade2(code)]
        if duress_code is not None:
            updates.append("duress_hash = ?, duress_grade2 = ?")
            params += [self._code_hash(duress_code, "duress code"), code_grade2(duress_code)]
        if not updates:
            return
        with self._lock:
            cur = self.conn.execute(f"UPDATE users SET {', '.join(updates)} WHERE username = ?", (*params, username))
            if cur.rowcount == 0:
                raise AccountError(f"no user {username!r}")

    def remove_user(self, username: str, *, keep_an_owner: bool = False) -> None:
        """With `keep_an_owner` (the dashboard), removing the last owner raises LastOwnerError."""
        with self._lock:
            if keep_an_owner:
                self._check_owner_stays(username)
                self._check_owner_code_always(username, removed=True)
            cur = self.conn.execute("DELETE FROM users WHERE username = ?", (username,))
            if cur.rowcount == 0:
                raise AccountError(f"no user {username!r}")
            self._end_credentials(username)

    def _end_credentials(self, username: str) -> None:
        """A removed user, or a new password (an account thought compromised), ends every session
        and token of that user at once; open WebSockets and camera streams re-check theirs within
        CREDENTIAL_RECHECK (hub/web/ws.py) and close. Called with the lock held."""
        self.conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
        self.conn.execute("UPDATE tokens SET revoked = 1 WHERE username = ? AND revoked = 0", (username,))

    def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        role: Role | None = None,
        code: str | None = None,
        duress_code: str | None = None,
        language: str | None = None,
        window: CodeWindow | Unchanged | None = UNCHANGED,
    ) -> User:
        """Change any subset of a user's settings at once (the dashboard's user editor).

        None leaves a setting alone; "" removes a code; `window` None makes the codes always valid.
        The last owner cannot be demoted (LastOwnerError), nor can the last owner whose code always
        works lose that while another owner's code has a window (OwnerWindowError); a duress code
        may not equal anybody's alarm code, nor an alarm code anybody's duress code
        (CodeClashError): a keypad could not tell them apart.
        A new password ends the user's sessions and tokens.
        """
        if role is not None and role not in ROLES:
            raise AccountError(f"role: must be one of {', '.join(ROLES)}")
        if password is not None and len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        if language is not None and language not in LANGUAGES:
            raise AccountError("language: must be 'it' or 'en'")
        # Hashing is the slow part (~50 ms each): done before taking the lock.
        code_hash = self._code_hash(code, "code") if code is not None else None
        duress_hash = self._code_hash(duress_code, "duress code") if duress_code is not None else None
        password_hash = hasher().hash(password) if password is not None else None
        if code and duress_code and code == duress_code:
            raise CodeClashError("duress code: must differ from the alarm code")
        with self._lock:
            row = self.conn.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise AccountError(f"no user {username!r}")
            if role is not None and role != "owner" and row["role"] == "owner":
                self._check_owner_stays(username)
            self._check_no_clash(username, code or None, duress_code or None)
            has_code = None if code is None else code_hash is not None
            self._check_owner_code_always(username, role=role, has_code=has_code, window=window)
            updates: list[str] = []
            params: list[object] = []
            for column, value, given in (
                ("password_hash", password_hash, password is not None),
                ("role", role, role is not None),
                ("code_hash", code_hash, code is not None),
                ("code_grade2", code_grade2(code), code is not None),
                ("duress_hash", duress_hash, duress_code is not None),
                ("duress_grade2", code_grade2(duress_code), duress_code is not None),
                ("language", language, language is not None),
                ("language_saved", 1, language is not None),
                ("code_window", None if window is UNCHANGED else to_stored(window), window is not UNCHANGED),
            ):
                if given:
                    updates.append(f"{column} = ?")
                    params.append(value)
            if updates:
                self.conn.execute(f"UPDATE users SET {', '.join(updates)} WHERE username = ?", (*params, username))
            if password is not None:
                self._end_credentials(username)
        user = self.get_user(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        return user

    def set_language(self, username: str, language: str) -> User:
        """The user's own choice of language for the dashboard and their messages."""
        return self.update_user(username, language=language)

    def find_code_clash(self, username: str, *, code: str | None, duress_code: str | None) -> None:
        """Raise CodeClashError if `code` is somebody's duress code or `duress_code` somebody's alarm code."""
        with self._lock:
            self._check_no_clash(username, code, duress_code)

    def _check_owner_stays(self, username: str) -> None:
        """Called with the lock held: refuse to take away the last owner."""
        owners = [r["username"] for r in self.conn.execute("SELECT username FROM users WHERE role = 'owner'")]
        if owners == [username]:
            raise LastOwnerError(f"{username} is the only owner: make another user owner first")

    def _check_owner_code_always(
        self,
        username: str,
        *,
        role: Role | None = None,
        has_code: bool | None = None,
        window: CodeWindow | Unchanged | None = UNCHANGED,
        removed: bool = False,
    ) -> None:
        """Called with the lock held: refuse a change after which some owner has a window and no
        owner has a code that always works (None and UNCHANGED leave a setting as it is)."""
        # Unpacked by position: the restore review's connection has no row factory.
        owners: dict[str, tuple[str, bool, bool]] = {
            name: (role, bool(has_code), window_json is not None)
            for name, role, has_code, window_json in self.conn.execute(
                "SELECT username, role, code_hash IS NOT NULL AS has_code, code_window FROM users"
            )
        }
        was_role, had_code, had_window = owners.pop(username, ("member", False, False))
        if not removed:
            owners[username] = (
                role or was_role,
                had_code if has_code is None else has_code,
                had_window if window is UNCHANGED else window is not None,
            )
        kept = [(has, windowed) for r, has, windowed in owners.values() if r == "owner"]
        if any(windowed for _, windowed in kept) and not any(has and not windowed for has, windowed in kept):
            raise OwnerWindowError(
                "window: an owner must always be able to disarm: another owner must keep an alarm code"
                " without a window (give one first)"
            )

    def _check_no_clash(self, username: str, code: str | None, duress_code: str | None) -> None:
        """Called with the lock held. The user's own current codes count too (a new duress code
        equal to the code they keep)."""
        if not code and not duress_code:
            return
        rows = self.conn.execute("SELECT username, code_hash, duress_hash FROM users").fetchall()
        for row in rows:
            if duress_code and _verify(row["code_hash"], duress_code):
                if not (row["username"] == username and code is not None):  # their old code is being replaced
                    raise CodeClashError("duress code: equal to an alarm code; choose another one")
            if code and _verify(row["duress_hash"], code):
                if not (row["username"] == username and duress_code is not None):
                    raise CodeClashError("code: equal to a duress code; choose another one")

    def list_users(self) -> list[User]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT username, role, language, language_saved, code_hash, duress_hash, code_window, areas"
                " FROM users ORDER BY username"
            ).fetchall()
        return [
            User(
                r["username"],
                r["role"],
                r["language"],
                bool(r["code_hash"]),
                bool(r["duress_hash"]),
                bool(r["language_saved"]),
                from_stored(r["code_window"]),
                _areas_of(r["areas"], r["role"]),
            )
            for r in rows
        ]

    def set_areas(self, username: str, areas: tuple[str, ...] | None) -> None:
        """Limit a user's codes to some areas (None: every area). An owner is never limited: the
        hub must keep somebody who can disarm the whole house."""
        with self._lock:
            row = self.conn.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise AccountError(f"no user {username!r}")
            if areas is not None and row["role"] == "owner":
                raise AccountError("areas: an owner's codes work in every area")
            if areas is not None and not areas:
                raise AccountError("areas: at least one area, or none to allow every area")
            stored = None if areas is None else json.dumps(list(dict.fromkeys(areas)))
            self.conn.execute("UPDATE users SET areas = ? WHERE username = ?", (stored, username))

    def get_user(self, username: str) -> User | None:
        return next((u for u in self.list_users() if u.username == username), None)

    def user_count(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0])

    def check_password(self, username: str, password: str) -> User | None:
        with self._lock:
            row = self.conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            _verify(_dummy_hash(), password)  # same work as a real user: no username oracle
            return None
        if not _verify(row["password_hash"], password):
            return None
        return self.get_user(username)

    def match_code(self, code: str, at: float | None = None, tz: tzinfo = UTC) -> CodeMatch | None:
        """Find whose alarm code (or duress code) this is. Codes identify the person, as on a keypad.

        With `at` (the hub's clock) and `tz` (its zone) the match says whether the code is inside
        its user's window; a code two users share matches the one whose window is open, if any.
        """
        with self._lock:
            rows = self.conn.execute(
                "SELECT username, role, code_hash, duress_hash, code_window, areas FROM users"
                " WHERE code_hash IS NOT NULL OR duress_hash IS NOT NULL"
            ).fetchall()
        outside: CodeMatch | None = None
        for row in rows:
            if _verify(row["code_hash"], code):
                duress = False
            elif _verify(row["duress_hash"], code):
                duress = True  # a duress code follows its user's window too
            else:
                continue
            now_inside = at is None or inside(from_stored(row["code_window"]), at, tz)
            match = CodeMatch(
                row["username"],
                duress=duress,
                role=row["role"],
                inside=now_inside,
                areas=_areas_of(row["areas"], row["role"]),
            )
            if now_inside:
                return match
            outside = outside or match
        return outside

    # ------------------------------------------------------------------ tokens
    def create_token(
        self, role: Role, *, ttl: float | None = None, username: str | None = None, label: str | None = None
    ) -> tuple[str, str]:
        """Returns (token id, the secret token). Only the digest is stored.

        An installer token is granted by an owner (`username`, who must exist and be an owner),
        lasts INSTALLER_TTL unless `ttl` says otherwise, and at most INSTALLER_TTL_MAX. A token
        with a `username` dies with that user (removed, or for installer tokens no longer owner).
        """
        if role not in ROLES:
            raise AccountError(f"role: must be one of {', '.join(ROLES)}")
        if ttl is not None and ttl <= 0:
            raise AccountError("ttl: must be positive")
        if label is not None and (reason := too_long(label, TEXT_MAX)) is not None:
            raise AccountError(f"label: {reason}")
        if role == "installer":
            if not username:
                raise AccountError("an installer token is granted by an owner: name them (--by USER)")
            ttl = INSTALLER_TTL if ttl is None else ttl
            if ttl > INSTALLER_TTL_MAX:
                raise AccountError("ttl: an installer token lasts at most 7 days")
        token_id = secrets.token_hex(4)
        secret = f"chb_{token_id}_{secrets.token_urlsafe(24)}"
        now = time.time()
        with self._lock:
            if username is not None:
                row = self.conn.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
                if row is None:
                    raise AccountError(f"no user {username!r}")
                if role == "installer" and row["role"] != "owner":
                    raise AccountError(f"{username} is not an owner: only an owner grants installer access")
            self.conn.execute(
                "INSERT INTO tokens (id, hash, role, username, label, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, _digest(secret), role, username, label, now, now + ttl if ttl else None),
            )
        return token_id, secret

    def revoke_token(self, token_id: str) -> None:
        with self._lock:
            cur = self.conn.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", (token_id,))
            if cur.rowcount == 0:
                raise AccountError(f"no token {token_id!r}")

    def list_tokens(self, now: float, *, include_ended: bool = False) -> list[TokenInfo]:
        """The tokens, newest first; without `include_ended` only those still valid."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT t.id, t.role, t.username, t.label, t.created_at, t.expires_at, t.revoked,"
                " u.role AS user_role, u.username IS NOT NULL AS user_exists"
                " FROM tokens t LEFT JOIN users u USING (username) ORDER BY t.created_at DESC, t.id"
            ).fetchall()
        found = []
        for r in rows:
            state: Literal["active", "expired", "revoked"] = "active"
            if r["revoked"] or not _grant_holds(r["role"], r["username"], r["user_exists"], r["user_role"]):
                state = "revoked"
            elif r["expires_at"] is not None and r["expires_at"] <= now:
                state = "expired"
            if state == "active" or include_ended:
                found.append(
                    TokenInfo(r["id"], r["role"], r["username"], r["label"], r["created_at"], r["expires_at"], state)
                )
        return found

    def check_token(self, secret: str, now: float) -> Principal | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT t.id, t.role, t.username, t.expires_at, t.revoked,"
                " u.role AS user_role, u.username IS NOT NULL AS user_exists"
                " FROM tokens t LEFT JOIN users u USING (username) WHERE t.hash = ?",
                (_digest(secret),),
            ).fetchone()
        if row is None or row["revoked"] or (row["expires_at"] is not None and row["expires_at"] <= now):
            return None
        if not _grant_holds(row["role"], row["username"], row["user_exists"], row["user_role"]):
            return None
        return Principal(name=f"token:{row['id']}", role=row["role"], kind="token", user=row["username"])

    # ------------------------------------------------------------------ sessions
    def create_session(self, username: str, now: float) -> tuple[str, str]:
        """Returns (session secret for the cookie, csrf token). A fresh id at every login: no fixation."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        with self._lock:
            self.conn.execute(
                "INSERT INTO sessions (hash, username, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_digest(secret), username, csrf, now, now + SESSION_TTL),
            )
            self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        return secret, csrf

    def check_session(self, secret: str, now: float) -> Principal | None:
        digest = _digest(secret)
        with self._lock:
            row = self.conn.execute(
                "SELECT s.username, s.csrf, s.expires_at, u.role FROM sessions s JOIN users u USING (username)"
                " WHERE s.hash = ?",
                (digest,),
            ).fetchone()
        if row is None or row["expires_at"] <= now:
            return None
        return Principal(name=row["username"], role=row["role"], kind="session", csrf=row["csrf"], session=digest)

    def end_session(self, digest: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM sessions WHERE hash = ?", (digest,))
