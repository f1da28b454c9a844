"""Fuzz the BTHome driver's advertisement callback: whatever arrives over the air, nothing raises.

Anyone in radio range can send any service data under 0xFCD2 from any address, so the
callback (drivers.bthome.BTHomeDriver.handle_advertisement, called by bleak for every
advert) is fed, through real bleak `BLEDevice` / `AdvertisementData` objects:

- random service data, names, RSSI and addresses (paired plaintext, paired with a bind
  key, unpaired, a macOS-style opaque id);
- valid frames (plaintext and encrypted) truncated, extended, bit-flipped and spliced;
- well-formed plaintext frames built from random BTHome objects, whose decoding must
  agree with bthome-ble's parser (differential test).

Invariants: no exception leaves the callback and the driver never reaches its "bug"
catch-all (no ERROR record), every reading is a valid Reading for the advert's address,
a device with a bind key never gets a SensorReading from a frame that is not the
authentic one (a mutated frame is refused; a plaintext one is at most a tamper report),
and the unpaired-device memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import bthome
from drivers.base import HealthReading, Reading, SensorReading
from drivers.bthome import interpret, parse_objects, split_frame
from tests.reliability.fuzz_helpers import fuzz_settings, report
from tests.unit.test_bthome import (
    DOOR,
    KEYED,
    SPEC_FRAME,
    SPEC_KEY,
    Kit,
    encrypt,
    library_view,
    report_fields,
    report_from_library,
)

RANDOM_CASES = 600
MUTATION_CASES = 600
DIFFERENTIAL_CASES = 300

UNPAIRED = "C0:FF:EE:00:00:01"
OPAQUE = "6F1A2B3C-0000-4000-8000-00805F9B34FB"  # what macOS gives instead of a MAC
ADDRESSES = (DOOR, KEYED, UNPAIRED, OPAQUE)

SEEDS: tuple[bytes, ...] = (
    SPEC_FRAME,
    encrypt(bytes.fromhex("00070163 2d01 3a01"), counter=7, info=0x45),
    bytes.fromhex("44000101641a0121012901"),
    bytes.fromhex("4000ff1000200123003a04"),
    bytes.fromhex("40000a015f15012b01"),
    bytes.fromhex("42a5808fe648542d01"),  # MAC included
    bytes.fromhex("40 53 05 68656c6c6f 3b 02 01 aabb".replace(" ", "")),
)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Rig:
    """A running driver on a private event loop (hypothesis and async fixtures do not mix)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.kit = Kit(paired={DOOR, KEYED, OPAQUE}, keys={KEYED: SPEC_KEY, OPAQUE: SPEC_KEY})
        self.loop.run_until_complete(self.kit.driver.__aenter__())
        self.errors = _Errors()
        self.cases = 0

    def feed(self, data: bytes, address: str, name: str | None = "SBDW-002C", rssi: int = -60) -> list[Reading]:
        self.cases += 1
        readings = self.kit.feed(data, address=address, name=name, rssi=rssi)
        for reading in readings:
            assert reading.address == address.upper()
            assert msgspec.json.decode(msgspec.json.encode(reading), type=Reading) == reading
        assert not self.errors.records, self.errors.records[0].getMessage()
        assert len(self.kit.driver._devices) <= bthome.MAX_UNPAIRED + 3
        return readings

    def close(self) -> None:
        self.loop.run_until_complete(self.kit.driver.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig()
    logger = logging.getLogger("drivers.bthome")
    logger.addHandler(r.errors)
    try:
        yield r
    finally:
        logger.removeHandler(r.errors)
        r.close()


def test_random_adverts_never_raise(rig: Rig, record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    @fuzz_settings(RANDOM_CASES)
    @given(
        data=st.binary(max_size=40)
        | st.builds(lambda b: bytes((0x40 | (b[0] & 0x07),)) + b[1:], st.binary(min_size=1, max_size=40)),
        address=st.sampled_from(ADDRESSES) | st.from_regex(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}", fullmatch=True),
        name=st.none() | st.text(max_size=30),
        rssi=st.integers(-127, 20),
        clock_step=st.floats(-100, 5000, allow_nan=False),
    )
    def run(data: bytes, address: str, name: str | None, rssi: int, clock_step: float) -> None:
        rig.kit.now += clock_step
        readings = rig.feed(data, address, name, rssi)
        if address in (KEYED, OPAQUE):  # random bytes are never an authentic frame under the key
            assert not [r for r in readings if isinstance(r, SensorReading)], data.hex()
        rig.loop.run_until_complete(rig.kit.driver.candidates())

    run()
    report("bthome random adverts", rig.cases, record_property, capsys)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(("truncate", "flip", "set", "insert", "delete", "extend", "splice")))
        if operation == "truncate":
            del frame[draw(st.integers(0, len(frame))) :]
        elif operation == "extend":
            frame += draw(st.binary(min_size=1, max_size=8))
        elif operation == "splice":
            frame = bytearray(frame[: draw(st.integers(0, len(frame)))] + draw(st.sampled_from(SEEDS)))
        elif not frame:
            frame += draw(st.binary(min_size=1, max_size=4))
        else:
            at = draw(st.integers(0, len(frame) - 1))
            if operation == "flip":
                frame[at] ^= 1 << draw(st.integers(0, 7))
            elif operation == "set":
                frame[at] = draw(st.integers(0, 255))
            elif operation == "insert":
                frame.insert(at, draw(st.integers(0, 255)))
            else:
                del frame[at]
    return bytes(frame)


def test_mutated_frames_never_raise_and_never_forge_a_keyed_device(
    rig: Rig, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    authentic = set(SEEDS[:2])  # the two encrypted seeds are KEYED's, under its key

    @fuzz_settings(MUTATION_CASES)
    @given(data=mutated(), address=st.sampled_from(ADDRESSES))
    def run(data: bytes, address: str) -> None:
        rig.kit.now += 1
        rig.kit.driver.forget(KEYED)  # so that a counter lower than an earlier case's is still tried
        readings = rig.feed(data, address)
        if address == KEYED and data not in authentic:
            assert not [r for r in readings if isinstance(r, SensorReading)], data.hex()
            assert all(r.tamper is True and r.signal is None for r in readings if isinstance(r, HealthReading))

    run()
    report("bthome mutated frames", rig.cases, record_property, capsys)


# Objects for the differential test: id -> strategy for its data (one byte unless said).
_ANY_BYTE = st.integers(0, 255).map(lambda v: bytes((v,)))
_BINARY = st.sampled_from((b"\x00", b"\x01")) | _ANY_BYTE
_OBJECTS: dict[int, st.SearchStrategy[bytes]] = {
    0x00: _ANY_BYTE,  # packet id
    0x01: st.integers(0, 100).map(lambda v: bytes((v,))),  # battery %
    0x02: st.binary(min_size=2, max_size=2),  # temperature
    0x05: st.binary(min_size=3, max_size=3),  # illuminance
    0x0C: st.binary(min_size=2, max_size=2),  # voltage
    0x10: _BINARY,  # power
    0x11: _BINARY,  # opening
    0x15: _BINARY,  # battery low
    0x1A: _BINARY,  # door
    0x20: _BINARY,  # moisture
    0x21: _BINARY,  # motion
    0x23: _BINARY,  # occupancy
    0x29: _BINARY,  # smoke
    0x2B: _BINARY,  # tamper
    0x2D: _BINARY,  # window
    0x2E: _ANY_BYTE,  # humidity
    0x3A: st.sampled_from((0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x80, 0x81)).map(lambda v: bytes((v,))),
    0x3F: st.binary(min_size=2, max_size=2),  # rotation (Shelly BLU Door/Window)
    0x53: st.binary(max_size=6).map(lambda b: bytes((len(b),)) + b),  # text, with its length byte
}


@st.composite
def plaintext_frames(draw: st.DrawFn) -> bytes:
    ids = sorted(draw(st.sets(st.sampled_from(sorted(_OBJECTS)), max_size=8)))
    info = draw(st.sampled_from((0x40, 0x44)))
    return bytes((info,)) + b"".join(bytes((i,)) + draw(_OBJECTS[i]) for i in ids)


def test_decoding_agrees_with_bthome_ble(rig: Rig, record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("bthome_ble").setLevel(logging.CRITICAL)  # its parser logs every odd object
    cases = 0

    @fuzz_settings(DIFFERENTIAL_CASES)
    @given(data=plaintext_frames())
    def run(data: bytes) -> None:
        nonlocal cases
        cases += 1
        objects, problem = parse_objects(split_frame(data).body)
        assert problem is None
        assert report_fields(interpret(objects)) == report_from_library(library_view(data)), data.hex()
        rig.kit.now += bthome.DUPLICATE_WINDOW
        got = rig.feed(data, DOOR)
        assert got and isinstance(got[0], HealthReading) and got[0].online is True

    run()
    report("bthome decoding vs bthome-ble", cases, record_property, capsys)
