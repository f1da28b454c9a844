"""BTHome v2 sensors over Bluetooth Low Energy: adverts in, readings out.

Theory of operation. BTHome devices (Shelly BLU Door/Window, Motion, Button, H&T; DIY
firmware) never connect: each report is one advertisement carrying service data for the
16-bit UUID 0xFCD2. The driver listens with a `BleakScanner` (passive, filtered by BlueZ
`or_patterns` on that UUID when `passive = true` and the adapter supports it; active
otherwise) and hands every advertisement to `handle_advertisement`, the one callback that
the scanner and the tests share. Nothing here waits: the callback decodes, checks and
queues readings, and `readings()` drains the queue.

One advertisement goes through four steps, each of which may refuse it:

1. `split_frame` reads the device-info byte (bit 0 encrypted, bit 1 MAC included, bit 2
   trigger-based, bits 5-7 version = 2) and cuts the rest into objects, or into
   ciphertext + counter + MIC.
2. Authenticity, for paired devices only (`context.paired()`): a device with a bind key
   (`context.bindkey(address)`, 32 hex digits) must send encrypted frames (AES-CCM,
   4-byte MIC, nonce = MAC + `D2 FC` + device-info + counter) whose counter is greater
   than the last one accepted from it. An equal counter is the device repeating itself
   (dropped quietly); a smaller one is a replay and a wrong MIC a wrong key or a forgery
   (both refused and logged). A *plaintext* frame from a device that has a bind key is a
   downgrade attack: it is refused and reported as tamper on that device (see below). A
   paired device without a bind key that sends encrypted frames is refused until it is
   re-paired with its key. Counters live in memory only: after a restart the first
   authentic frame sets the bar again (`forget(address)` does the same at run time, e.g.
   after a battery change on a device that restarts its counter from zero).
3. `parse_objects` walks the objects (id, then a length fixed per id, or a length byte);
   an unknown id or a truncated object ends the walk and the objects before it are kept.
4. Duplicates: BLE devices repeat each advert several times. A frame whose packet id
   (object 0x00) equals the previous accepted one from that device (for plaintext frames
   without a packet id: whose bytes equal it) within `DUPLICATE_WINDOW` seconds is
   ignored, so a button press is one press. The window exists because the packet id is a
   single byte: a device that sends the same id an hour later is news, not a repeat.

Readings (only for paired devices; every other BTHome device only feeds `candidates()`):

    object                      reading
    0x20 moisture   1 = wet     SensorReading water    active = wet
    0x29 smoke      1 = smoke   SensorReading smoke    active = smoke
    0x21 motion / 0x23 occupancy SensorReading motion  active = detected
    0x11 opening / 0x1A door / 0x2D window (1 = open)
                                SensorReading contact  active = open
    0x10 power      1 = on      SensorReading power    active = power OFF (mains lost)
    0x3A button     any press   SensorReading panic    active, then at once inactive
    0x2B tamper     1 = on      HealthReading tamper
    0x01 battery %, 0x15 battery low (1 = low)
                                HealthReading battery, battery_low
    (RSSI of the advert)        HealthReading signal (dBm), online = True

Every accepted frame yields one HealthReading (first) and then its SensorReadings. Binary
objects follow bthome-ble: any non-zero value is "on". Button events 0x01-0x06 (press,
double, triple, long, long double, long triple) and 0x80 (hold) are presses; 0x00 (no
event) and 0x81 (hold released) are not. A momentary press has no "restore" of its own,
so the panic channel is pulsed: active=True then active=False in the same instant.

Downgrade (plaintext from a keyed device): the frame is dropped, a warning is logged and
`HealthReading(tamper=True)` is emitted once for the device; the tamper is held (a later
authentic "tamper 0" does not clear it) until `TAMPER_HOLD` seconds have passed without a
plaintext frame, and the first authentic frame after that reports tamper=False. Reporting
tamper rather than an intrusion keeps the driver out of alarm decisions (docs/architecture.md, the nevers)
while still opening a `tamper` incident: someone nearby is forging this device's radio.

Supervision (`expected_interval`): trigger-based devices (device-info bit 2, e.g. the
Shelly BLU family) only advertise on events plus a periodic status beacon, so they get
`TRIGGER_INTERVAL` (1 h, the Shelly BLU heartbeat); devices that advertise on a timer get
`REGULAR_INTERVAL`; a device not heard since the driver started gets the longer one. A
paired device's flag is learned from accepted frames only, so forged adverts cannot
stretch its supervision.
A Shelly BLU Button sends its hourly beacon only with "beacon mode" enabled in the Shelly
app; without it a button is reported offline.

Bad frames never raise out of the callback: each refusal or decoding problem is logged
once per device (until the device next gets a frame through), at warning level for
paired devices and at debug level for the neighbours'. Per-device memory is bounded:
beyond `MAX_UNPAIRED` unpaired devices the least recently heard are forgotten (paired
devices never are, so flooding cannot reset replay protection).

A device's casahub address is its Bluetooth address as BlueZ writes it, upper case
("3C:2E:F5:11:22:33"); `context.paired()` and `context.bindkey()` are asked about that
spelling. An empty bind key counts as none.

Options: `adapter` (default "hci0"), `passive` (default true). A `type` key equal to
"bthome" is tolerated, so the hub may pass a whole `[[drivers]]` table.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from alarms.model import ZONE_KINDS, ZoneKind
from drivers import bthome
from drivers.base import (
    Candidate,
    DriverContext,
    DriverError,
    FixedDevice,
    HealthReading,
    Reading,
    ReadingStream,
    SensorReading,
    stop_task,
)

__all__ = [
    "BTHOME_UUID",
    "CANDIDATE_WINDOW",
    "DUPLICATE_WINDOW",
    "REGULAR_INTERVAL",
    "TAMPER_HOLD",
    "TRIGGER_INTERVAL",
    "BTHomeDriver",
    "DeviceReport",
    "Frame",
    "FrameError",
    "ScanMode",
    "Scanner",
    "ScannerFactory",
    "bleak_scanner_factory",
    "decrypt_frame",
    "interpret",
    "parse_objects",
    "split_frame",
]

log = logging.getLogger("drivers.bthome")  # one logger per driver, as [log] levels name it

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
_UUID16_LE = b"\xd2\xfc"  # 0xFCD2 as it appears in the advert and in the nonce

CANDIDATE_WINDOW = 600.0  # seconds: a device heard this recently is offered for pairing
DUPLICATE_WINDOW = 10.0  # seconds: the same packet id again within this is a repeat
TAMPER_HOLD = 600.0  # seconds without plaintext frames before a downgrade tamper clears
TRIGGER_INTERVAL = 3600.0  # seconds: Shelly BLU devices beacon their status hourly
REGULAR_INTERVAL = 300.0  # seconds: timer-driven devices advertise every few seconds to a minute
MAX_UNPAIRED = 256  # unpaired devices remembered for candidates
_STOP_TIMEOUT = 10.0  # seconds: a scanner that does not stop (bluetoothd hung) is abandoned

# ----------------------------------------------------------------------------- frames

_ENCRYPTED = 0x01
_MAC_INCLUDED = 0x02
_TRIGGER_BASED = 0x04
_MIC_LENGTH = 4
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


class FrameError(ValueError):
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
    if len(rest) < _COUNTER_LENGTH + _MIC_LENGTH:
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
    cipher = key if isinstance(key, AESCCM) else AESCCM(key, tag_length=_MIC_LENGTH)
    nonce = mac + _UUID16_LE + bytes((frame.info,)) + frame.counter_bytes
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
    """Map BTHome objects to zone channels and device health (the table in the module docstring)."""
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


# ----------------------------------------------------------------------------- the scanner seam

ScanMode = Literal["passive", "active"]
AdvertisementCallback = Callable[[BLEDevice, AdvertisementData], None]


class Scanner(Protocol):
    """What the driver needs of a scanner (a `BleakScanner` has it)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ScannerFactory = Callable[[AdvertisementCallback, ScanMode], Scanner]


