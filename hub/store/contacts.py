"""Contacts added from the dashboard, stored in the hub database (table `contacts`).

The config's `[[contacts]]` stay in casahub.toml and are never written here: the two lists are
joined in `Hub.contacts` (see `Hub.use_contacts`), which the notification policy reads at every
alarm. Validation lives here too, so that the API and any later CLI refuse the same things
with the same words: a phone number in E.164 form, a plausible email address, and at least one
way to reach the person.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from alarms.messages import Language
from alarms.policy import Contact
from hub.store.db import Database

# E.164: "+", a country code that does not start with 0, 8 to 15 digits in all.
PHONE = re.compile(r"\+[1-9][0-9]{7,14}")
# The same shape the config check accepts (hub/config/addresses.py): something@host.tld, no spaces or <>.
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
MAX_NAME = 64
MAX_EMAIL = 254  # RFC 5321's limit on a forward path


class ContactError(ValueError):
    """A contact field that cannot be accepted; `field` names it."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason  # a stable code the dashboard words in its own language


class NameTaken(ContactError):
    """Another contact (from the config or the dashboard) already has this name: messages and
    the outbox name their recipient, so names must tell contacts apart."""

    def __init__(self, name: str) -> None:
        super().__init__("name", f"a contact named {name!r} already exists", "name_taken")


@dataclass(frozen=True)
class StoredContact:
    id: int
    name: str
    phone: str | None
    email: str | None
    language: Language
    push: bool
    voice: bool

    def contact(self) -> Contact:
        return Contact(
            name=self.name, phone=self.phone, email=self.email, language=self.language, push=self.push, voice=self.voice
        )


def normalise_phone(value: str | None) -> str | None:
    """Returns "+39 333 123-4567" as "+393331234567", "" as None; anything else raises ContactError."""
    if value is None or not value.strip():
        return None
    compact = re.sub(r"[\s().-]", "", value)
    if not PHONE.fullmatch(compact):
        raise ContactError(
            "phone",
            f"{value!r} is not an international number: + and 8 to 15 digits, e.g. +393331234567",
            "phone_format",
        )
    return compact


def normalise_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_EMAIL or not EMAIL.fullmatch(value):
        raise ContactError("email", f"{value!r} is not an email address", "email_format")
    return value


def check_contact(name: str, phone: str | None, email: str | None, push: bool, voice: bool) -> str:
    """Raise ContactError for a contact nobody could reach; returns the trimmed name."""
    name = name.strip()
    if not name:
        raise ContactError("name", "must not be empty", "name_empty")
    if len(name) > MAX_NAME or any(not c.isprintable() for c in name):
        raise ContactError("name", f"at most {MAX_NAME} printable characters", "name_length")
    if voice and phone is None:
        raise ContactError("voice", "a voice call needs a phone number", "voice_needs_phone")
    if phone is None and email is None and not push:
        raise ContactError("phone", "give a phone number, an email address or app notifications", "unreachable")
    return name


def _row(row: sqlite3.Row) -> StoredContact:
    return StoredContact(
        id=int(row["id"]),
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        language="en" if row["language"] == "en" else "it",
        push=bool(row["push"]),
        voice=bool(row["voice"]),
    )


class ContactsStore:
    """The dashboard's contacts, on the daemon's database (writes in one transaction each)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[StoredContact]:
        return [_row(r) for r in await self.db.fetchall("SELECT * FROM contacts ORDER BY id")]

    async def get(self, contact_id: int) -> StoredContact | None:
        row = await self.db.fetchone("SELECT * FROM contacts WHERE id = ?", (contact_id,))
        return _row(row) if row is not None else None

    async def add(self, contact: StoredContact, now: float) -> StoredContact:
        """Insert `contact` (its id is ignored); a name already taken raises ContactError."""
        try:
            row_id = await self.db.execute(
                "INSERT INTO contacts (name, phone, email, language, push, voice, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    contact.name,
                    contact.phone,
                    contact.email,
                    contact.language,
                    int(contact.push),
                    int(contact.voice),
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            raise NameTaken(contact.name) from None
        return StoredContact(
            row_id, contact.name, contact.phone, contact.email, contact.language, contact.push, contact.voice
        )

    async def update(self, contact: StoredContact) -> None:
        try:
            await self.db.execute(
                "UPDATE contacts SET name = ?, phone = ?, email = ?, language = ?, push = ?, voice = ? WHERE id = ?",
                (
                    contact.name,
                    contact.phone,
                    contact.email,
                    contact.language,
                    int(contact.push),
                    int(contact.voice),
                    contact.id,
                ),
            )
        except sqlite3.IntegrityError:
            raise NameTaken(contact.name) from None

    async def remove(self, contact_id: int) -> None:
        await self.db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
