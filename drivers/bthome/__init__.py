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

Modules: `frames` cuts, decrypts and reads a frame (pure); `scanner` is the seam to
bleak; `devices` is what the driver remembers per address; `options` checks the
`[[drivers]]` table; `driver` is `BTHomeDriver`, the four steps above around them.
"""

from __future__ import annotations

from drivers.bthome.driver import (
    CANDIDATE_WINDOW,
    DUPLICATE_WINDOW,
    MAX_UNPAIRED,
    REGULAR_INTERVAL,
    TAMPER_HOLD,
    TRIGGER_INTERVAL,
    BTHomeDriver,
)
from drivers.bthome.frames import _COMMAND as _COMMAND
from drivers.bthome.frames import _FIXED_LENGTHS as _FIXED_LENGTHS
from drivers.bthome.frames import _LENGTH_BYTE as _LENGTH_BYTE
from drivers.bthome.frames import (
    BTHOME_UUID,
    DeviceReport,
    Frame,
    FrameError,
    decrypt_frame,
    interpret,
    parse_objects,
    split_frame,
)
from drivers.bthome.scanner import ScanMode, Scanner, ScannerFactory, bleak_scanner_factory

__all__ = [
    "BTHOME_UUID",
    "CANDIDATE_WINDOW",
    "DUPLICATE_WINDOW",
    "MAX_UNPAIRED",
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