def bleak_scanner_factory(adapter: str) -> ScannerFactory:
    """Build `BleakScanner`s on `adapter`; passive ones only pass adverts with 0xFCD2 service data."""

    def make(callback: AdvertisementCallback, mode: ScanMode) -> Scanner:
        bluez: BlueZScannerArgs = {"adapter": adapter}
        if mode == "passive":
            bluez["or_patterns"] = [OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, _UUID16_LE)]
        return BleakScanner(callback, None, mode, bluez=bluez)

    return make


# ----------------------------------------------------------------------------- per-device memory

# Model names a device advertises -> the channels it has, for encrypted devices heard
# before anyone gave us their key (their objects cannot be read yet).
_KNOWN_MODELS: dict[str, tuple[ZoneKind, ...]] = {
    "SBDW-002C": ("contact",),  # Shelly BLU Door/Window
    "SBMO-003Z": ("motion",),  # Shelly BLU Motion
    "SBBT-002C": ("panic",),  # Shelly BLU Button1
    "SBBT-102C": ("panic",),  # Shelly BLU Button1 ZB
    "SBHT-003C": ("panic",),  # Shelly BLU H&T (its button)
}
_MAC = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}")
_KEY = re.compile(r"[0-9a-fA-F]{32}")


@dataclass
class _Device:
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


