"""The gsm transport against a simulated AT modem on a pty.

No real modem runs on loopback, so `SimulatedModem` drives the master side of a pseudo-terminal
and behaves like a 27.005 modem where the channel can tell the difference: echo on until ATE0,
PDU mode until AT+CMGF=1 (text sent in PDU mode is refused with +CMS ERROR: 304), the `> ` prompt
without a line end, text entry ended by Ctrl-Z or abandoned by ESC, the text decoded with the
charset chosen by AT+CSCS, characters before "AT" ignored (V.250), unsolicited result codes.
The channel opens the slave side by its path, as it opens /dev/ttyUSB2.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from hub.config import GsmConfig
from hub.transports.base import Delivered, OutgoingMessage, Permanent, Transient
from hub.transports.gsm import GSM7_CODES, GsmCheckError, GsmModem, encode_sms_text

NUMBER = "+393331234567"
SESSION = b"AT\rATE0\rAT+CMEE=1\r"
GSM7_BYTES = {char: bytes([code]) for code, char in enumerate(GSM7_CODES)}


@dataclass
class SimulatedModem:
    answer: bool = True  # False: a modem that reads and never answers
    answer_text: bool = True  # False: takes the SMS text, then never answers
    prompt: bool = True  # False: never shows the "> " prompt
    cms_error: int | None = None  # answer the SMS text with +CMS ERROR: n
    answer_delay: float = 0.0  # answer the SMS text this late
    charsets: tuple[str, ...] = ("GSM", "IRA", "UCS2")
    registration: int = 1
    rssi: int = 20
    urcs: bool = False  # unsolicited result codes before every answer
    received: bytearray = field(default_factory=bytearray)  # every byte the channel wrote
    sent: list[tuple[str, str]] = field(default_factory=list)  # SMS that left: (number, text)
    echo: bool = True
    cmgf: int = 0
    cscs: str = "IRA"
    reference: int = 11
    _pending: bytearray = field(default_factory=bytearray)
    _entering_for: str | None = None

    def __post_init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.device = os.ttyname(self.slave)
        os.set_blocking(self.master, False)

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self.master, self._on_readable)

    def stop(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self.received += data
        self._pending += data
        if self.answer:
            self._process()

    def _write(self, data: bytes) -> None:
        os.write(self.master, data)

    def _reply(self, *lines: str) -> None:
        if self.urcs:
            self._write(b'\r\n+CMTI: "SM",3\r\n\r\nRING\r\n')
        self._write(b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines))

    def _process(self) -> None:
        while True:
            if self._entering_for is not None:
                end = next((i for i, byte in enumerate(self._pending) if byte in (0x1A, 0x1B)), None)
                if end is None:
                    return
                text, terminator = bytes(self._pending[:end]), self._pending[end]
                del self._pending[: end + 1]
                number, self._entering_for = self._entering_for, None
                if self.echo:
                    self._write(text)
                if terminator == 0x1B:
                    continue  # ESC: the SMS is abandoned
                self._text_entered(number, text)
                continue
            end = self._pending.find(b"\r")
            if end < 0:
                return
            raw = bytes(self._pending[:end])
            del self._pending[: end + 1]
            start = raw.upper().find(b"AT")
            if start < 0:
                continue  # V.250: what precedes the AT prefix is ignored
            if self.echo:
                self._write(raw + b"\r")
            self._command(raw[start:].decode("latin-1"))

    def _text_entered(self, number: str, raw: bytes) -> None:
        if self.cscs == "GSM":
            text = "".join(GSM7_CODES[byte] if byte < 128 else "?" for byte in raw)
        else:
            text = raw.decode("ascii", "replace")
        if self.cms_error is not None:
            self._reply(f"+CMS ERROR: {self.cms_error}")
        elif self.answer_text:
            self.sent.append((number, text))
            self.reference += 1
            answer = (f"+CMGS: {self.reference}", "OK")
            if self.answer_delay:
                asyncio.get_running_loop().call_later(self.answer_delay, self._reply, *answer)
            else:
                self._reply(*answer)

    def _command(self, command: str) -> None:
        upper = command.upper()
        if upper in ("AT", "AT+CMEE=1"):
            self._reply("OK")
        elif upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
            self._reply("OK")
        elif upper in ("AT+CMGF=0", "AT+CMGF=1"):
            self.cmgf = int(upper[-1])
            self._reply("OK")
        elif match := re.fullmatch(r'AT\+CSCS="([A-Z0-9-]+)"', upper):
            if match.group(1) in self.charsets:
                self.cscs = match.group(1)
                self._reply("OK")
            else:
                self._reply("+CME ERROR: 4")
        elif match := re.fullmatch(r'AT\+CMGS="(\+?[0-9]+)"', command):
            if self.cmgf != 1:
                self._reply("+CMS ERROR: 304")
            elif self.prompt:
                self._entering_for = match.group(1)
                self._write(b"\r\n> ")
        elif upper == "AT+CSQ":
            self._reply(f"+CSQ: {self.rssi},99", "OK")
        elif upper == "AT+CREG?":
            self._reply(f"+CREG: 0,{self.registration}", "OK")
        else:
            self._reply("ERROR")


ModemFactory = Callable[..., SimulatedModem]


@pytest.fixture
async def make_modem() -> AsyncIterator[ModemFactory]:
    modems: list[SimulatedModem] = []

    def make(**options: object) -> SimulatedModem:
        modem = SimulatedModem(**options)  # type: ignore[arg-type]
        modem.start()
        modems.append(modem)
        return modem

    yield make
    for modem in modems:
        modem.stop()


def channel_for(modem: SimulatedModem, **timeouts: float) -> GsmModem:
    options = {"command_timeout": 1.0, "send_timeout": 1.0, **timeouts}
    return GsmModem(GsmConfig(device=modem.device, baudrate=115200), **options)


def message(short: str = "casahub: ALLARME allagamento in cucina.", address: str | None = NUMBER) -> OutgoingMessage:
    return OutgoingMessage(
        id=3,
        channel="gsm",
        recipient="Anna",
        address=address,
        language="it",
        subject="",
        body="",
        short=short,
    )


def gsm7(text: str) -> bytes:
    return b"".join(GSM7_BYTES[char] for char in text)


# --------------------------------------------------------------------------- sending


async def test_sms_in_text_mode_writes_exactly_these_bytes(make_modem: ModemFactory) -> None:
    modem = make_modem()
    text = "casahub: ALLARME allagamento, è scattato alle 03:12 @casa; costo 5$ già pagato. Rispondi OK."
    async with channel_for(modem) as channel:
        outcome = await channel.send(message(text))
        assert outcome == Delivered("modem message reference 12")
        assert modem.sent == [(NUMBER, text)]
        typed = gsm7(text)
        assert b"\x04" in typed and b"\x00" in typed and b"\x02" in typed and b"\x7f" in typed  # è @ $ à
        first = SESSION + b'AT+CMGF=1\rAT+CSCS="GSM"\rAT+CMGS="+393331234567"\r' + typed + b"\x1a"
        assert bytes(modem.received) == first

        # The session stays open; each SMS re-asserts text mode and charset (a modem reboot resets them).
        assert isinstance(await channel.send(message("casahub: seconda zona.")), Delivered)
        second = b'AT+CMGF=1\rAT+CSCS="GSM"\rAT+CMGS="+393331234567"\rcasahub: seconda zona.\x1a'
        assert bytes(modem.received) == first + second
        assert modem.sent[1] == (NUMBER, "casahub: seconda zona.")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (500, Transient),  # unknown error
        (331, Transient),  # no network service
        (332, Transient),  # network timeout
        (21, Transient),  # transfer rejected: usually no credit on a prepaid SIM
        (38, Transient),  # network out of order
        (1, Permanent),  # unassigned number
        (305, Permanent),  # invalid text mode parameter
        (304, Permanent),  # invalid PDU mode parameter
    ],
)
async def test_cms_errors_are_classified(make_modem: ModemFactory, code: int, kind: type) -> None:
    modem = make_modem(cms_error=code)
    async with channel_for(modem) as channel:
        outcome = await channel.send(message())
        assert isinstance(outcome, kind) and not isinstance(outcome, Delivered)
        assert f"+CMS ERROR: {code}" in outcome.reason and "AT+CMGS" in outcome.reason
        # An error answer is a clean end of the exchange: the session stays, no reopen.
        modem.cms_error = None
        before = len(modem.received)
        assert isinstance(await channel.send(message()), Delivered)
        assert bytes(modem.received[before:]).startswith(b"AT+CMGF=1\r")


async def test_silent_modem_times_out_as_transient(make_modem: ModemFactory) -> None:
    modem = make_modem(answer=False)
    async with channel_for(modem, command_timeout=0.3) as channel:
        outcome = await channel.send(message())
    assert isinstance(outcome, Transient) and "no answer from the modem to AT" in outcome.reason
    assert bytes(modem.received) == b"AT\r"


async def test_lost_answer_resets_the_session_and_the_next_starts_clean(make_modem: ModemFactory) -> None:
    modem = make_modem(answer_text=False)
    async with channel_for(modem, send_timeout=0.3) as channel:
        outcome = await channel.send(message("prima"))
        assert isinstance(outcome, Transient) and "may have been sent" in outcome.reason
        assert bytes(modem.received).endswith(b"prima\x1a")
        modem.answer_text = True
        before = len(modem.received)
        assert isinstance(await channel.send(message("seconda")), Delivered)
    # Reopened: ESC (leaves any half-typed SMS), then the whole session setup again.
    assert bytes(modem.received[before:]) == (
        b"\x1b" + SESSION + b'AT+CMGF=1\rAT+CSCS="GSM"\rAT+CMGS="+393331234567"\rseconda\x1a'
    )
    assert modem.sent == [(NUMBER, "seconda")]


async def test_late_answer_is_not_taken_for_the_next_one(make_modem: ModemFactory) -> None:
    modem = make_modem(answer_delay=0.4)
    async with channel_for(modem, send_timeout=0.2) as channel:
        late = await channel.send(message("prima"))
        assert isinstance(late, Transient) and "may have been sent" in late.reason
        modem.answer_delay = 0.0
        # The "+CMGS: 12 / OK" of the first SMS arrives during the resynchronisation and is discarded.
        assert await channel.send(message("seconda")) == Delivered("modem message reference 13")
    assert modem.sent == [(NUMBER, "prima"), (NUMBER, "seconda")]  # at least once: the first did leave


async def test_missing_prompt_abandons_text_entry(make_modem: ModemFactory) -> None:
    modem = make_modem(prompt=False)
    async with channel_for(modem, command_timeout=0.3) as channel:
        outcome = await channel.send(message())
        assert isinstance(outcome, Transient) and "prompt" in outcome.reason
        assert bytes(modem.received).endswith(b'AT+CMGS="+393331234567"\r\x1b')
        assert b"\x1a" not in modem.received  # no text was typed without a prompt
        modem.prompt = True
        assert isinstance(await channel.send(message()), Delivered)


async def test_cancelled_send_reopens_with_resync(make_modem: ModemFactory) -> None:
    modem = make_modem(answer_text=False)
    async with channel_for(modem, send_timeout=10.0) as channel:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(channel.send(message("prima")), 0.5)  # the outbox's per-send budget
        modem.answer_text = True
        before = len(modem.received)
        assert isinstance(await channel.send(message("seconda")), Delivered)
        assert bytes(modem.received[before:]).startswith(b"\x1b" + SESSION)


async def test_unsolicited_result_codes_are_skipped(make_modem: ModemFactory) -> None:
    modem = make_modem(urcs=True)
    async with channel_for(modem) as channel:
        assert await channel.send(message()) == Delivered("modem message reference 12")
        assert "registered (home network)" in await channel.check()


async def test_long_text_is_cut_to_one_sms(make_modem: ModemFactory) -> None:
    modem = make_modem()
    text = "casahub: " + "allarme in cucina, " * 12
    async with channel_for(modem) as channel:
        assert isinstance(await channel.send(message(text)), Delivered)
    (sent,) = modem.sent
    assert 140 <= len(sent[1]) <= 160 and sent[1].endswith("...") and text.startswith(sent[1][:-3])
    assert text[len(sent[1]) - 3] in " ,", sent[1]  # cut on a word boundary


async def test_a_60_kb_zone_name_still_gives_one_sms(make_modem: ModemFactory) -> None:
    """An old database may hold a huge name (before names were bounded): never refused for length."""
    text = "casahub: ALLARME allagamento in " + "Cucina" * 10_000 + " alle 03:12."
    async with channel_for(modem := make_modem()) as channel:
        assert isinstance(await channel.send(message(text)), Delivered)
    (sent,) = modem.sent
    assert len(sent[1]) <= 160 and sent[1].startswith("casahub: ALLARME allagamento in ") and sent[1].endswith("...")


async def test_modem_without_gsm_charset_gets_ascii(make_modem: ModemFactory) -> None:
    modem = make_modem(charsets=("IRA",))
    async with channel_for(modem) as channel:
        assert isinstance(await channel.send(message("casahub: è scattato l'allarme @ 5$")), Delivered)
    assert modem.sent == [(NUMBER, "casahub: e scattato l'allarme @ 5$")]
    assert b'AT+CSCS="GSM"\rAT+CSCS="IRA"\r' in modem.received


async def test_concurrent_sends_take_turns(make_modem: ModemFactory) -> None:
    modem = make_modem()
    async with channel_for(modem) as channel:
        outcomes = await asyncio.gather(*(channel.send(message(f"casahub: messaggio {n}")) for n in range(4)))
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert sorted(text for _, text in modem.sent) == [f"casahub: messaggio {n}" for n in range(4)]
    assert bytes(modem.received).count(b"AT+CMGS=") == 4 and bytes(modem.received).count(b"ATE0") == 1


async def test_sms_fallback_channel_and_bad_addresses(make_modem: ModemFactory) -> None:
    modem = make_modem()
    async with channel_for(modem) as channel:
        fallback = OutgoingMessage(
            id=4, channel="sms", recipient="Anna", address=NUMBER, language="it", subject="", body="", short="ok"
        )
        assert isinstance(await channel.send(fallback), Delivered)
        before = len(modem.received)
        for address in (None, "3331234567", '+39333"\r'):
            outcome = await channel.send(message(address=address))
            assert isinstance(outcome, Permanent)
        email = OutgoingMessage(
            id=5, channel="email", recipient="Anna", address="a@b.it", language="it", subject="", body="", short=""
        )
        assert isinstance(await channel.send(email), Permanent)
        assert len(modem.received) == before  # nothing written for a message that cannot go


async def test_missing_device_is_transient() -> None:
    async with GsmModem(GsmConfig(device="/dev/casahub-no-such-modem"), command_timeout=0.5) as channel:
        outcome = await channel.send(message())
        assert isinstance(outcome, Transient) and "cannot open the modem port" in outcome.reason
        with pytest.raises(GsmCheckError, match="cannot open"):
            await channel.check()


# --------------------------------------------------------------------------- doctor


async def test_check_reports_signal_and_registration(make_modem: ModemFactory) -> None:
    modem = make_modem(rssi=20, registration=5)
    async with channel_for(modem) as channel:
        summary = await channel.check()
    assert summary == f"GSM modem on {modem.device}: registered (roaming), signal -73 dBm (20/31)"
    assert bytes(modem.received) == SESSION + b"AT+CSQ\rAT+CREG?\r"
    assert modem.sent == []


async def test_check_fails_when_not_registered(make_modem: ModemFactory) -> None:
    modem = make_modem(rssi=99, registration=2)
    async with channel_for(modem) as channel:
        with pytest.raises(GsmCheckError, match="searching, signal unknown"):
            await channel.check()


# --------------------------------------------------------------------------- text encoding


def test_text_encoding_avoids_control_bytes() -> None:
    assert encode_sms_text("€ [1] {2} ~^\\|") == b"EUR (1) (2) -'//"
    assert encode_sms_text("riga 1\r\nriga 2\nΞ") == b"riga 1 riga 2 ?"
    assert encode_sms_text("È l'ora — ok…") == b"E' l'ora - ok..."
    assert encode_sms_text("àèìòù", "IRA") == b"aeiou"
    for text in ("Ξ", "€", "\x1b", "\x1a"):
        assert not set(encode_sms_text(text)) & {0x1A, 0x1B}
