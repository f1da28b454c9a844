"""The BTHome v2 driver: frames, encryption, replay and downgrade refusal, the zone mapping, candidates.

Adverts are real bleak `BLEDevice` / `AdvertisementData` objects fed into the driver's
detection callback, the same one its `BleakScanner` calls. Vectors come from the BTHome
v2 spec (bthome.io) and from bthome-ble's tests, and the decoder is cross-checked
against bthome-ble's parser (the library Home Assistant uses).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakScanner
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bthome_ble import BTHomeBluetoothDeviceData
from bthome_ble.bthome_v2_encryption import encrypt_payload
from bthome_ble.const import MEAS_TYPES
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from habluetooth import BluetoothServiceInfoBleak

from drivers import bthome
from drivers.base import Candidate, Driver, DriverContext, DriverError, HealthReading, Reading, SensorReading
from drivers.bthome import (
    BTHOME_UUID,
    CANDIDATE_WINDOW,
    DUPLICATE_WINDOW,
    REGULAR_INTERVAL,
    TAMPER_HOLD,
    TRIGGER_INTERVAL,
    BTHomeDriver,
    FrameError,
    ScanMode,
    decrypt_frame,
    interpret,
    parse_objects,
    split_frame,
)
from drivers.registry import load_driver

NOW = 1_700_000_000.0
# The BTHome v2 spec's encryption example: this key, this MAC, counter 0x33221100,
# plaintext 02 CA09 03 BF13 (temperature 25.06 °C, humidity 50.55 %).
SPEC_KEY = "231d39c1d7cc1ab1aee224cd096db932"
SPEC_MAC = "54:48:E6:8F:80:A5"
SPEC_FRAME = bytes.fromhex("41a47266c95f730011223378237214")
SPEC_PLAINTEXT = bytes.fromhex("02ca0903bf13")
# bthome-ble test_encryption_key_needed / test_bindkey_wrong: encrypted, key unknown.
LIB_ENCRYPTED = bytes.fromhex("41d2fcefe52eb212d600112233bc38c966")
LIB_ENCRYPTED_MAC = "A4:C1:38:8D:18:B2"
LIB_WRONG_KEY = "814aac74c4f17b6c1581e1ab87816b99"

DOOR = "3C:2E:F5:11:22:33"  # a Shelly BLU Door/Window, plaintext
KEYED = SPEC_MAC  # a device paired with SPEC_KEY


# --------------------------------------------------------------------------- helpers


def advert(
    data: bytes | None, *, address: str = DOOR, name: str | None = "SBDW-002C", rssi: int = -60
) -> tuple[BLEDevice, AdvertisementData]:
    """A real bleak advert carrying `data` as 0xFCD2 service data (None: no BTHome data)."""
    device = BLEDevice(address, name, None)
    adv = AdvertisementData(
        local_name=name,
        manufacturer_data={},
        service_data={} if data is None else {BTHOME_UUID: data},
        service_uuids=[],
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )
    return device, adv


def encrypt(objects: bytes, *, counter: int, key: str = SPEC_KEY, mac: str = KEYED, info: int = 0x41) -> bytes:
    """An encrypted BTHome v2 frame (device-info, ciphertext, counter, MIC)."""
    counter_bytes = counter.to_bytes(4, "little")
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc" + bytes((info,)) + counter_bytes
    sealed = AESCCM(bytes.fromhex(key), tag_length=4).encrypt(nonce, objects, None)
    return bytes((info,)) + sealed[:-4] + counter_bytes + sealed[-4:]


class FakeScanner:
    def __init__(self, log: list[str], mode: ScanMode, fail: bool) -> None:
        self.log, self.mode, self.fail = log, mode, fail

    async def start(self) -> None:
        if self.fail:
            self.log.append(f"{self.mode}:failed")
            raise OSError(f"{self.mode} scanning not supported")
        self.log.append(f"{self.mode}:start")

    async def stop(self) -> None:
        self.log.append(f"{self.mode}:stop")


class Kit:
    """A driver with a controllable clock, paired set and bind keys, and a fake scanner."""

    def __init__(self, *, paired: set[str] | None = None, keys: dict[str, str] | None = None, **options: Any) -> None:
        self.now = NOW
        self.paired = set(paired if paired is not None else {DOOR, KEYED})
        self.keys = dict(keys if keys is not None else {KEYED: SPEC_KEY})
        self.scans: list[str] = []
        self.failing: set[ScanMode] = set()
        self.callbacks: list[Callable[[BLEDevice, AdvertisementData], None]] = []
        self.key_lookups: list[str] = []

        def factory(callback: Callable[[BLEDevice, AdvertisementData], None], mode: ScanMode) -> FakeScanner:
            self.callbacks.append(callback)
            return FakeScanner(self.scans, mode, mode in self.failing)

        def bindkey(address: str) -> str | None:
            self.key_lookups.append(address)
            return self.keys.get(address)

        context = DriverContext(clock=lambda: self.now, paired=lambda: set(self.paired), bindkey=bindkey)
        self.driver = BTHomeDriver(options, context, scanner_factory=factory)

    def feed(self, data: bytes | None, **kwargs: Any) -> list[Reading]:
        """Hand one advert to the scanner's callback; return the readings it queued."""
        self.callbacks[0](*advert(data, **kwargs))
        return self.drain()

    def drain(self) -> list[Reading]:
        return self.driver._stream.take_all()


