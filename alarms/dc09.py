"""SIA DC-09 codec: frames, Contact ID and SIA DCS event blocks, AES, receiver replies.

Theory of operation
===================

Pure, sans-I/O (the h11 model): no sockets, no asyncio, no clock. The caller hands in
the sequence number, the timestamp and, for encryption, the pad source; it gets bytes
back, and it feeds the bytes a receiver answered to ``decode_reply``.

A DC-09 frame (docs/architecture.md section 5) is::

    LF  CRC  0LLL  "ID"  seq  Rrcvr  Lline  #acct  [data]  _HH:MM:SS,MM-DD-YYYY  CR

- ``CRC`` is CRC-16/ARC (reflected poly 0xA001, init 0) over everything from the opening
  quote of ``"ID"`` to the end of the timestamp, as 4 upper-case hex digits; ``0LLL`` is
  the length of the same span in hex. ``seq`` is 4 decimal digits (0000-9999). ``R`` and
  ``L`` are always sent (receivers such as pysiaalarm need them), each 1-6 hex digits.
- Encrypted frames put ``*`` before the ID (``"*SIA-DCS"``) and replace everything after
  ``[`` by the hex of ``AES-CBC(key, IV=0, pad | data ] timestamp)``: the pad is made of
  characters outside ``[]|`` and brings the plaintext to a multiple of 16 bytes.
  Encrypted messages always carry the timestamp (it is the replay protection).
- ``data`` is ``#acct|QEEE GG ZZZ`` for ``ADM-CID`` (Contact ID), ``#acct|Nri<area>/<CC><zzz>``
  for ``SIA-DCS`` and empty for the ``NULL`` link-supervision poll.
- The receiver answers ``ACK`` (``*ACK`` with an encrypted block when the message was
  encrypted), ``NAK`` (sequence 0000, carries the receiver's clock: the sender resyncs
  and resends) or ``DUH`` (cannot process). Receivers differ in the pad of an encrypted
  ``*ACK`` (``0``s or random bytes, with or without the ``|``) and in hex case: the decoder
  accepts them all. Anything else raises ``DC09DecodeError`` and nothing else: the
  decoder is fuzzed with hypothesis.

The event codes (``CONTACT_ID`` and ``SIA_CODES`` below) are the only place where a
casahub ``ReportCode`` becomes a number or a two-letter code; ``decode_report`` is their
inverse (for tests and for a receiver simulator).
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from alarms.errors import AlarmsError
from alarms.model import ReportCode

__all__ = [
    "CONTACT_ID",
    "EVENT_ONLY",
    "MESSAGE_IDS",
    "REPLY_IDS",
    "REPORT_KINDS",
    "SIA_CODES",
    "USER_CODES",
    "DC09DecodeError",
    "DC09EncodeError",
    "DC09Error",
    "DecodedReport",
    "Frame",
    "MessageId",
    "PadSource",
    "ReplyId",
    "ReportFormat",
    "ReportKind",
    "contact_id_block",
    "crc16",
    "decode_frame",
    "decode_reply",
    "decode_report",
    "encode_frame",
    "encode_null",
    "encode_report",
    "format_timestamp",
    "length_field",
    "random_pad",
    "report_block",
    "sia_block",
]

MessageId = Literal["SIA-DCS", "ADM-CID", "NULL"]
ReplyId = Literal["ACK", "NAK", "DUH"]
ReportFormat = Literal["cid", "sia"]
# What the centre can be told: the engine's ReportCode plus the periodic test report
# (`casahub doctor --send-test centre`, payload {"test": true}).
ReportKind = ReportCode | Literal["periodic_test"]
PadSource = Callable[[int], str]

MESSAGE_IDS: tuple[MessageId, ...] = get_args(MessageId)
REPLY_IDS: tuple[ReplyId, ...] = get_args(ReplyId)
REPORT_KINDS: tuple[ReportKind, ...] = (*get_args(ReportCode), "periodic_test")

AES_KEY_LENGTHS = (16, 24, 32)
_IV = bytes(16)
_PAD_ALPHABET = string.ascii_letters + string.digits  # a subset of "anything but []|"
_FORBIDDEN_PAD = frozenset("[]|")


class DC09Error(AlarmsError):
    """Base of the codec's errors."""


class DC09EncodeError(DC09Error, ValueError):
    """The caller asked for a frame DC-09 cannot carry (bad account, sequence, zone, pad...)."""


