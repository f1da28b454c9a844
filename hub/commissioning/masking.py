"""Masking for a report handed to third parties (the homeowner, the insurer): a phone number or an
email address is shown enough to be recognised, never enough to be used."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """`+393331234567` -> `+39 ••• ••• 4567`: enough to recognise the number, not to dial it."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) <= 6:
        return "•••"  # too short to show any digit without giving most of it away
    prefix = f"+{digits[:2]} " if phone.strip().startswith("+") and len(digits) > 8 else ""
    return f"{prefix}••• ••• {digits[-4:]}"


def mask_email(email: str | None) -> str | None:
    """`famiglia@example.com` -> `f•••@example.com`."""
    if not email:
        return None
    local, at, domain = email.partition("@")
    if not at:
        return "•••"
    return f"{local[:1]}•••@{domain}"


def mask_address(channel: str, address: str | None) -> str | None:
    return mask_email(address) if channel == "email" else mask_phone(address)