@pytest.fixture
async def kit() -> AsyncIterator[Kit]:
    k = Kit()
    async with k.driver:
        yield k


def sensors(readings: list[Reading]) -> list[tuple[str, bool]]:
    return [(r.kind, r.active) for r in readings if isinstance(r, SensorReading)]


def health(readings: list[Reading]) -> list[HealthReading]:
    return [r for r in readings if isinstance(r, HealthReading)]


def library_view(data: bytes, address: str = DOOR, key: str | None = None) -> dict[str, Any]:
    """What bthome-ble makes of the same service data: sensors by key, binary sensors as
    `binary:<key>`, events as `event:<key>` (signal strength left out)."""
    info = BluetoothServiceInfoBleak(
        name="TEST",
        address=address,
        rssi=-60,
        manufacturer_data={},
        service_data={BTHOME_UUID: data},
        service_uuids=[],
        source="",
        device=None,
        advertisement=None,
        connectable=False,
        time=NOW,
        tx_power=None,
    )
    parser = BTHomeBluetoothDeviceData(bindkey=bytes.fromhex(key) if key else None)
    update = parser.update(info)
    values: dict[str, Any] = {k.key: v.native_value for k, v in update.entity_values.items()}
    values.update({f"binary:{k.key}": v.native_value for k, v in update.binary_entity_values.items()})
    values.update({f"event:{k.key}": v.event_type for k, v in update.events.items()})
    values.pop("signal_strength", None)
    return values


_LIBRARY_CHANNELS = {
    "binary:opening": ("contact", True),
    "binary:door": ("contact", True),
    "binary:window": ("contact", True),
    "binary:moisture": ("water", True),
    "binary:motion": ("motion", True),
    "binary:occupancy": ("motion", True),
    "binary:smoke": ("smoke", True),
    "binary:power": ("power", False),  # the power zone is active when the device says power off
}


def report_from_library(values: dict[str, Any]) -> dict[str, Any]:
    """The DeviceReport fields bthome-ble's reading of a frame implies, under our mapping table."""
    states: dict[str, bool] = {}
    for key, (kind, active_when) in _LIBRARY_CHANNELS.items():
        if key in values:
            states[kind] = states.get(kind, False) or values[key] is active_when
    event = values.get("event:button")
    return {
        "packet_id": values.get("packet_id"),
        "battery": values.get("battery"),
        "battery_low": values.get("binary:battery"),
        "tamper": values.get("binary:tamper"),
        "states": states,
        "pressed": event is not None and "press" in event and event != "hold_release",
    }


def report_fields(report: bthome.DeviceReport) -> dict[str, Any]:
    return {
        "packet_id": report.packet_id,
        "battery": report.battery,
        "battery_low": report.battery_low,
        "tamper": report.tamper,
        "states": report.states,
        "pressed": report.pressed,
    }


# --------------------------------------------------------------------------- frames and vectors


def test_object_lengths_match_bthome_ble() -> None:
    """Our object table is the library's: same ids, same lengths (variable ones: a length byte)."""
    for object_id, meas in MEAS_TYPES.items():
        if meas.data_format in ("raw", "string", "command"):
            assert object_id in bthome._LENGTH_BYTE or object_id == bthome._COMMAND, hex(object_id)
        else:
            assert bthome._FIXED_LENGTHS.get(object_id) == meas.data_length, hex(object_id)
    assert set(bthome._FIXED_LENGTHS) | bthome._LENGTH_BYTE | {bthome._COMMAND} == set(MEAS_TYPES)