# ----------------------------------------------------------------------------- the driver


class BTHomeDriver:
    """BTHome v2 BLE sensors through a `BleakScanner`; see the module docstring."""

    type: ClassVar[str] = "bthome"

    def __init__(
        self,
        options: Mapping[str, Any],
        context: DriverContext,
        *,
        scanner_factory: ScannerFactory | None = None,
    ) -> None:
        self.adapter, self.passive = _parse_options(options)
        self._context = context
        # Looked up on the package, drivers.bthome, where a test without Bluetooth replaces it.
        self._scanner_factory = scanner_factory or bthome.bleak_scanner_factory(self.adapter)
        self._devices: dict[str, _Device] = {}
        self._stream = ReadingStream(self.type)
        self._scanner: Scanner | None = None
        self.mode: ScanMode | None = None  # how the running scanner listens
        self._boost_task: asyncio.Task[None] | None = None
        self._boost_until = 0.0
        self._state = "new"  # new -> running -> stopped; a driver runs once

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a BTHomeDriver runs once; create a new one to start again")
        modes: tuple[ScanMode, ...] = ("passive", "active") if self.passive else ("active",)
        failures: dict[ScanMode, Exception] = {}
        for mode in modes:
            try:
                scanner = self._scanner_factory(self.handle_advertisement, mode)
                await scanner.start()
            except Exception as exc:  # BleakError, D-Bus errors, no system bus: all mean "not this way"
                failures[mode] = exc
                continue
            self._scanner, self.mode = scanner, mode
            break
        else:
            self._state = "stopped"
            reasons = "; ".join(f"{mode} scanning: {exc!r}" for mode, exc in failures.items())
            raise DriverError(
                f"bthome: cannot scan on Bluetooth adapter {self.adapter!r} ({reasons}); "
                "check that bluetoothd is running and that the adapter exists and is powered "
                "(`bluetoothctl list`, `bluetoothctl power on`), or set [[drivers]] adapter"
            )
        if "passive" in failures:
            log.warning(
                "bthome: passive scanning on %s is not available (%r); scanning actively instead. "
                "Passive scanning needs BlueZ >= 5.56 with advertisement monitors "
                "(bluetoothd --experimental on older releases)",
                self.adapter,
                failures["passive"],
            )
        self._state = "running"
        log.info("bthome: %s scanning on %s", self.mode, self.adapter)
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "stopped"
        task, self._boost_task = self._boost_task, None
        scanner, self._scanner = self._scanner, None
        try:
            await stop_task(task)
            if scanner is not None:
                try:
                    async with asyncio.timeout(_STOP_TIMEOUT):
                        await scanner.stop()
                except Exception as error:  # the adapter may be gone already; stopping must not fail
                    log.warning("bthome: stopping the scanner failed: %r", error)
        finally:
            self._stream.end()

    # ------------------------------------------------------------------ the Driver protocol

    def readings(self) -> AsyncIterator[Reading]:
        return self._stream.readings()

    async def candidates(self) -> list[Candidate]:
        paired = self._context.paired()
        since = self._context.clock() - CANDIDATE_WINDOW
        found = []
        for device in self._devices.values():
            if device.address in paired or device.heard_at < since:
                continue
            kinds = set(device.kinds)
            if not kinds and device.name is not None:
                kinds.update(_KNOWN_MODELS.get(device.name, ()))
            model = device.name or "BTHome"
            found.append(
                Candidate(
                    id=f"{self.type}:{device.address}",
                    driver=self.type,
                    address=device.address,
                    model=f"{model} (encrypted)" if device.encrypted else model,
                    kinds=tuple(kind for kind in ZONE_KINDS if kind in kinds),
                    signal=device.rssi,
                    battery=device.battery,
                )
            )
        found.sort(key=lambda c: (c.signal is None, -(c.signal or 0), c.address))
        return found

    async def scan(self, seconds: float) -> None:
        """Scan actively for `seconds` in the background (names come in scan responses); returns at once.

        Only needed when the driver listens passively; a running boost is extended.
        """
        if self._state != "running" or self.mode != "passive":
            return
        loop = asyncio.get_running_loop()
        self._boost_until = max(self._boost_until, loop.time() + max(0.0, float(seconds)))
        if self._boost_task is None or self._boost_task.done():
            self._boost_task = asyncio.create_task(self._boost(), name="bthome-active-scan")

    def fixed_devices(self) -> list[FixedDevice]:
        return []

    def expected_interval(self, address: str) -> float | None:
        device = self._devices.get(address.upper())
        if device is None or device.trigger_based is not False:
            return TRIGGER_INTERVAL
        return REGULAR_INTERVAL

    # ------------------------------------------------------------------ beyond the protocol

    def forget(self, address: str) -> None:
        """Drop what the driver learned about `address` (replay counter, duplicates, tamper hold)."""
        self._devices.pop(address.upper(), None)

    def handle_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        """The scanner's detection callback: decode, check and queue readings; never raises."""
        if self._state != "running":
            return
        data = advertisement.service_data.get(BTHOME_UUID)
        if data is None:
            return
        address = device.address.upper()
        try:
            readings = self._receive(address, advertisement.local_name or device.name, advertisement.rssi, bytes(data))
        except Exception:  # a bug here must not kill the scanner's callback
            known = self._devices.get(address)
            if known is None or "bug" not in known.noted:
                if known is not None:
                    known.noted.add("bug")
                log.exception("bthome %s: could not handle advert %s", address, bytes(data).hex())
            return
        for reading in readings:
            self._stream.put(reading)

    # ------------------------------------------------------------------ internals

    def _receive(self, address: str, name: str | None, rssi: int, data: bytes) -> list[Reading]:
        at = self._context.clock()
        paired = address in self._context.paired()
        device = self._heard(address, name, rssi, at, paired)
        try:
            frame = split_frame(data)
        except FrameError as exc:
            self._refuse(device, paired, "malformed", f"not a BTHome v2 frame ({exc}): {data.hex()}")
            return []
        if not paired:
            device.encrypted, device.trigger_based = frame.encrypted, frame.trigger_based
            if not frame.encrypted:  # learn its channels and battery for the candidates list
                report = interpret(parse_objects(frame.body)[0])
                device.kinds |= report.kinds
                device.battery = report.battery if report.battery is not None else device.battery
            return []

        key_hex = (self._context.bindkey(address) or "").strip()
        key = None
        if key_hex:
            if not _KEY.fullmatch(key_hex):
                self._refuse(
                    device, paired, "bad-bindkey", "its stored bind key is not 32 hex digits; re-pair it with the key"
                )
                return []
            key = bytes.fromhex(key_hex)

        if frame.encrypted:
            payload = self._authentic_payload(device, frame, key)
            if payload is None:
                return []
        elif key is not None:
            return self._downgrade(device, at)
        else:
            payload = frame.body

        objects, problem = parse_objects(payload)
        report = interpret(objects)
        for note in (problem, *report.notes):
            if note is not None and note not in device.noted:
                device.noted.add(note)
                log.warning("bthome %s: %s (payload %s)", address, note, payload.hex())
        marker = report.packet_id if report.packet_id is not None or frame.encrypted else payload
        if (
            marker is not None
            and marker == device.last_marker
            and device.accepted_at is not None
            and 0 <= at - device.accepted_at < DUPLICATE_WINDOW
        ):
            return []  # a repeat of the frame just accepted
        device.last_marker, device.accepted_at = marker, at
        # Learned from accepted frames only: a forged "trigger-based" flag would stretch supervision.
        device.encrypted, device.trigger_based = frame.encrypted, frame.trigger_based
        device.logged.clear()
        device.kinds |= report.kinds
        if report.battery is not None:
            device.battery = report.battery
        return self._readings(device, report, rssi, at)

    def _authentic_payload(self, device: _Device, frame: Frame, key: bytes | None) -> bytes | None:
        """Decrypt a paired device's encrypted frame, or refuse it (None)."""
        if key is None:
            self._refuse(
                device,
                True,
                "no-bindkey",
                "sends encrypted frames but no bind key is stored for it; re-pair it with its bind key",
            )
            return None
        mac = frame.mac if frame.mac is not None else _mac_bytes(device.address)
        if mac is None:
            self._refuse(device, True, "no-mac", "cannot decrypt: this platform hides the device's MAC address")
            return None
        if device.key != key or device.cipher is None:  # a new key starts a new counter history
            device.key, device.cipher, device.counter = key, AESCCM(key, tag_length=_MIC_LENGTH), None
        assert frame.counter is not None  # split_frame sets it on encrypted frames
        if device.counter is not None and frame.counter <= device.counter:
            if frame.counter < device.counter:
                self._refuse(
                    device,
                    True,
                    "replay",
                    f"refused a replayed frame: counter {frame.counter} is below the last accepted {device.counter}",
                )
            return None  # an equal counter is the device repeating its advert
        try:
            payload = decrypt_frame(frame, device.cipher, mac)
        except FrameError as exc:
            self._refuse(device, True, "mic", f"refused an encrypted frame: {exc}")
            return None
        device.counter = frame.counter
        return payload

    def _downgrade(self, device: _Device, at: float) -> list[Reading]:
        device.plaintext_at = at
        if device.tamper_held:
            return []
        device.tamper_held = True
        log.warning(
            "bthome %s: refused a PLAINTEXT frame from a device that has a bind key: "
            "someone may be forging it (downgrade attack); reported as tamper",
            device.address,
        )
        return [HealthReading(address=device.address, at=at, tamper=True)]

    def _readings(self, device: _Device, report: DeviceReport, rssi: int, at: float) -> list[Reading]:
        tamper = report.tamper
        if device.tamper_held:
            if at - device.plaintext_at >= TAMPER_HOLD:
                device.tamper_held = False
                tamper = bool(tamper)
            elif tamper is False:
                tamper = None  # the downgrade tamper is still held
        readings: list[Reading] = [
            HealthReading(
                address=device.address,
                at=at,
                online=True,
                battery=report.battery,
                battery_low=report.battery_low,
                signal=rssi,
                tamper=tamper,
            )
        ]
        for kind, active in report.states.items():
            readings.append(SensorReading(address=device.address, kind=kind, active=active, at=at))
        if report.pressed:
            readings.append(SensorReading(address=device.address, kind="panic", active=True, at=at))
            readings.append(SensorReading(address=device.address, kind="panic", active=False, at=at))
        return readings

    def _heard(self, address: str, name: str | None, rssi: int, at: float, paired: bool) -> _Device:
        device = self._devices.pop(address, None)  # re-inserted last: the dict is least recently heard first
        if device is None:
            device = _Device(address=address, heard_at=at)
            if not paired:
                self._evict()
        self._devices[address] = device
        device.heard_at = at
        device.rssi = rssi
        if name and not _MAC.fullmatch(name.replace("-", ":").upper()):
            device.name = name
        return device

    def _evict(self) -> None:
        paired = self._context.paired()
        unpaired = [address for address in self._devices if address not in paired]
        for address in unpaired[: max(0, len(unpaired) - MAX_UNPAIRED + 1)]:
            del self._devices[address]

    def _refuse(self, device: _Device, paired: bool, problem: str, message: str) -> None:
        if problem in device.logged:
            return
        device.logged.add(problem)
        log.log(logging.WARNING if paired else logging.DEBUG, "bthome %s: %s", device.address, message)

    async def _boost(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            scanner = self._scanner_factory(self.handle_advertisement, "active")
            await scanner.start()
        except Exception as exc:
            log.warning("bthome: an active scan on %s could not start: %r", self.adapter, exc)
            return
        try:
            while True:  # scan() may move the deadline while we sleep
                left = self._boost_until - loop.time()
                if left <= 0:
                    break
                await asyncio.sleep(left)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_STOP_TIMEOUT):
                    await scanner.stop()


def _mac_bytes(address: str) -> bytes | None:
    """The 6 bytes of a MAC written AA:BB:CC:DD:EE:FF; None for a platform's opaque id (macOS)."""
    return bytes.fromhex(address.replace(":", "")) if _MAC.fullmatch(address) else None


def _parse_options(options: Mapping[str, Any]) -> tuple[str, bool]:
    """Validate the options; return (adapter, passive)."""
    known = ("adapter", "passive")
    for key in options:
        if key == "type":
            if options[key] != BTHomeDriver.type:
                raise DriverError(f"bthome driver given option type = {options[key]!r}")
            continue
        if key not in known:
            raise DriverError(f"bthome driver: unknown option {key!r}; known options: {', '.join(known)}")
    adapter = options.get("adapter", "hci0")
    if not isinstance(adapter, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", adapter):
        raise DriverError(f"bthome driver: option 'adapter' must be an adapter name like 'hci0', got {adapter!r}")
    passive = options.get("passive", True)
    if not isinstance(passive, bool):
        raise DriverError(f"bthome driver: option 'passive' must be true or false, got {passive!r}")
    return adapter, passive