class DC09DecodeError(DC09Error):
    """Bytes that are not a valid DC-09 frame (or not a reply, or not decryptable with our key)."""


# --------------------------------------------------------------------------- event codes

# ReportKind -> Contact ID event code (EEE). Q is 1 (new event / opening) or 3 (restore /
# closing); the zone field ZZZ is the zone number, or the user number for USER_CODES.
CONTACT_ID: dict[ReportKind, int] = {
    "fire": 110,
    "water": 154,  # "water leakage"; pysiaalarm names it "YN" (not in its table) but ACKs it
    "burglary": 130,
    "panic": 120,
    "duress": 121,
    "tamper": 137,
    "ac_loss": 301,
    "low_battery": 384,  # RF low battery
    "supervision_loss": 381,  # loss of supervision, RF
    "open": 401,  # 1401 opening (disarmed) by user
    "close": 401,  # 3401 closing (armed) by user
    "cancel": 406,
    "confirmed": 139,  # verified (sequentially confirmed) intrusion
    "bypass": 570,
    "trouble": 300,  # system trouble
    "periodic_test": 602,
    "walk_test": 607,  # 1607 walk-test mode entered, 3607 left
    "wrong_code": 461,  # wrong code entry: 10 wrong alarm codes within an hour (hub/core/throttle.py)
    "close_stay": 441,  # 3441 armed stay (home or night: somebody is inside)
    "open_stay": 441,  # 1441 disarmed from stay
}

# ReportKind -> (SIA DCS code for the event, code for its restore or None).
SIA_CODES: dict[ReportKind, tuple[str, str | None]] = {
    "fire": ("FA", "FR"),
    "water": ("WA", "WH"),
    "burglary": ("BA", "BR"),
    "panic": ("PA", "PR"),
    "duress": ("HA", "HR"),
    "tamper": ("TA", "TR"),
    "ac_loss": ("AT", "AR"),
    "low_battery": ("XT", "XR"),
    "supervision_loss": ("UY", "UJ"),  # untyped missing trouble / untyped trouble restore
    "open": ("OP", None),
    "close": ("CL", None),
    "cancel": ("OC", None),
    "confirmed": ("BV", None),
    "bypass": ("UB", "UU"),  # untyped zone bypass / unbypass: any zone kind, 24h ones too
    "trouble": ("YX", "YZ"),  # service required / service completed (what CID 300 maps to)
    "periodic_test": ("RP", None),
    "walk_test": ("TS", "TE"),  # test start / test end
    "wrong_code": ("JA", None),  # user code tamper: too many unsuccessful attempts
    "close_stay": ("NL", None),  # perimeter armed
    "open_stay": ("OP", None),  # an opening is an opening, whatever was armed
}

# One-shot events: they have no restore, a `restore` flag on them is ignored.
EVENT_ONLY: frozenset[ReportKind] = frozenset(
    {"open", "close", "cancel", "confirmed", "periodic_test", "wrong_code", "close_stay", "open_stay"}
)
CLOSINGS: frozenset[ReportKind] = frozenset({"close", "close_stay"})  # CID qualifier 3
OPENINGS: frozenset[ReportKind] = frozenset({"open", "open_stay"})
# Whose zone field is the user number (who disarmed, armed, cancelled, or used a duress code).
# A wrong_code report names the user whose wrong code reached the limit (000: not a user, e.g. MQTT).
USER_CODES: frozenset[ReportKind] = frozenset(
    {"open", "close", "cancel", "duress", "walk_test", "wrong_code", "close_stay", "open_stay"}
)

_CID_BY_EVENT: dict[tuple[int, int], tuple[ReportKind, bool]] = {}
for _kind, _event in CONTACT_ID.items():
    if _kind in CLOSINGS:
        _CID_BY_EVENT[(3, _event)] = (_kind, False)
    elif _kind in OPENINGS:
        _CID_BY_EVENT[(1, _event)] = (_kind, False)
    else:
        _CID_BY_EVENT[(1, _event)] = (_kind, False)
        if _kind not in EVENT_ONLY:
            _CID_BY_EVENT[(3, _event)] = (_kind, True)
_SIA_BY_CODE: dict[str, tuple[ReportKind, bool]] = {}
for _kind, (_new, _restore) in SIA_CODES.items():
    _SIA_BY_CODE.setdefault(_new, (_kind, False))  # OP reads back as a plain opening
    if _restore is not None:
        _SIA_BY_CODE[_restore] = (_kind, True)