def test_spec_plaintext_example() -> None:
    frame = split_frame(bytes.fromhex("40") + SPEC_PLAINTEXT)
    assert not frame.encrypted and not frame.trigger_based and frame.mac is None
    assert parse_objects(frame.body) == ([(0x02, b"\xca\x09"), (0x03, b"\xbf\x13")], None)
    assert library_view(bytes.fromhex("40") + SPEC_PLAINTEXT) == {"temperature": 25.06, "humidity": 50.55}


def test_spec_encryption_example_decrypts() -> None:
    frame = split_frame(SPEC_FRAME)
    assert frame.encrypted and frame.counter == 0x33221100
    assert decrypt_frame(frame, bytes.fromhex(SPEC_KEY), bytes.fromhex("5448E68F80A5")) == SPEC_PLAINTEXT
    assert library_view(SPEC_FRAME, SPEC_MAC, SPEC_KEY) == {"temperature": 25.06, "humidity": 50.55}


def test_our_encryption_matches_the_spec_and_the_library() -> None:
    assert encrypt(SPEC_PLAINTEXT, counter=0x33221100) == SPEC_FRAME
    library = encrypt_payload(
        data=SPEC_PLAINTEXT,
        mac=bytes.fromhex("5448E68F80A5"),
        uuid16=b"\xd2\xfc",
        sw_version=b"\x41",
        count_id=(1122867).to_bytes(4, "little"),
        key=bytes.fromhex(SPEC_KEY),
    )
    assert library[2:] == encrypt(SPEC_PLAINTEXT, counter=1122867)  # the library's output starts with D2 FC


def test_library_vector_with_a_wrong_key_fails_the_mic() -> None:
    frame = split_frame(LIB_ENCRYPTED)
    with pytest.raises(FrameError, match="MIC"):
        decrypt_frame(frame, bytes.fromhex(LIB_WRONG_KEY), bytes.fromhex(LIB_ENCRYPTED_MAC.replace(":", "")))


def test_mac_included_flag() -> None:
    frame = split_frame(bytes.fromhex("42") + bytes.fromhex("5448E68F80A5")[::-1] + bytes.fromhex("2d01"))
    assert frame.mac == bytes.fromhex("5448E68F80A5") and frame.body == b"\x2d\x01"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (bytes.fromhex("0201"), "version 0"),
        (bytes.fromhex("e1020000"), "version 7"),  # bthome-ble test_has_incorrect_version
        (bytes.fromhex("4101020304"), "counter and MIC"),
        (bytes.fromhex("42aabb"), "MAC"),
    ],
)
def test_frames_that_are_not_bthome_v2(data: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        split_frame(data)


def test_object_walk_stops_at_unknown_or_truncated_objects() -> None:
    objects, problem = parse_objects(bytes.fromhex("2d01ff2101"))
    assert objects == [(0x2D, b"\x01")] and problem is not None and "0xff" in problem
    objects, problem = parse_objects(bytes.fromhex("2d010209"))
    assert objects == [(0x2D, b"\x01")] and problem is not None and "truncated" in problem
    # text (0x53) and command (0x3B) objects carry their own length
    assert parse_objects(bytes.fromhex("5302686921013b0201aabb")) == (
        [(0x53, b"hi"), (0x21, b"\x01"), (0x3B, b"\x01\xaa\xbb")],
        None,
    )


@pytest.mark.parametrize(
    "payload",
    [
        "4000012d01",  # window open
        "401100",  # bthome-ble: opening closed
        "402d01",  # bthome-ble test_bthome_binary_sensor_window
        "44000101641a0121012901",  # door, motion, smoke
        "4000ff1000200123003a04",  # power off, moisture, occupancy clear, long press
        "40000a015f15012b01",  # battery 95, battery low, tamper
        "4402ca0903bf13",  # temperature + humidity only
        "44002a01553a80",  # battery 85, hold
    ],
)
def test_decoder_agrees_with_bthome_ble(payload: str) -> None:
    data = bytes.fromhex(payload)
    ours = interpret(parse_objects(split_frame(data).body)[0])
    assert report_fields(ours) == report_from_library(library_view(data))


# --------------------------------------------------------------------------- the driver contract


def test_registered_and_constructed_without_io() -> None:
    assert load_driver("bthome") is BTHomeDriver
    driver: Driver = BTHomeDriver({"type": "bthome", "adapter": "hci1", "passive": False}, DriverContext())
    assert isinstance(driver, BTHomeDriver) and driver.adapter == "hci1" and driver.passive is False
    assert driver.fixed_devices() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"adapter": 3}, "'adapter'"),
        ({"adapter": ""}, "'adapter'"),
        ({"passive": 1}, "'passive'"),
        ({"passive": "yes"}, "'passive'"),
        ({"bindkey": "x"}, "unknown option 'bindkey'"),
        ({"type": "zigbee2mqtt"}, "type = 'zigbee2mqtt'"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DriverError, match=message):
        BTHomeDriver(options, DriverContext())


