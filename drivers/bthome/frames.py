"""BTHome v2 frames, pure: cut the service data (`split_frame`), decrypt it (`decrypt_frame`),
walk its objects (`parse_objects`) and say what they mean in casahub's terms (`interpret`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from alarms.model import ZoneKind
from drivers.base import DriverError

__all__ = [
    "BTHOME_UUID",
    "MIC_LENGTH",
    "UUID16_LE",
    "DeviceReport",
    "Frame",
    "FrameError",
    "decrypt_frame",
    "interpret",
    "parse_objects",
    "split_frame",
]

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
UUID16_LE = b"\xd2\xfc"  # 0xFCD2 as it appears in the advert and in the nonce

_ENCRYPTED = 0x01
_MAC_INCLUDED = 0x02
_TRIGGER_BASED = 0x04
MIC_LENGTH = 4
_COUNTER_LENGTH = 4

# Object id -> data length, from the BTHome v2 object table (bthome.io/format); checked
# against bthome-ble's MEAS_TYPES by the tests. Ids missing here end the walk.
_FIXED_LENGTHS: dict[int, int] = {
    **dict.fromkeys(
        (0x00, 0x01, 0x09, 0x0F, *range(0x10, 0x12), *range(0x15, 0x30), 0x3A, 0x46, 0x57, 0x58, 0x59, 0x60),
        1,
    ),
    **dict.fromkeys((0x64, 0x65), 1),
    **dict.fromkeys(
        (0x02, 0x03, 0x06, 0x07, 0x08, 0x0C, 0x0D, 0x0E, 0x12, 0x13, 0x14, 0x3C, 0x3D, 0x3F, 0x40, 0x41),
        2,
    ),
    **dict.fromkeys((0x43, 0x44, 0x45, 0x47, 0x48, 0x49, 0x4A, 0x51, 0x52, 0x56, 0x5A, 0x5D, 0x5E, 0x5F), 2),
    **dict.fromkeys((0x61, 0xF0), 2),
    **dict.fromkeys((0x04, 0x05, 0x0A, 0x0B, 0x42, 0x4B, 0xF2), 3),
    **dict.fromkeys((0x3E, 0x4C, 0x4D, 0x4E, 0x4F, 0x50, 0x55, 0x5B, 0x5C, 0x62, 0x63, 0xF1), 4),
}
_LENGTH_BYTE = frozenset((0x53, 0x54))  # text, raw: a length byte, then that many bytes
_COMMAND = 0x3B  # a length byte whose low 5 bits count the arguments after a 1-byte opcode

_PACKET_ID = 0x00
_BATTERY = 0x01
_BATTERY_LOW = 0x15
_TAMPER = 0x2B
_BUTTON = 0x3A
_POWER = 0x10
# Binary objects that are a zone channel: object id -> (kind, value that makes it active).
_CHANNELS: dict[int, tuple[ZoneKind, bool]] = {
    _POWER: ("power", False),  # 1 = power on; the power zone is active when mains is lost
    0x11: ("contact", True),  # opening
    0x1A: ("contact", True),  # door
    0x2D: ("contact", True),  # window
    0x20: ("water", True),  # moisture
    0x21: ("motion", True),  # motion
    0x23: ("motion", True),  # occupancy
    0x29: ("smoke", True),  # smoke
}
_PRESSES = frozenset((0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x80))
_NOT_PRESSES = frozenset((0x00, 0x81))  # no event; hold released


class FrameError(DriverError, ValueError):
    """Service data that is not a usable BTHome v2 frame; the message says why."""


@dataclass(frozen=True)
class Frame:
    """BTHome v2 service data cut into its parts (nothing decrypted yet)."""

    info: int  # the device-info byte
    body: bytes  # the objects, or the ciphertext when encrypted
    mac: bytes | None = None  # big-endian MAC carried in the frame (device-info bit 1)
    counter: int | None = None  # encrypted frames only
    counter_bytes: bytes = b""
    mic: bytes = b""

    @property
    def encrypted(self) -> bool:
        return bool(self.info & _ENCRYPTED)

    @property
    def trigger_based(self) -> bool:
        return bool(self.info & _TRIGGER_BASED)


def split_frame(data: bytes) -> Frame:
    """Cut the 0xFCD2 service data into a `Frame`; raise FrameError when it cannot be one."""
    if not data:
        raise FrameError("empty service data")
    info = data[0]
    version = info >> 5
    if version != 2:
        raise FrameError(f"BTHome version {version} in device-info byte 0x{info:02x}, expected 2")
    rest = data[1:]
    mac = None
    if info & _MAC_INCLUDED:
        if len(rest) < 6:
            raise FrameError("device-info says a MAC follows, but the frame is shorter than 6 bytes")
        mac, rest = rest[5::-1], rest[6:]
    if not info & _ENCRYPTED:
        return Frame(info=info, body=rest, mac=mac)
    if len(rest) < _COUNTER_LENGTH + MIC_LENGTH:
        raise FrameError(f"encrypted frame of {len(data)} bytes has no room for counter and MIC")
    counter_bytes = rest[-8:-4]
    return Frame(
        info=info,
        body=rest[:-8],
        mac=mac,
        counter=int.from_bytes(counter_bytes, "little"),
        counter_bytes=counter_bytes,
        mic=rest[-4:],
    )


def decrypt_frame(frame: Frame, key: bytes | AESCCM, mac: bytes) -> bytes:
    """The plaintext objects of an encrypted frame; FrameError when the MIC does not verify."""
    cipher = key if isinstance(key, AESCCM) else AESCCM(key, tag_length=MIC_LENGTH)
    nonce = mac + UUID16_LE + bytes((frame.info,)) + frame.counter_bytes
    try:
        return cipher.decrypt(nonce, frame.body + frame.mic, None)
    except InvalidTag:
        raise FrameError("MIC check failed: wrong bind key, or a forged or corrupted frame") from None


def parse_objects(payload: bytes) -> tuple[list[tuple[int, bytes]], str | None]:
    """The (object id, data) pairs of a payload, and why the walk stopped early (None: it did not)."""
    objects: list[tuple[int, bytes]] = []
    at = 0
    while at < len(payload):
        object_id = payload[at]
        if object_id in _FIXED_LENGTHS:
            start, length = at + 1, _FIXED_LENGTHS[object_id]
        elif object_id in _LENGTH_BYTE or object_id == _COMMAND:
            if at + 1 >= len(payload):
                return objects, f"object 0x{object_id:02x} lacks its length byte"
            start = at + 2
            length = payload[at + 1] if object_id in _LENGTH_BYTE else 1 + (payload[at + 1] & 0x1F)
        else:
            return objects, f"unknown object id 0x{object_id:02x}; ignoring it and what follows"
        end = start + length
        if end > len(payload):
            return objects, f"object 0x{object_id:02x} is truncated ({len(payload) - start} of {length} bytes)"
        objects.append((object_id, payload[start:end]))
        at = end
    return objects, None


@dataclass
class DeviceReport:
    """What one frame's objects say, in casahub's terms."""

    packet_id: int | None = None
    battery: float | None = None
    battery_low: bool | None = None
    tamper: bool | None = None
    states: dict[ZoneKind, bool] = field(default_factory=dict)  # zone channel -> active
    pressed: bool = False  # a button press event: pulse the panic channel
    kinds: set[ZoneKind] = field(default_factory=set)  # channels this device has
    notes: list[str] = field(default_factory=list)  # values that were out of range


def interpret(objects: list[tuple[int, bytes]]) -> DeviceReport:
    """Map BTHome objects to zone channels and device health (the table in the package docstring)."""
    report = DeviceReport()
    for object_id, data in objects:
        if object_id == _PACKET_ID:
            report.packet_id = data[0]
        elif object_id == _BATTERY:
            if data[0] <= 100:
                report.battery = float(data[0])
            else:
                report.notes.append(f"battery {data[0]} % is out of range")
        elif object_id == _BATTERY_LOW:
            report.battery_low = data[0] != 0
        elif object_id == _TAMPER:
            report.tamper = bool(report.tamper) or data[0] != 0
        elif object_id == _BUTTON:
            report.kinds.add("panic")
            if data[0] in _PRESSES:
                report.pressed = True
            elif data[0] not in _NOT_PRESSES:
                report.notes.append(f"unknown button event 0x{data[0]:02x}")
        elif object_id in _CHANNELS:
            kind, active_when = _CHANNELS[object_id]
            active = (data[0] != 0) == active_when
            report.kinds.add(kind)
            report.states[kind] = report.states.get(kind, False) or active
    return report