def _cid_qualifier(kind: ReportKind, restore: bool) -> int:
    if kind in CLOSINGS:
        return 3
    if kind in EVENT_ONLY:
        return 1
    return 3 if restore else 1


def _address(kind: ReportKind, zone_number: int | None, user_number: int | None) -> int:
    number = user_number if kind in USER_CODES else zone_number
    if number is None:
        return 0
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 999:
        raise DC09EncodeError(f"zone/user number must be 0-999, got {number!r}")
    return number


def _check_kind(kind: str) -> ReportKind:
    if kind not in CONTACT_ID:
        raise DC09EncodeError(f"unknown report code {kind!r}; expected one of {', '.join(REPORT_KINDS)}")
    return kind


def contact_id_block(
    account: str,
    kind: ReportKind,
    *,
    restore: bool = False,
    zone_number: int | None = None,
    user_number: int | None = None,
    partition: int = 1,
) -> str:
    """The data of an ``ADM-CID`` message: ``#acct|QEEE GG ZZZ``."""
    kind = _check_kind(kind)
    if not 0 <= partition <= 99:
        raise DC09EncodeError(f"partition must be 0-99, got {partition}")
    qualifier = _cid_qualifier(kind, restore)
    address = _address(kind, zone_number, user_number)
    return f"#{_account(account)}|{qualifier}{CONTACT_ID[kind]:03d} {partition:02d} {address:03d}"


def sia_block(
    account: str,
    kind: ReportKind,
    *,
    restore: bool = False,
    zone_number: int | None = None,
    user_number: int | None = None,
    partition: int = 1,
) -> str:
    """The data of a ``SIA-DCS`` message: ``#acct|Nri<area>/<code><zzz>``."""
    kind = _check_kind(kind)
    if not 0 <= partition <= 999:
        raise DC09EncodeError(f"area must be 0-999, got {partition}")
    new, restored = SIA_CODES[kind]
    code = restored if restore and restored is not None and kind not in EVENT_ONLY else new
    address = _address(kind, zone_number, user_number)
    return f"#{_account(account)}|Nri{partition}/{code}{address:03d}"


def report_block(
    fmt: ReportFormat,
    account: str,
    kind: ReportKind,
    *,
    restore: bool = False,
    zone_number: int | None = None,
    user_number: int | None = None,
    partition: int = 1,
) -> tuple[MessageId, str]:
    """The message ID and data for one report in the configured format."""
    if fmt not in ("cid", "sia"):
        raise DC09EncodeError(f"format must be 'cid' or 'sia', got {fmt!r}")
    block = contact_id_block if fmt == "cid" else sia_block
    data = block(account, kind, restore=restore, zone_number=zone_number, user_number=user_number, partition=partition)
    return ("ADM-CID" if fmt == "cid" else "SIA-DCS"), data


@dataclass(frozen=True, slots=True)
class DecodedReport:
    """A report read back from a frame (the inverse of ``report_block``)."""

    kind: ReportKind
    restore: bool
    number: int  # zone number, or user number for USER_CODES; 0 when none
    partition: int


_CID_DATA = re.compile(r"#(?P<acct>[0-9A-F]{3,16})\|(?P<q>[0-9])(?P<eee>[0-9]{3}) (?P<gg>[0-9]{2}) (?P<zzz>[0-9]{3})")
_SIA_DATA = re.compile(r"#(?P<acct>[0-9A-F]{3,16})\|Nri(?P<ri>[0-9]{1,3})/(?P<code>[A-Z]{2})(?P<zzz>[0-9]{3})")


def decode_report(frame: Frame) -> DecodedReport:
    """Read a casahub report back from a decoded ``ADM-CID`` / ``SIA-DCS`` frame."""
    if frame.id == "ADM-CID":
        m = _CID_DATA.fullmatch(frame.data)
        if m is None:
            raise DC09DecodeError(f"not a Contact ID block: {frame.data!r}")
        found = _CID_BY_EVENT.get((int(m["q"]), int(m["eee"])))
        if found is None:
            raise DC09DecodeError(f"Contact ID event {m['q']}{m['eee']} is not one casahub sends")
        return DecodedReport(found[0], found[1], int(m["zzz"]), int(m["gg"]))
    if frame.id == "SIA-DCS":
        m = _SIA_DATA.fullmatch(frame.data)
        if m is None:
            raise DC09DecodeError(f"not a SIA DCS block casahub sends: {frame.data!r}")
        found = _SIA_BY_CODE.get(m["code"])
        if found is None:
            raise DC09DecodeError(f"SIA code {m['code']} is not one casahub sends")
        return DecodedReport(found[0], found[1], int(m["zzz"]), int(m["ri"]))
    raise DC09DecodeError(f"a {frame.id} frame carries no report")


