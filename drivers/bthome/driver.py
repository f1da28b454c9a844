"""`BTHomeDriver`: adverts in, checked and de-duplicated, readings out; see drivers/bthome/__init__.py."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from alarms.model import ZONE_KINDS
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
from drivers.bthome.devices import KNOWN_MODELS, MAC, DeviceMemory, mac_bytes
from drivers.bthome.frames import (
    BTHOME_UUID,
    MIC_LENGTH,
    DeviceReport,
    Frame,
    FrameError,
    decrypt_frame,
    interpret,
    parse_objects,
    split_frame,
)
from drivers.bthome.options import TYPE, BTHomeOptions, parse_options
from drivers.bthome.scanner import ScanMode, Scanner, ScannerFactory
from drivers.capabilities import DriverTraits

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

__all__ = [
    "CANDIDATE_WINDOW",
    "DUPLICATE_WINDOW",
    "MAX_UNPAIRED",
    "REGULAR_INTERVAL",
    "TAMPER_HOLD",
    "TRIGGER_INTERVAL",
    "BTHomeDriver",
]

log = logging.getLogger("drivers.bthome")  # one logger per driver, as [log] levels name it

CANDIDATE_WINDOW = 600.0  # seconds: a device heard this recently is offered for pairing
DUPLICATE_WINDOW = 10.0  # seconds: the same packet id again within this is a repeat
TAMPER_HOLD = 600.0  # seconds without plaintext frames before a downgrade tamper clears
TRIGGER_INTERVAL = 3600.0  # seconds: Shelly BLU devices beacon their status hourly
REGULAR_INTERVAL = 300.0  # seconds: timer-driven devices advertise every few seconds to a minute
MAX_UNPAIRED = 256  # unpaired devices remembered for candidates
_STOP_TIMEOUT = 10.0  # seconds: a scanner that does not stop (bluetoothd hung) is abandoned
_KEY = re.compile(r"[0-9a-fA-F]{32}")


class BTHomeDriver:
    """BTHome v2 BLE sensors through a `BleakScanner`; see the package docstring."""

    type: ClassVar[str] = TYPE
    traits: ClassVar[DriverTraits] = DriverTraits(wireless=True)
    Options: ClassVar[builtins.type[BTHomeOptions]] = BTHomeOptions

    def __init__(
        self,
        options: Mapping[str, Any],
        context: DriverContext,
        *,
        scanner_factory: ScannerFactory | None = None,
    ) -> None:
        opts = parse_options(options)
        self.adapter, self.passive = opts.adapter, opts.passive
        self._context = context
        # Looked up on the package, drivers.bthome, where a test without Bluetooth replaces it.
        self._scanner_factory = scanner_factory or bthome.bleak_scanner_factory(self.adapter)
        self._devices: dict[str, DeviceMemory] = {}
        self._stream = ReadingStream(self.type)
        self._scanner: Scanner | None = None
        self.mode: ScanMode | None = None  # how the running scanner listens
        self._boost_task: asyncio.Task[None] | None = None
        self._boost_until = 0.0
        self._state = "new"  # new -> running -> stopped; a driver runs once

    # ------------------------------------------------------------------ lifetime

    def normalise_address(self, address: str) -> str:
        """BLE MACs as the radio reports them (upper case): an address typed by hand still matches."""
        return address.upper()

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
                kinds.update(KNOWN_MODELS.get(device.name, ()))
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

    def _authentic_payload(self, device: DeviceMemory, frame: Frame, key: bytes | None) -> bytes | None:
        """Decrypt a paired device's encrypted frame, or refuse it (None)."""
        if key is None:
            self._refuse(
                device,
                True,
                "no-bindkey",
                "sends encrypted frames but no bind key is stored for it; re-pair it with its bind key",
            )
            return None
        mac = frame.mac if frame.mac is not None else mac_bytes(device.address)
        if mac is None:
            self._refuse(device, True, "no-mac", "cannot decrypt: this platform hides the device's MAC address")
            return None
        if device.key != key or device.cipher is None:  # a new key starts a new counter history
            device.key, device.cipher, device.counter = key, AESCCM(key, tag_length=MIC_LENGTH), None
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

    def _downgrade(self, device: DeviceMemory, at: float) -> list[Reading]:
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

    def _readings(self, device: DeviceMemory, report: DeviceReport, rssi: int, at: float) -> list[Reading]:
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

    def _heard(self, address: str, name: str | None, rssi: int, at: float, paired: bool) -> DeviceMemory:
        device = self._devices.pop(address, None)  # re-inserted last: the dict is least recently heard first
        if device is None:
            device = DeviceMemory(address=address, heard_at=at)
            if not paired:
                self._evict()
        self._devices[address] = device
        device.heard_at = at
        device.rssi = rssi
        if name and not MAC.fullmatch(name.replace("-", ":").upper()):
            device.name = name
        return device

    def _evict(self) -> None:
        paired = self._context.paired()
        unpaired = [address for address in self._devices if address not in paired]
        for address in unpaired[: max(0, len(unpaired) - MAX_UNPAIRED + 1)]:
            del self._devices[address]

    def _refuse(self, device: DeviceMemory, paired: bool, problem: str, message: str) -> None:
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
