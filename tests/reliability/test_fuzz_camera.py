"""Fuzz the MJPEG parser (drivers/camera/mjpeg.py): whatever a camera sends, in whatever chunks,
the parser never raises, never returns anything but a bounded JPEG, never buffers without
bound, and still finds every well-formed frame among garbage.

Targets:
- arbitrary bytes, cut into arbitrary chunks, with and without a known boundary;
- streams of well-formed parts (with and without Content-Length, with and without headers,
  CRLF or bare LF) mixed with garbage parts, over-long parts and noise between parts: every
  well-formed frame comes out, in order, byte for byte;
- the content-type header parser over arbitrary text.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.camera.mjpeg import MAX_HEADERS, MjpegParser, boundary_from_content_type
from tests.reliability.fuzz_helpers import fuzz_settings, report

RANDOM_CASES = 800
STREAM_CASES = 500
HEADER_CASES = 500
MAX_FRAME = 4096


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


def check_frames(parser: MjpegParser, frames: list[bytes]) -> None:
    for frame in frames:
        assert frame.startswith(b"\xff\xd8") and len(frame) <= MAX_FRAME
    # Bounded memory: a frame, its headers and a boundary line at most.
    assert len(parser._buffer) <= MAX_FRAME + MAX_HEADERS + 512


random_cases = 0


@fuzz_settings(RANDOM_CASES)
@given(
    data=st.binary(max_size=3000),
    cuts=st.lists(st.integers(0, 4000), max_size=12),
    boundary=st.sampled_from([None, b"ffmpeg", b"--x", b"a"]),
    prefix=st.sampled_from([b"", b"--ffmpeg\r\n", b"--a\n\n\xff\xd8", b"--ffmpeg\r\nContent-Length: 5\r\n\r\n"]),
)
def test_arbitrary_bytes_never_raise(data: bytes, cuts: list[int], boundary: bytes | None, prefix: bytes) -> None:
    global random_cases
    random_cases += 1
    parser = MjpegParser(boundary, max_frame=MAX_FRAME)
    for piece in chunked(prefix + data, cuts):
        check_frames(parser, parser.feed(piece))


# Bodies without 0xFF except their markers: their end is unambiguous even without a length.
BODIES = st.binary(min_size=0, max_size=300).map(lambda b: b"\xff\xd8" + b.replace(b"\xff", b"\x00") + b"\xff\xd9")


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[bytes], bytes | None]:
    boundary = draw(st.sampled_from([b"ffmpeg", b"myboundary", b"--frame"]))
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    out = bytearray(draw(st.sampled_from([b"", b"preamble garbage\r\n", b"\r\n"])))
    wanted: list[bytes] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["length", "nolength", "noheaders", "garbage", "toobig", "noise"]))
        if kind == "noise":
            out += draw(st.binary(max_size=40)).replace(b"--", b"__")
            continue
        out += b"--" + boundary + newline
        if kind == "garbage":
            junk = draw(st.binary(max_size=80)).replace(b"--", b"__").replace(b"\xff\xd8", b"\x00\x00")
            out += b"Content-Type: text/plain" + newline + newline + junk + newline
            continue
        if kind == "toobig":
            out += b"Content-Length: " + str(MAX_FRAME + 10).encode() + newline + newline
            out += b"\xff\xd8" + b"\x00" * (MAX_FRAME + 6) + b"\xff\xd9" + newline
            continue
        body = draw(BODIES)
        wanted.append(body)
        if kind == "length":
            out += b"Content-Type: image/jpeg" + newline + b"content-length:" + str(len(body)).encode() + newline
            out += newline + body + newline
        elif kind == "nolength":
            out += b"Content-Type: image/jpeg" + newline + newline + body + newline
        else:
            out += newline + body + newline
    known = draw(st.sampled_from([boundary, None]))
    return bytes(out), wanted, known


stream_cases = 0


@fuzz_settings(STREAM_CASES)
@given(stream=streams(), cuts=st.lists(st.integers(0, 20000), max_size=20))
def test_every_well_formed_frame_comes_out(stream: tuple[bytes, list[bytes], bytes | None], cuts: list[int]) -> None:
    global stream_cases
    stream_cases += 1
    data, wanted, boundary = stream
    parser = MjpegParser(boundary, max_frame=MAX_FRAME)
    frames: list[bytes] = []
    for piece in chunked(data, cuts):
        got = parser.feed(piece)
        check_frames(parser, got)
        frames += got
    # The last part may wait for more bytes (no length, nothing after it yet): flush with a boundary.
    if boundary is not None or parser.boundary is not None:
        frames += parser.feed(b"\r\n--" + (parser.boundary or b"") + b"\r\n")
    assert frames == wanted


header_cases = 0


@fuzz_settings(HEADER_CASES)
@given(text=st.one_of(st.text(max_size=80), st.builds(lambda s: f"multipart/x-mixed-replace; boundary={s}", st.text())))
def test_content_type_parser_is_total(text: str) -> None:
    global header_cases
    header_cases += 1
    boundary = boundary_from_content_type(text)
    assert boundary is None or (isinstance(boundary, bytes) and 0 < len(boundary) <= 200)


def test_report(record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]) -> None:
    report("mjpeg parser, arbitrary bytes", random_cases, record_property, capsys)
    report("mjpeg parser, stream of parts", stream_cases, record_property, capsys)
    report("mjpeg content-type", header_cases, record_property, capsys)