# --------------------------------------------------------------------------- frame primitives


def crc16(data: bytes) -> int:
    """CRC-16/ARC: reflected polynomial 0xA001, initial value 0, no final xor."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def length_field(body: bytes) -> str:
    """The ``0LLL`` field: the length of the CRC'd span, "0" + 3 upper-case hex digits."""
    if len(body) > 0xFFF:
        raise DC09EncodeError(f"a DC-09 frame body is at most 4095 bytes, this one is {len(body)}")
    return f"0{len(body):03X}"


def format_timestamp(when: datetime | float) -> str:
    """``_HH:MM:SS,MM-DD-YYYY`` in UTC (a naive datetime is taken as UTC)."""
    if isinstance(when, datetime):
        moment = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("_%H:%M:%S,%m-%d-%Y")


def random_pad(n: int) -> str:
    """``n`` random pad characters (letters and digits: never ``[``, ``]`` or ``|``)."""
    return "".join(secrets.choice(_PAD_ALPHABET) for _ in range(n))


_HEX_FIELD = re.compile(r"[0-9A-Fa-f]{1,6}")
_ACCOUNT = re.compile(r"[0-9A-Fa-f]{3,16}")


def _account(account: str) -> str:
    if not _ACCOUNT.fullmatch(account):
        raise DC09EncodeError(f"account must be 3-16 hex digits, got {account!r}")
    # Upper case: receivers look accounts up as written and pysiaalarm stores them upper-cased.
    return account.upper()


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) not in AES_KEY_LENGTHS:
        raise ValueError(f"a DC-09 AES key is 16, 24 or 32 bytes, got {len(key)}")
    return Cipher(algorithms.AES(key), modes.CBC(_IV))


def encode_frame(
    message_id: MessageId,
    data: str,
    *,
    sequence: int,
    account: str,
    receiver: str = "0",
    line: str = "0",
    timestamp: datetime | float | None = None,
    key: bytes | None = None,
    pad: PadSource = random_pad,
) -> bytes:
    """One complete frame, LF to CR. ``data`` is what goes between the brackets.

    With ``key`` the frame is encrypted (AES-128/192/256 by the key's length) and
    ``timestamp`` is required; ``pad(n)`` supplies the n pad characters.
    """
    if message_id not in MESSAGE_IDS:
        raise DC09EncodeError(f"message ID must be one of {MESSAGE_IDS}, got {message_id!r}")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 9999:
        raise DC09EncodeError(f"sequence must be 0-9999, got {sequence!r}")
    for name, value in (("receiver", receiver), ("line", line)):
        if not _HEX_FIELD.fullmatch(value):
            raise DC09EncodeError(f"{name} must be 1-6 hex digits, got {value!r}")
    acct = _account(account)
    if not data.isascii() or any(c in "[]" for c in data) or not data.isprintable():
        raise DC09EncodeError(f"data must be printable ASCII without brackets, got {data!r}")
    stamp = "" if timestamp is None else format_timestamp(timestamp)
    head = f"{sequence:04d}R{receiver.upper()}L{line.upper()}#{acct}["
    if key is None:
        body = f'"{message_id}"{head}{data}]{stamp}'
    else:
        if timestamp is None:
            raise DC09EncodeError("an encrypted DC-09 message must carry a timestamp")
        tail = f"|{data}]{stamp}"
        n = 16 - len(tail) % 16  # 1..16: always some pad, like most panels
        filler = pad(n)
        if len(filler) != n or not filler.isascii() or _FORBIDDEN_PAD.intersection(filler):
            raise DC09EncodeError(f"pad source must return {n} ASCII characters other than []|, got {filler!r}")
        encryptor = _cipher(key).encryptor()
        secret = encryptor.update((filler + tail).encode("ascii")) + encryptor.finalize()
        body = f'"*{message_id}"{head}{secret.hex().upper()}'
    raw = body.encode("ascii")
    return f"\n{crc16(raw):04X}{length_field(raw)}".encode("ascii") + raw + b"\r"