async def test_passive_by_default_and_readings_end_on_exit() -> None:
    k = Kit()
    async with k.driver:
        assert k.driver.mode == "passive" and k.scans == ["passive:start"]
        k.callbacks[0](*advert(bytes.fromhex("40002d2d01")))
    assert k.scans == ["passive:start", "passive:stop"]
    got = [r async for r in k.driver.readings()]
    assert sensors(got) == [("contact", True)]
    k.feed(bytes.fromhex("40002e2d00"))  # after exit: ignored
    assert k.drain() == []
    with pytest.raises(DriverError, match="runs once"):
        await k.driver.__aenter__()


async def test_passive_unsupported_falls_back_to_active(caplog: pytest.LogCaptureFixture) -> None:
    k = Kit()
    k.failing.add("passive")
    async with k.driver:
        assert k.driver.mode == "active"
    assert k.scans == ["passive:failed", "active:start", "active:stop"]
    assert "passive scanning on hci0 is not available" in caplog.text


async def test_active_when_passive_is_off_and_no_adapter_is_a_driver_error() -> None:
    k = Kit(passive=False)
    async with k.driver:
        assert k.scans == ["active:start"]
    broken = Kit()
    broken.failing.update(("passive", "active"))
    with pytest.raises(DriverError, match=r"adapter 'hci0'.*bluetoothctl"):
        await broken.driver.__aenter__()


@pytest.mark.skipif(
    Path("/run/dbus/system_bus_socket").exists() or "DBUS_SYSTEM_BUS_ADDRESS" in os.environ,
    reason="a D-Bus system bus is present: a real BlueZ might start scanning",
)
async def test_real_bleak_without_bluetooth_is_a_driver_error() -> None:
    with pytest.raises(DriverError, match=r"cannot scan on Bluetooth adapter 'hci0'.*bluetoothd"):
        async with BTHomeDriver({}, DriverContext()):
            pass


