"""What `BTHomeDriver` remembers about each BTHome address it hears."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from alarms.model import ZoneKind

__all__ = ["KNOWN_MODELS", "MAC", "DeviceMemory", "mac_bytes"]

# Model names a device advertises -> the channels it has, for encrypted devices heard
# before anyone gave us their key (their objects cannot be read yet).
KNOWN_MODELS: dict[str, tuple[ZoneKind, ...]] = {
    "SBDW-002C": ("contact",),  # Shelly BLU Door/Window
    "SBMO-003Z": ("motion",),  # Shelly BLU Motion
    "SBBT-002C": ("panic",),  # Shelly BLU Button1
    "SBBT-102C": ("panic",),  # Shelly BLU Button1 ZB
    "SBHT-003C": ("panic",),  # Shelly BLU H&T (its button)
}
MAC = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}")


@dataclass
class DeviceMemory:
    """What the driver remembers about one BTHome address."""

    address: str
    heard_at: float
    name: str | None = None
    rssi: int | None = None
    encrypted: bool = False
    trigger_based: bool | None = None
    kinds: set[ZoneKind] = field(default_factory=set)
    battery: float | None = None
    # replay protection and de-duplication
    key: bytes | None = None  # the bind key `counter` was accepted under
    cipher: AESCCM | None = None
    counter: int | None = None
    last_marker: object = None  # packet id, or plaintext bytes, of the last accepted frame
    accepted_at: float | None = None
    # downgrade (plaintext from a keyed device)
    tamper_held: bool = False
    plaintext_at: float = 0.0
    logged: set[str] = field(default_factory=set)  # refusals logged since the last accepted frame
    noted: set[str] = field(default_factory=set)  # decoding notes, logged once ever


def mac_bytes(address: str) -> bytes | None:
    """The 6 bytes of a MAC written AA:BB:CC:DD:EE:FF; None for a platform's opaque id (macOS)."""
    return bytes.fromhex(address.replace(":", "")) if MAC.fullmatch(address) else None
