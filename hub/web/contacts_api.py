"""Who the hub notifies: the config's [[contacts]] (read only here) and the dashboard's own.

    GET    /api/v1/contacts             {"items": [contact]}   config contacts first
    POST   /api/v1/contacts             {"name","phone"?,"email"?,"language"?,"push"?,"voice"?} -> 201 contact
    PATCH  /api/v1/contacts/{id}        any subset of those fields -> 200 contact
    DELETE /api/v1/contacts/{id}        -> 204

A contact is `{"id","name","phone","email","language","push","voice","channels","source"}`:
`channels` lists what an alarm sends them (sms, email, push, voice), `source` is "config" or
"dashboard". Config contacts answer 409 `from_config` to a change: casahub.toml is theirs.
Owner only: phone numbers and emails are personal data, members and installers get 403.

A change is written, then `Hub.use_contacts` swaps the new list into the hub in place, so the
next alarm is planned with it; the audit trail names the contact, not their number or email.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web

from alarms.messages import Language
from alarms.policy import Contact
from hub.store.contacts import (
    ContactError,
    ContactsStore,
    NameTaken,
    StoredContact,
    check_contact,
    normalise_email,
    normalise_phone,
)
from hub.web.auth import OWNERS, require
from hub.web.context import CONTEXT
from hub.web.errors import ApiError, read_body

__all__ = ["add_contacts_routes", "channels_of"]

CONTACTS = web.AppKey("casahub_contacts", ContactsStore)
# Changes are serialised: two concurrent edits must not swap in lists that each miss the other.
CHANGES = web.AppKey("casahub_contacts_lock", asyncio.Lock)


class NewContact(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    phone: str | None = None
    email: str | None = None
    language: Language | None = None
    push: bool = True
    voice: bool = False


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    phone: str | msgspec.UnsetType | None = msgspec.UNSET
    email: str | msgspec.UnsetType | None = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    push: bool | msgspec.UnsetType = msgspec.UNSET
    voice: bool | msgspec.UnsetType = msgspec.UNSET


def channels_of(contact: Contact) -> list[str]:
    """What an alarm sends this contact, as alarms/policy.py plans it."""
    channels = []
    if contact.phone:
        channels.append("sms")
    if contact.email:
        channels.append("email")
    if contact.push:
        channels.append("push")
    if contact.voice and contact.phone:
        channels.append("voice")
    return channels


def contact_json(contact_id: str, contact: Contact, source: str) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "language": contact.language,
        "push": contact.push,
        "voice": contact.voice,
        "channels": channels_of(contact),
        "source": source,
    }


def _bad(exc: ContactError) -> ApiError:
    if isinstance(exc, NameTaken):
        return ApiError(409, "name_taken", str(exc), field="name")
    return ApiError(400, f"invalid_field:{exc.field}", str(exc), field=exc.field, reason=exc.reason)


def _config_id(index: int) -> str:
    return f"config-{index + 1}"


async def _refresh_hub(app: web.Application) -> None:
    ctx = app[CONTEXT]
    ctx.hub.use_contacts([c.contact() for c in await app[CONTACTS].all()])


async def _load_on_start(app: web.Application) -> None:
    await _refresh_hub(app)


def _check_name_free(request: web.Request, name: str) -> None:
    if any(c.name == name for c in request.app[CONTEXT].hub.config_contacts):
        raise ApiError(409, "name_taken", f"name: {name!r} is a contact of the config file", field="name")


async def _stored_or_error(request: web.Request) -> StoredContact:
    raw = request.match_info["id"]
    hub = request.app[CONTEXT].hub
    if any(raw == _config_id(i) for i in range(len(hub.config_contacts))):
        raise ApiError(
            409,
            "from_config",
            f"contact {raw} comes from the config file: edit [[contacts]] in casahub.toml and restart",
        )
    found = await request.app[CONTACTS].get(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    if found is None:
        raise ApiError(404, "unknown_contact", f"no contact {raw!r}")
    return found


# ---------------------------------------------------------------- routes
async def contacts(request: web.Request) -> web.Response:
    require(request, OWNERS)
    hub = request.app[CONTEXT].hub
    items = [contact_json(_config_id(i), c, "config") for i, c in enumerate(hub.config_contacts)]
    items += [contact_json(str(c.id), c.contact(), "dashboard") for c in await request.app[CONTACTS].all()]
    return web.json_response({"items": items})


async def contact_add(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    body = await read_body(request, NewContact)
    ctx = request.app[CONTEXT]
    try:
        phone, email = normalise_phone(body.phone), normalise_email(body.email)
        name = check_contact(body.name, phone, email, body.push, body.voice)
    except ContactError as exc:
        raise _bad(exc) from None
    _check_name_free(request, name)
    language: Language = body.language or ("en" if ctx.hub.language == "en" else "it")
    async with request.app[CHANGES]:
        try:
            stored = await request.app[CONTACTS].add(
                StoredContact(0, name, phone, email, language, body.push, body.voice), ctx.clock()
            )
        except ContactError as exc:
            raise _bad(exc) from None
        await _refresh_hub(request.app)
    contact = stored.contact()
    await ctx.hub.audit(
        "contact_added",
        actor=principal.name,
        data={"contact": str(stored.id), "name": name, "channels": channels_of(contact)},
    )
    return web.json_response(contact_json(str(stored.id), contact, "dashboard"), status=201)


async def contact_patch(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    old = await _stored_or_error(request)
    body = await read_body(request, ContactPatch)
    ctx = request.app[CONTEXT]
    try:
        phone = old.phone if body.phone is msgspec.UNSET else normalise_phone(body.phone)
        email = old.email if body.email is msgspec.UNSET else normalise_email(body.email)
        push = old.push if body.push is msgspec.UNSET else body.push
        voice = old.voice if body.voice is msgspec.UNSET else body.voice
        name = check_contact(old.name if body.name is msgspec.UNSET else body.name, phone, email, push, voice)
    except ContactError as exc:
        raise _bad(exc) from None
    if name != old.name:
        _check_name_free(request, name)
    language = old.language if body.language is msgspec.UNSET else body.language
    new = StoredContact(old.id, name, phone, email, language, push, voice)
    async with request.app[CHANGES]:
        try:
            await request.app[CONTACTS].update(new)
        except ContactError as exc:
            raise _bad(exc) from None
        await _refresh_hub(request.app)
    changed = sorted(f for f in msgspec.structs.asdict(body) if getattr(body, f) is not msgspec.UNSET)
    await ctx.hub.audit(
        "contact_changed", actor=principal.name, data={"contact": str(old.id), "name": name, "changed": changed}
    )
    return web.json_response(contact_json(str(new.id), new.contact(), "dashboard"))


async def contact_delete(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    old = await _stored_or_error(request)
    async with request.app[CHANGES]:
        await request.app[CONTACTS].remove(old.id)
        await _refresh_hub(request.app)
    await request.app[CONTEXT].hub.audit(
        "contact_removed", actor=principal.name, data={"contact": str(old.id), "name": old.name}
    )
    return web.Response(status=204)


def add_contacts_routes(app: web.Application) -> None:
    """Register the routes; the dashboard's contacts join the hub's list when the app starts."""
    app[CONTACTS] = ContactsStore(app[CONTEXT].hub.db)
    app[CHANGES] = asyncio.Lock()
    app.on_startup.append(_load_on_start)
    r = app.router
    r.add_get("/api/v1/contacts", contacts)
    r.add_post("/api/v1/contacts", contact_add)
    r.add_patch("/api/v1/contacts/{id}", contact_patch)
    r.add_delete("/api/v1/contacts/{id}", contact_delete)