def test_real_bleak_scanner_is_configured_for_passive_bthome() -> None:
    make = bthome.bleak_scanner_factory("hci1")
    passive = make(lambda d, a: None, "passive")
    active = make(lambda d, a: None, "active")
    assert isinstance(passive, BleakScanner) and isinstance(active, BleakScanner)
    backend: Any = passive._backend
    if backend.__class__.__name__ == "BleakScannerBlueZDBus":
        assert backend._scanning_mode == "passive" and backend._adapter == "hci1"
        assert list(backend._or_patterns) == [(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xd2\xfc")]
        active_backend: Any = active._backend
        assert active_backend._scanning_mode == "active"


async def test_scan_runs_a_temporary_active_scan_when_passive() -> None:
    k = Kit()
    async with k.driver:
        await k.driver.scan(0.05)
        await k.driver.scan(0.1)  # extends the running one
        await asyncio.sleep(0.3)
        assert k.scans == ["passive:start", "active:start", "active:stop"]
        await k.driver.scan(30)
        await asyncio.sleep(0.01)
    # exit stops the boost early, and the scanner
    assert k.scans[3:] == ["active:start", "active:stop", "passive:stop"]
    active = Kit(passive=False)
    async with active.driver:
        await active.driver.scan(5)
        assert active.scans == ["active:start"]


# --------------------------------------------------------------------------- encryption, replay, downgrade


async def test_encrypted_spec_frame_accepted_with_the_right_key(kit: Kit) -> None:
    got = kit.feed(SPEC_FRAME, address=KEYED, rssi=-71)
    assert got == [HealthReading(address=KEYED, at=NOW, online=True, signal=-71)]
    assert KEYED in kit.key_lookups


async def test_encrypted_door_frame_maps_to_contact(kit: Kit) -> None:
    got = kit.feed(encrypt(bytes.fromhex("000701632d01"), counter=5, info=0x45), address=KEYED)
    assert sensors(got) == [("contact", True)]
    assert health(got)[0].battery == 99.0
    assert kit.driver.expected_interval(KEYED) == TRIGGER_INTERVAL


async def test_wrong_key_is_refused_and_logged_once(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    kit.keys[KEYED] = LIB_WRONG_KEY
    assert kit.feed(SPEC_FRAME, address=KEYED) == []
    assert kit.feed(encrypt(b"\x2d\x01", counter=0x33221101), address=KEYED) == []
    assert caplog.text.count("MIC check failed") == 1
    # the library's own wrong-key vector too
    kit.paired.add(LIB_ENCRYPTED_MAC)
    kit.keys[LIB_ENCRYPTED_MAC] = LIB_WRONG_KEY
    assert kit.feed(LIB_ENCRYPTED, address=LIB_ENCRYPTED_MAC) == []


async def test_encrypted_frames_without_a_stored_key_are_refused(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    kit.paired.add(LIB_ENCRYPTED_MAC)
    assert kit.feed(LIB_ENCRYPTED, address=LIB_ENCRYPTED_MAC) == []
    assert "no bind key is stored" in caplog.text


async def test_malformed_stored_key_is_refused(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    kit.keys[KEYED] = "not-hex"
    assert kit.feed(SPEC_FRAME, address=KEYED) == []
    assert "not 32 hex digits" in caplog.text


async def test_replayed_counter_is_refused(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    opened = encrypt(b"\x2d\x01", counter=100)
    assert sensors(kit.feed(opened, address=KEYED)) == [("contact", True)]
    assert kit.feed(opened, address=KEYED) == []  # the device repeating its advert: quiet
    assert "replay" not in caplog.text
    closed = encrypt(b"\x2d\x00", counter=101)
    assert sensors(kit.feed(closed, address=KEYED)) == [("contact", False)]
    kit.now += 3600
    assert kit.feed(opened, address=KEYED) == []  # an attacker replays the recorded "open"
    assert "counter 100 is below the last accepted 101" in caplog.text
    assert sensors(kit.feed(encrypt(b"\x2d\x00", counter=102), address=KEYED)) == [("contact", False)]
    # forget() (battery change on a device that restarts its counter) accepts the next frame
    kit.driver.forget(KEYED)
    assert sensors(kit.feed(encrypt(b"\x2d\x01", counter=1), address=KEYED)) == [("contact", True)]


async def test_a_new_key_starts_a_new_counter_history(kit: Kit) -> None:
    assert kit.feed(encrypt(b"\x2d\x01", counter=500), address=KEYED) != []
    other = "00112233445566778899aabbccddeeff"
    kit.keys[KEYED] = other
    assert sensors(kit.feed(encrypt(b"\x2d\x00", counter=1, key=other), address=KEYED)) == [("contact", False)]


async def test_plaintext_from_a_keyed_device_is_a_downgrade_reported_as_tamper(
    kit: Kit, caplog: pytest.LogCaptureFixture
) -> None:
    assert kit.feed(encrypt(b"\x2d\x00", counter=1), address=KEYED) != []
    forged = bytes.fromhex("40002d2d00")  # "window closed", in plaintext
    assert kit.feed(forged, address=KEYED) == [HealthReading(address=KEYED, at=NOW, tamper=True)]
    assert "PLAINTEXT" in caplog.text and "downgrade" in caplog.text
    assert kit.feed(bytes.fromhex("40002e2d01"), address=KEYED) == []  # reported once per episode
    # the real device's frames still get through; an authentic "tamper 0" does not clear the hold
    kit.now += 60
    got = kit.feed(encrypt(b"\x2b\x00\x2d\x01", counter=2), address=KEYED)
    assert sensors(got) == [("contact", True)] and health(got)[0].tamper is None
    # TAMPER_HOLD without plaintext: the next authentic frame clears it
    kit.now += TAMPER_HOLD
    got = kit.feed(encrypt(b"\x2d\x01", counter=3), address=KEYED)
    assert health(got)[0].tamper is False
    assert health(kit.feed(encrypt(b"\x2d\x00", counter=4), address=KEYED))[0].tamper is None


async def test_downgrade_counts_even_before_any_authentic_frame(kit: Kit) -> None:
    assert kit.feed(bytes.fromhex("402d01"), address=KEYED) == [HealthReading(address=KEYED, at=NOW, tamper=True)]


# --------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        ("2001", [("water", True)]),
        ("2000", [("water", False)]),
        ("2901", [("smoke", True)]),
        ("2900", [("smoke", False)]),
        ("2101", [("motion", True)]),
        ("2100", [("motion", False)]),
        ("2301", [("motion", True)]),  # occupancy
        ("1a01", [("contact", True)]),  # door open
        ("1a00", [("contact", False)]),
        ("2d01", [("contact", True)]),  # window open
        ("1101", [("contact", True)]),  # opening
        ("1100", [("contact", False)]),
        ("1000", [("power", True)]),  # power off: mains lost
        ("1001", [("power", False)]),  # power on
        ("3a01", [("panic", True), ("panic", False)]),  # press: a pulse
        ("3a02", [("panic", True), ("panic", False)]),  # double press
        ("3a04", [("panic", True), ("panic", False)]),  # long press
        ("3a80", [("panic", True), ("panic", False)]),  # hold
        ("3a00", []),  # no event (the button's status beacon)
        ("3a81", []),  # hold released
        ("02ca0903bf13", []),  # temperature, humidity: not zones
    ],
)
async def test_mapping(kit: Kit, objects: str, expected: list[tuple[str, bool]]) -> None:
    got = kit.feed(bytes.fromhex("40" + objects))
    assert sensors(got) == expected
    assert isinstance(got[0], HealthReading)  # health first, then the channels


async def test_health_mapping(kit: Kit) -> None:
    (reading,) = kit.feed(bytes.fromhex("4001571501" + "2b01"), rssi=-83)
    assert reading == HealthReading(
        address=DOOR, at=NOW, online=True, battery=87.0, battery_low=True, signal=-83, tamper=True
    )
    (reading,) = kit.feed(bytes.fromhex("4015002b00"), rssi=-80)
    assert reading.battery_low is False and reading.tamper is False and reading.battery is None


async def test_out_of_range_values_are_noted_not_reported(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    (reading,) = kit.feed(bytes.fromhex("4001ff3a07"))
    assert reading.battery is None
    assert "battery 255 %" in caplog.text and "unknown button event 0x07" in caplog.text


async def test_duplicate_packet_ids_are_ignored(kit: Kit) -> None:
    press = bytes.fromhex("4400073a01")
    assert sensors(kit.feed(press)) == [("panic", True), ("panic", False)]
    assert kit.feed(press) == []  # the same advert repeated
    kit.now += 1
    assert kit.feed(bytes.fromhex("4400073a00")) == []  # same packet id, in a row
    assert sensors(kit.feed(bytes.fromhex("4400083a01"))) == [("panic", True), ("panic", False)]
    kit.now += DUPLICATE_WINDOW
    assert sensors(kit.feed(bytes.fromhex("4400083a01"))) == [("panic", True), ("panic", False)]  # news again


async def test_plaintext_repeats_without_packet_id_are_ignored(kit: Kit) -> None:
    assert kit.feed(bytes.fromhex("403a01")) != []
    assert kit.feed(bytes.fromhex("403a01")) == []
    assert kit.feed(bytes.fromhex("402d01")) != []


async def test_unpaired_devices_give_no_readings(kit: Kit) -> None:
    assert kit.feed(bytes.fromhex("40002d2d01"), address="AA:BB:CC:DD:EE:01") == []
    assert "AA:BB:CC:DD:EE:01" not in kit.key_lookups


async def test_addresses_are_upper_case(kit: Kit) -> None:
    got = kit.feed(bytes.fromhex("402d01"), address=DOOR.lower())
    assert {r.address for r in got} == {DOOR}


async def test_adverts_without_bthome_data_are_ignored(kit: Kit) -> None:
    assert kit.feed(None) == []
    assert await kit.driver.candidates() == []


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x41\x01", b"\xff" * 30, bytes.fromhex("40ff")])
async def test_bad_frames_never_raise_and_are_logged_once(
    kit: Kit, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        got = kit.feed(data)
        assert all(isinstance(r, HealthReading) for r in got)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and DOOR in r.getMessage()]
    assert len(warnings) <= 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --------------------------------------------------------------------------- candidates and supervision


async def test_candidates() -> None:
    k = Kit(paired={DOOR})
    async with k.driver:
        k.feed(bytes.fromhex("44000301642d01"), rssi=-50)  # paired: not a candidate
        k.feed(bytes.fromhex("44000501552101"), address="AA:00:00:00:00:01", name="SBMO-003Z", rssi=-70)
        k.feed(LIB_ENCRYPTED, address="AA:00:00:00:00:02", name="SBDW-002C", rssi=-65)
        k.feed(bytes.fromhex("402001"), address="AA:00:00:00:00:03", name=None, rssi=-90)
        k.feed(bytes.fromhex("4001"), address="AA:00:00:00:00:04", name="AA-00-00-00-00-04")  # truncated
        k.now += CANDIDATE_WINDOW - 1
        k.feed(bytes.fromhex("44003a00"), address="AA:00:00:00:00:05", name="SBBT-002C", rssi=-40)
        found = await k.driver.candidates()
        assert found == [
            Candidate(
                id="bthome:AA:00:00:00:00:05", driver="bthome", address="AA:00:00:00:00:05",
                model="SBBT-002C", kinds=("panic",), signal=-40,
            ),
            Candidate(
                id="bthome:AA:00:00:00:00:04", driver="bthome", address="AA:00:00:00:00:04",
                model="BTHome", kinds=(), signal=-60,
            ),
            Candidate(
                id="bthome:AA:00:00:00:00:02", driver="bthome", address="AA:00:00:00:00:02",
                model="SBDW-002C (encrypted)", kinds=("contact",), signal=-65,
            ),
            Candidate(
                id="bthome:AA:00:00:00:00:01", driver="bthome", address="AA:00:00:00:00:01",
                model="SBMO-003Z", kinds=("motion",), signal=-70, battery=85.0,
            ),
            Candidate(
                id="bthome:AA:00:00:00:00:03", driver="bthome", address="AA:00:00:00:00:03",
                model="BTHome", kinds=("water",), signal=-90,
            ),
        ]  # fmt: skip
        k.now += 2
        assert [c.address for c in await k.driver.candidates()] == ["AA:00:00:00:00:05"]
        k.paired.add("AA:00:00:00:00:05")
        assert await k.driver.candidates() == []


async def test_unpaired_memory_is_bounded_and_spares_paired_devices(kit: Kit) -> None:
    assert kit.feed(encrypt(b"\x2d\x01", counter=50), address=KEYED) != []
    for n in range(bthome.MAX_UNPAIRED + 50):
        kit.feed(bytes.fromhex("402101"), address=f"AA:00:00:00:{n // 256:02X}:{n % 256:02X}")
    assert len(kit.driver._devices) <= bthome.MAX_UNPAIRED + 1
    assert kit.feed(encrypt(b"\x2d\x01", counter=49), address=KEYED) == []  # replay state survived


async def test_expected_interval(kit: Kit) -> None:
    assert kit.driver.expected_interval(DOOR) == TRIGGER_INTERVAL  # not heard yet
    kit.feed(bytes.fromhex("44002d01"))  # trigger-based (Shelly BLU)
    assert kit.driver.expected_interval(DOOR) == TRIGGER_INTERVAL
    kit.feed(bytes.fromhex("4002ca09"), address="AA:00:00:00:00:09")  # a timer-driven DIY sensor
    assert kit.driver.expected_interval("aa:00:00:00:00:09") == REGULAR_INTERVAL


async def test_forged_frames_do_not_change_a_keyed_devices_supervision(kit: Kit) -> None:
    assert kit.feed(encrypt(b"\x2d\x01", counter=1, info=0x41), address=KEYED) != []
    assert kit.driver.expected_interval(KEYED) == REGULAR_INTERVAL
    kit.feed(bytes.fromhex("44002d01"), address=KEYED)  # plaintext, "trigger-based"
    kit.feed(bytes.fromhex("4500000000000000000000"), address=KEYED)  # bad MIC, "trigger-based"
    assert kit.driver.expected_interval(KEYED) == REGULAR_INTERVAL


async def test_an_empty_bind_key_counts_as_none(kit: Kit) -> None:
    kit.keys[DOOR] = "  "
    assert sensors(kit.feed(bytes.fromhex("402d01"))) == [("contact", True)]