def encode_report(
    fmt: ReportFormat,
    kind: ReportKind,
    *,
    restore: bool = False,
    zone_number: int | None = None,
    user_number: int | None = None,
    sequence: int,
    account: str,
    receiver: str = "0",
    line: str = "0",
    timestamp: datetime | float | None = None,
    key: bytes | None = None,
    pad: PadSource = random_pad,
    partition: int = 1,
) -> bytes:
    """A report frame: ``ADM-CID`` for ``fmt="cid"``, ``SIA-DCS`` for ``fmt="sia"``."""
    message_id, data = report_block(
        fmt, account, kind, restore=restore, zone_number=zone_number, user_number=user_number, partition=partition
    )
    return encode_frame(
        message_id,
        data,
        sequence=sequence,
        account=account,
        receiver=receiver,
        line=line,
        timestamp=timestamp,
        key=key,
        pad=pad,
    )


def encode_null(
    *,
    sequence: int,
    account: str,
    receiver: str = "0",
    line: str = "0",
    timestamp: datetime | float | None = None,
    key: bytes | None = None,
    pad: PadSource = random_pad,
) -> bytes:
    """The ``NULL`` link-supervision poll (empty data block)."""
    return encode_frame(
        "NULL",
        "",
        sequence=sequence,
        account=account,
        receiver=receiver,
        line=line,
        timestamp=timestamp,
        key=key,
        pad=pad,
    )


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: a message (SIA-DCS, ADM-CID, NULL) or a reply (ACK, NAK, DUH)."""

    id: str
    encrypted: bool
    sequence: int
    receiver: str | None
    line: str | None
    account: str | None
    data: str  # between the brackets, without the pad of an encrypted block
    extended: tuple[str, ...] = ()  # extended data blocks "[...]" after the data, without brackets
    timestamp: datetime | None = None  # UTC


_FRAME_HEAD = re.compile(rb"[0-9A-Fa-f]{4}")
_BODY = re.compile(
    r'"(?P<star>\*)?(?P<id>[A-Z][A-Z0-9-]{1,15})"(?P<seq>[0-9]{4})(?P<fields>[^\[\]"]*)\[(?P<rest>.*)', re.S
)
# R, L, #account and the "A0"-style account of a NAK, in that order (DC-09) or with L before
# R (pysiaalarm's own NAK to a malformed message). Non-greedy values: "L7896A0" is L=7896, A0.
_FIELDS_RL = re.compile(
    r"(?:R(?P<r>[0-9A-Fa-f]{1,6}?))?(?:L(?P<l>[0-9A-Fa-f]{1,6}?))?"
    r"(?:#(?P<acct>[0-9A-Fa-f]{3,16}))?(?:A[0-9A-Fa-f]{0,16}?)?"
)
_FIELDS_LR = re.compile(
    r"L(?P<l>[0-9A-Fa-f]{1,6}?)R(?P<r>[0-9A-Fa-f]{1,6}?)(?:#(?P<acct>[0-9A-Fa-f]{3,16}))?(?:A[0-9A-Fa-f]{0,16}?)?"
)
_PLAIN_REST = re.compile(r"(?P<data>[^\[\]]*)\](?P<x>(?:\[[^\[\]]*\])*)(?P<ts>_.*)?", re.S)
# The decrypted block: pad (anything but []|), then "|" unless the pad runs up to "]".
_SECRET_REST = re.compile(r"[^\[\]|]*(?:\|(?P<data>[^\[\]]*))?\](?P<x>(?:\[[^\[\]]*\])*)(?P<ts>_.*)?", re.S)
_SECRET_TAIL = re.compile(r".*\](?P<ts>_[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{2}-[0-9]{2}-[0-9]{4})", re.S)
_HEX_BLOCK = re.compile(r"(?:[0-9A-Fa-f]{32})+")
_TIMESTAMP = re.compile(r"_([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{2})-([0-9]{2})-([0-9]{4})")


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _parse_timestamp(text: str) -> datetime:
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        raise DC09DecodeError(f"bad timestamp {text[:40]!r}: expected _HH:MM:SS,MM-DD-YYYY")
    hh, mi, ss, mo, dd, yyyy = (int(g) for g in m.groups())
    try:
        return datetime(yyyy, mo, dd, hh, mi, ss, tzinfo=UTC)
    except ValueError as exc:
        raise DC09DecodeError(f"bad timestamp {text!r}: {exc}") from None


def decode_frame(raw: bytes, *, key: bytes | None = None) -> Frame:
    """Decode one frame (LF ... CR), checking CRC, length, syntax and, with ``key``, decrypting.

    Raises only ``DC09DecodeError`` for bad input (and ``ValueError`` for a key of a wrong length).
    """
    if key is not None:
        _cipher(key)  # a programming error, not bad input: fail loudly before parsing
    if not isinstance(raw, bytes | bytearray):
        raise DC09DecodeError(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if raw.endswith(b"\r\n"):  # some receivers end replies with CR LF
        raw = raw[:-1]
    if len(raw) < 10 or raw[:1] != b"\n" or raw[-1:] != b"\r":
        raise DC09DecodeError(f"not a DC-09 frame (LF ... CR): {raw[:60]!r}")
    inner = raw[1:-1]
    crc_field, len_field, body = inner[:4], inner[4:8], inner[8:]
    if not _FRAME_HEAD.fullmatch(crc_field) or not _FRAME_HEAD.fullmatch(len_field):
        raise DC09DecodeError(f"bad CRC or length field in {raw[:60]!r}")
    if int(len_field, 16) != len(body):
        raise DC09DecodeError(f"length field says {int(len_field, 16)} bytes, the frame has {len(body)}")
    if int(crc_field, 16) != crc16(body):
        raise DC09DecodeError(f"CRC mismatch: frame says {crc_field.decode()}, computed {crc16(body):04X}")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise DC09DecodeError("frame body is not ASCII") from None
    m = _BODY.fullmatch(text)
    if m is None:
        raise DC09DecodeError(f'not "ID"seq...[...]: {text[:60]!r}')
    fields = _FIELDS_RL.fullmatch(m["fields"]) or _FIELDS_LR.fullmatch(m["fields"])
    if fields is None:
        raise DC09DecodeError(f"bad receiver/line/account fields {m['fields'][:40]!r}")
    encrypted = m["star"] is not None
    rest = m["rest"]
    if encrypted:
        if key is None:
            raise DC09DecodeError(f'"*{m["id"]}" is encrypted and no key is configured')
        if not _HEX_BLOCK.fullmatch(rest):
            raise DC09DecodeError(f"encrypted block is not whole AES blocks of hex: {rest[:40]!r}")
        decryptor = _cipher(key).decryptor()
        plain = (decryptor.update(bytes.fromhex(rest)) + decryptor.finalize()).decode("latin-1")
        content = _SECRET_REST.fullmatch(plain)
        if content is None or not _printable(content["data"] or ""):
            # A pad of arbitrary bytes (some receivers' *ACK) may hold "|" or "]": then only
            # "...]_timestamp" at the end says the key was right, and the data is empty.
            tail = _SECRET_TAIL.fullmatch(plain)
            if tail is None:
                raise DC09DecodeError("encrypted block does not decrypt to pad|data]timestamp: wrong key?")
            data, extra, stamp_text = "", "", tail["ts"]
        else:
            data, extra, stamp_text = content["data"] or "", content["x"] or "", content["ts"] or ""
    else:
        content = _PLAIN_REST.fullmatch(rest)
        if content is None:
            raise DC09DecodeError(f"bad data block {rest[:60]!r}")
        data, extra, stamp_text = content["data"], content["x"] or "", content["ts"] or ""
    if not _printable(data) or not _printable(extra):
        raise DC09DecodeError(f"data block is not printable ASCII: {data[:40]!r}")
    extended = tuple(x for x in extra[1:-1].split("][") if x) if extra else ()
    stamp = _parse_timestamp(stamp_text) if stamp_text else None
    account = fields["acct"].upper() if fields["acct"] else None
    return Frame(
        id=m["id"],
        encrypted=encrypted,
        sequence=int(m["seq"]),
        receiver=fields["r"],
        line=fields["l"],
        account=account,
        data=data,
        extended=extended,
        timestamp=stamp,
    )


def decode_reply(raw: bytes, *, key: bytes | None = None) -> Frame:
    """Decode a receiver's answer: ``ACK`` / ``*ACK``, ``NAK`` (with its clock) or ``DUH``."""
    frame = decode_frame(raw, key=key)
    if frame.id not in REPLY_IDS:
        raise DC09DecodeError(f'expected "ACK", "NAK" or "DUH", got "{frame.id}"')
    return frame
