"""The `gsm` transport: SMS through a local GSM/LTE modem in AT text mode, for when the internet is down.

Theory of operation
-------------------
The modem is a serial device (`[gsm] device`, `baudrate`) that speaks 3GPP TS 27.005/27.007 AT
commands. Exactly one command is in flight at a time (`_lock`): an AT modem answers in order and
has no request ids, so an answer can only be matched to the command that is waiting for it.

A *session* is one open of the port. It starts lazily, on the first send (a modem unplugged at
boot must not stop the daemon), with:

    AT              -> OK        the modem answers at all
    ATE0            -> OK        echo off (echoed lines are also skipped, for modems that ignore it)
    AT+CMEE=1       -> OK        numeric error codes (an ERROR here is ignored)

Each SMS then sends, re-asserting the modes a modem reboot silently resets:

    AT+CMGF=1               -> OK            text mode
    AT+CSCS="GSM"           -> OK            text bytes are GSM 03.38 septets, one per byte
    AT+CMGS="+393331234567" -> "\\r\\n> "      the prompt has no line end: it is matched in the byte stream
    <text> 0x1A (Ctrl-Z)    -> +CMGS: <mr>, OK        Delivered("modem message reference <mr>")
                            -> +CMS ERROR: <n>        classified below

Unsolicited result codes (RING, +CMTI, +CREG...) that arrive in between are skipped.

Text. `message.short` is already GSM-7 (alarms.messages.to_gsm7). It is sent as raw GSM 03.38 codes
("@" is 0x00, "è" is 0x04); the characters that cannot be typed after the prompt are replaced:
the extension table (€ [ ] { } ~ ^ \\ | form feed, which need the 0x1B escape that aborts text
entry on most modems) by ASCII look-alikes, "Ξ" (0x1A, Ctrl-Z) by "?", line breaks (a CR ends the
line and asks for another prompt) by spaces. A modem that refuses `AT+CSCS="GSM"` gets `"IRA"`
(ASCII) and accents stripped. Texts are cut to one SMS, 160 characters, the last three being
"...": the templates are written to fit, and concatenated SMS need PDU mode (a user data header),
which is a lot of protocol for a fallback path.

Classification:

    +CMGS: <mr> then OK                                  Delivered
    +CMS ERROR, the number or the message is wrong        Permanent
      1 unassigned number, 28 unidentified subscriber,
      30 unknown subscriber, 195 invalid SME address,
      196 destination barred; 95-97, 99 invalid message,
      128/129/143/144/145/159/176 TP-PID/DCS/TPDU
      not supported, 303 operation not supported,
      304 invalid PDU mode parameter, 305 invalid text
      mode parameter
    every other +CMS ERROR (network, SIM, SMSC, credit:   Transient
      21 transfer rejected, 38 network out of order,
      41/42/47 temporary, 310-318 SIM, 330 SMSC address
      unknown, 331 no network service, 332 network
      timeout, 500 unknown, 512+ vendor), +CME ERROR,
      plain ERROR
    no answer in time, port cannot be opened, I/O error   Transient; the session is closed and the
                                                          next one starts with ESC (0x1B, abandons a
                                                          half-typed SMS) and a short input flush
    an address that is not E.164                         Permanent (nothing is written)

(Vendor code 325 — some firmwares' "invalid character in text" — is not in 27.005 and is left
transient: a permanent verdict needs the standard's word.) RP causes 8/10/50 (barred, not
subscribed) and 21 are transient on purpose: with prepaid SIMs they usually mean "no credit", and
the alarm SMS should go once the owner tops up.

Sending is at-least-once: an SMS whose `+CMGS` answer is lost (timeout) may have left, and the
outbox will send it again; that beats losing an alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import unicodedata
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Final, Self

import serial_asyncio_fast

from alarms.messages import SMS_LIMIT, fit_sms, to_gsm7
from hub.transports.base import Delivered, Outcome, OutgoingMessage, Permanent, Transient, TransportError

if TYPE_CHECKING:
    from hub.config import GsmConfig

__all__ = [
    "GSM7_CODES",
    "PERMANENT_CMS_ERRORS",
    "GsmCheckError",
    "GsmModem",
    "encode_sms_text",
]

log = logging.getLogger("casahub.channels.gsm")

CTRL_Z: Final = b"\x1a"
ESC: Final = b"\x1b"

# GSM 03.38 default alphabet in code order (0x00-0x7F); 0x1B is the escape to the extension table.
GSM7_CODES: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM7_CODES) == 128
_GSM7_BYTE: Final[Mapping[str, int]] = {char: code for code, char in enumerate(GSM7_CODES) if code not in (0x1A, 0x1B)}

# Characters that cannot be typed in text mode, and what is typed instead.
_TYPEABLE: Final[Mapping[str, str]] = {
    "€": "EUR",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
    "~": "-",
    "^": "'",
    "\\": "/",
    "|": "/",
    "\f": " ",
    "\r\n": " ",
    "\r": " ",
    "\n": " ",
    "Ξ": "?",
}

PERMANENT_CMS_ERRORS: Final = frozenset(
    {1, 28, 30, 95, 96, 97, 99, 128, 129, 143, 144, 145, 159, 176, 195, 196, 303, 304, 305}
)
_CMS_MEANING: Final[Mapping[int, str]] = {
    1: "unassigned number",
    8: "operator determined barring",
    10: "call barred",
    21: "short message transfer rejected",
    28: "unidentified subscriber",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable",
    50: "requested facility not subscribed",
    96: "invalid mandatory information",
    195: "invalid SME address",
    196: "destination SME barred",
    300: "ME failure",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    316: "SIM PUK required",
    322: "SIM memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    500: "unknown error",
}
_CREG_STATUS: Final[Mapping[int, str]] = {
    0: "not registered, not searching",
    1: "registered (home network)",
    2: "not registered, searching",
    3: "registration denied",
    4: "registration state unknown",
    5: "registered (roaming)",
}
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_FINAL_ERROR = re.compile(r"^\+(CMS|CME) ERROR:\s*(.*)$")

DEFAULT_COMMAND_TIMEOUT: Final = 5.0
DEFAULT_SEND_TIMEOUT: Final = 20.0  # +CMGS can take seconds on a weak network; the outbox allows 30 s per send
RESYNC_FLUSH: Final = 0.3


class GsmCheckError(TransportError, RuntimeError):
    """`check()` found the modem unusable: the message says why (no port, no answer, not registered)."""


class _ModemFault(TransportError):
    """The session is unusable (no answer, I/O error): close it and say why."""


class _CommandError(TransportError):
    """The modem answered a command with a final error result."""

    def __init__(self, command: str, kind: str | None, code: int | None, text: str) -> None:
        self.command, self.kind, self.code, self.text = command, kind, code, text
        super().__init__(text)

    def describe(self) -> str:
        if self.kind is None:
            return f"modem answered ERROR to {self.command}"
        meaning = _CMS_MEANING.get(self.code, "") if self.kind == "CMS" and self.code is not None else ""
        shown = self.text + (f" ({meaning})" if meaning else "")
        return f"modem answered +{self.kind} ERROR: {shown} to {self.command}"


def encode_sms_text(text: str, charset: str = "GSM") -> bytes:
    """The bytes typed after the `> ` prompt for `text`: one SMS (160 characters at most), never 0x1A/0x1B.

    `charset` is the modem's AT+CSCS: "GSM" (GSM 03.38 codes) or "IRA" (ASCII).
    """
    text = to_gsm7(text)
    for char, typed in _TYPEABLE.items():
        text = text.replace(char, typed)
    if charset == "IRA":
        text = "".join(
            char if char.isascii() else (unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "?")
            for char in text
        )
    # Cut on a word boundary, never refused for length (alarms/messages/gsm7.py fit_sms).
    text = fit_sms(text, SMS_LIMIT)
    if charset == "IRA":
        return text.encode("ascii", "replace")
    return bytes(_GSM7_BYTE.get(char, 0x3F) for char in text)


class GsmModem:
    """SMS through a serial AT modem; `async with GsmModem(config) as modem: await modem.send(m)`.

    Carries the `gsm` channel and is the `sms` fallback when Twilio is unreachable.
    """

    transport = "gsm"
    channels: ClassVar[tuple[str, ...]] = ("gsm", "sms")

    def __init__(
        self,
        config: GsmConfig,
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> None:
        self.config = config
        self.command_timeout = command_timeout
        self.send_timeout = send_timeout
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = bytearray()
        self._interrupted = False  # the last session ended mid-command: resynchronise on the next open
        self._charset = "GSM"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        return self  # the port opens on the first send, and reopens after every fault

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        async with self._lock:
            await self._close()

    async def _close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        self._buffer.clear()
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.command_timeout):
                    await writer.wait_closed()

    def _abandon(self) -> None:
        """Drop the session without waiting (on cancellation): the next send reopens and resynchronises."""
        writer, self._reader, self._writer = self._writer, None, None
        self._buffer.clear()
        self._interrupted = True
        if writer is not None:
            writer.close()

    async def _session(self) -> None:
        if self._writer is not None:
            return
        device = self.config.device
        try:
            async with asyncio.timeout(self.command_timeout):
                self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                    url=device, baudrate=self.config.baudrate
                )
        except TimeoutError:
            raise _ModemFault(f"opening {device} took more than {self.command_timeout:g} s") from None
        except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
            raise _ModemFault(f"cannot open the modem port {device}: {exc}") from None
        self._buffer.clear()
        if self._interrupted:
            # A command or a half-typed SMS may still be pending in the modem: ESC abandons the text
            # entry, and the answers to whatever was in flight are read and thrown away.
            await self._write(ESC)
            await self._flush_input(RESYNC_FLUSH)
            self._interrupted = False
        try:
            await self._command("AT")
            await self._command("ATE0")
        except _CommandError as error:
            raise _ModemFault(error.describe()) from None
        with contextlib.suppress(_CommandError):
            await self._command("AT+CMEE=1")

    # ------------------------------------------------------------------ bytes in, bytes out

    async def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise _ModemFault("the modem port is closed")
        try:
            writer.write(data)
            async with asyncio.timeout(self.command_timeout):
                await writer.drain()
        except TimeoutError:
            raise _ModemFault(f"writing to {self.config.device} blocked for {self.command_timeout:g} s") from None
        except Exception as exc:  # any failure of the serial layer is a fault of this session
            raise _ModemFault(f"writing to {self.config.device} failed: {exc}") from None

    async def _read_more(self, deadline: float, waiting_for: str) -> None:
        reader = self._reader
        if reader is None:
            raise _ModemFault("the modem port is closed")
        try:
            async with asyncio.timeout_at(deadline):
                data = await reader.read(512)
        except TimeoutError:
            raise _ModemFault(f"no answer from the modem to {waiting_for}") from None
        except Exception as exc:
            raise _ModemFault(f"reading from {self.config.device} failed: {exc}") from None
        if not data:
            raise _ModemFault(f"the modem port {self.config.device} was closed")
        self._buffer.extend(data)

    async def _flush_input(self, quiet: float) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(_ModemFault):  # ends when the modem has been quiet for `quiet` seconds
            while True:
                await self._read_more(loop.time() + quiet, "the resynchronisation")
        self._buffer.clear()

    def _take_line(self) -> str | None:
        """The next complete non-empty line of the buffer (CR and LF both end lines), or None."""
        while True:
            ends = [index for index in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if index >= 0]
            if not ends:
                return None
            end = min(ends)
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            line = raw.decode("latin-1").strip()
            if line:
                return line

    async def _command(self, command: str, timeout: float | None = None) -> list[str]:
        """Send one command line; its information lines once the modem says OK, or _CommandError."""
        await self._write(command.encode("ascii") + b"\r")
        return await self._final(command, timeout or self.command_timeout)

    async def _final(self, command: str, timeout: float) -> list[str]:
        deadline = asyncio.get_running_loop().time() + timeout
        lines: list[str] = []
        while True:
            line = self._take_line()
            if line is None:
                await self._read_more(deadline, command)
                continue
            if line == command:
                continue  # echo
            if line == "OK":
                return lines
            self._raise_if_error(command, line)
            lines.append(line)

    @staticmethod
    def _raise_if_error(command: str, line: str) -> None:
        if line in ("ERROR", "NO CARRIER"):
            raise _CommandError(command, None, None, line)
        match = _FINAL_ERROR.match(line)
        if match:
            detail = match.group(2).strip()
            raise _CommandError(command, match.group(1), int(detail) if detail.isdigit() else None, detail)

    async def _prompt(self, command: str) -> None:
        """Wait for the text-entry prompt "> " (no line end), skipping echo and unsolicited lines."""
        deadline = asyncio.get_running_loop().time() + self.command_timeout
        while True:
            while self._buffer and self._buffer[0] in b"\r\n ":
                del self._buffer[:1]
            if self._buffer.startswith(b">"):
                del self._buffer[: 2 if self._buffer.startswith(b"> ") else 1]
                return
            line = self._take_line()
            if line is None:
                await self._read_more(deadline, f"{command} (the > prompt)")
                continue
            if line != command:
                self._raise_if_error(command, line)

    # ------------------------------------------------------------------ sending

    async def send(self, message: OutgoingMessage) -> Outcome:
        if message.channel not in self.channels:
            return Permanent(f"the gsm transport does not carry the {message.channel} channel")
        number = (message.address or "").replace(" ", "")
        if not _E164.match(number):
            shown = "no phone number" if not number else "a phone number not in E.164 form (+39...)"
            return Permanent(f"{shown} for {message.recipient}")
        async with self._lock:
            outcome = await self._guarded(self._send_sms(number, message.short or message.body))
        if isinstance(outcome, Delivered):
            log.info("message %s: SMS sent by the modem (%s)", message.id, outcome.detail)
        else:
            log.warning("message %s: SMS not sent by the modem: %s", message.id, outcome.reason)
        return outcome

    async def _guarded(self, exchange: Coroutine[object, object, Outcome]) -> Outcome:
        """Run one exchange; a fault or a cancellation closes the session so that the next one starts clean."""
        try:
            return await exchange
        except _ModemFault as fault:
            self._interrupted = True
            await self._close()
            return Transient(str(fault))
        except _CommandError as error:
            return _classify(error)
        except BaseException:
            self._abandon()
            raise

    async def _send_sms(self, number: str, text: str) -> Outcome:
        await self._session()
        await self._command("AT+CMGF=1")
        await self._choose_charset()
        command = f'AT+CMGS="{number}"'
        await self._write(command.encode("ascii") + b"\r")
        try:
            await self._prompt(command)
        except _ModemFault:
            await self._write(ESC)  # leave text entry, in case the prompt came late
            raise
        await self._write(encode_sms_text(text, self._charset) + CTRL_Z)
        try:
            lines = await self._final(command, self.send_timeout)
        except _ModemFault as fault:
            raise _ModemFault(f"{fault}; the SMS may have been sent") from None
        for line in lines:
            if line.startswith("+CMGS:"):
                return Delivered(f"modem message reference {line[6:].strip()}")
        return Delivered("accepted by the modem")

    async def _choose_charset(self) -> None:
        try:
            await self._command('AT+CSCS="GSM"')
            self._charset = "GSM"
        except _CommandError:
            with contextlib.suppress(_CommandError):
                await self._command('AT+CSCS="IRA"')
            self._charset = "IRA"

    # ------------------------------------------------------------------ doctor

    async def check(self) -> str:
        """Is the modem there, in signal and registered? A one-line summary, or GsmCheckError saying why not."""
        async with self._lock:
            outcome = await self._guarded(self._status())
        if not isinstance(outcome, Delivered):
            raise GsmCheckError(f"GSM modem on {self.config.device}: {outcome.reason}")
        return outcome.detail

    async def _status(self) -> Outcome:
        await self._session()
        signal = "signal unknown"
        rssi = _field(await self._command("AT+CSQ"), "+CSQ:", 0)
        if rssi is not None and 0 <= rssi <= 31:
            signal = f"signal {-113 + 2 * rssi} dBm ({rssi}/31)"
        status = _field(await self._command("AT+CREG?"), "+CREG:", 1)
        status = 4 if status is None else status
        registration = _CREG_STATUS.get(status, f"registration state {status}")
        if status not in (1, 5):
            return Permanent(f"{registration}, {signal}: SMS cannot be sent")
        return Delivered(f"GSM modem on {self.config.device}: {registration}, {signal}")


def _field(lines: list[str], prefix: str, index: int) -> int | None:
    """Field `index` of the `prefix` line ("+CREG: 0,1" -> 1), or None when absent or not a number."""
    for line in lines:
        if line.startswith(prefix):
            fields = [part.strip() for part in line[len(prefix) :].split(",")]
            if index < len(fields) and fields[index].isdigit():
                return int(fields[index])
    return None


def _classify(error: _CommandError) -> Transient | Permanent:
    reason = error.describe()
    if error.kind == "CMS" and error.code in PERMANENT_CMS_ERRORS:
        return Permanent(reason)
    return Transient(reason)
