"""A total parser of MJPEG streams (`multipart/x-mixed-replace`): bytes in, whole JPEG frames out.

Theory of operation. A stream is a sequence of parts, each `--BOUNDARY CRLF headers CRLF CRLF
body`. Cameras get this wrong in every possible way, so the parser trusts as little as it can:

- the boundary comes from the Content-Type header when there is one; else (ffmpeg's own
  HTTP server says `application/octet-stream`) it is learnt from the first line that starts
  with `--`;
- a part's body is `Content-Length` bytes when that header is present and sane; else it ends
  at the JPEG end-of-image marker (FFD9) that is followed by nothing yet or by the next
  boundary (an EOI inside an embedded EXIF thumbnail is followed by more image);
- a body that does not start with the JPEG start-of-image marker (FFD8) is dropped;
- nothing grows without bound: headers over `MAX_HEADERS` bytes, or a body over `max_frame`
  bytes, are skipped and the parser looks for the next boundary.

`feed()` never raises on any input (tests/reliability/test_fuzz_camera.py fuzzes it) and
returns the frames completed by the bytes given.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_MAX_FRAME", "MAX_HEADERS", "MjpegParser", "boundary_from_content_type"]

DEFAULT_MAX_FRAME = 4 * 1024 * 1024  # a 4K JPEG at high quality stays well below this
MAX_HEADERS = 8 * 1024
SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
_LENGTH = re.compile(rb"(?im)^content-length[ \t]*:[ \t]*([0-9]{1,10})[ \t]*\r?$")
_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";,\s]{1,200})"?', re.IGNORECASE)
_MARKERS = re.compile(rb"\xff[\xd8\xd9]")
_TOKEN = re.compile(rb"--([!#-'*+\-.0-9A-Z^-z|~]{1,200})\r?\n")


def boundary_from_content_type(content_type: str | None) -> bytes | None:
    """The boundary named by a `multipart/x-mixed-replace; boundary=...` header (None if absent)."""
    if not content_type:
        return None
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    boundary = match.group(1)
    if boundary.startswith("--"):  # some cameras repeat the dashes in the header
        boundary = boundary[2:]
    try:
        return boundary.encode("ascii") or None
    except UnicodeEncodeError:
        return None


class MjpegParser:
    """Feed it the bytes of one MJPEG stream, in any chunking; it returns whole JPEG frames."""

    def __init__(self, boundary: bytes | None = None, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.boundary = boundary
        self.max_frame = max_frame
        self.dropped = 0  # parts skipped: no JPEG, too big, garbled headers
        self._buffer = bytearray()
        self._state = "seek"  # seek -> headers -> body (-> skip) -> seek
        self._length: int | None = None
        self._skip = 0
        self._scanned = 0  # body bytes already searched for markers
        self._depth = 0  # start-of-image markers not closed yet

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while self._step(frames):
            pass
        return frames

    # Each step consumes something or returns False (it needs more bytes).
    def _step(self, frames: list[bytes]) -> bool:
        if self._state == "seek":
            return self._seek()
        if self._state == "headers":
            return self._headers()
        if self._state == "skip":
            take = min(self._skip, len(self._buffer))
            del self._buffer[:take]
            self._skip -= take
            if self._skip == 0:
                self._state = "seek"
                return True
            return False
        return self._body(frames)

    def _seek(self) -> bool:
        buf = self._buffer
        if self.boundary is None:
            match = _TOKEN.search(buf)
            if match is None:
                del buf[: max(0, len(buf) - 256)]  # keep a tail: a boundary line may be cut in two
                return False
            self.boundary = match.group(1)
            del buf[: match.end()]
            self._state = "headers"
            return True
        marker = b"--" + self.boundary
        start = buf.find(marker)
        if start < 0:
            del buf[: max(0, len(buf) - len(marker) - 2)]
            return False
        end = buf.find(b"\n", start + len(marker))
        if end < 0:
            del buf[:start]
            if len(buf) > len(marker) + 256:  # a "boundary line" that never ends is garbage
                del buf[: len(marker)]
                return True
            return False
        del buf[: end + 1]
        self._state = "headers"
        return True

    def _headers(self) -> bool:
        buf = self._buffer
        if buf.startswith(b"\r\n") or buf.startswith(b"\n"):  # a part without headers
            headers_end, body_start = 0, 2 if buf.startswith(b"\r\n") else 1
        else:
            headers_end = buf.find(b"\r\n\r\n")
            body_start = headers_end + 4
            alt = buf.find(b"\n\n")
            if alt >= 0 and (headers_end < 0 or alt < headers_end):
                headers_end, body_start = alt, alt + 2
            if headers_end < 0:
                if len(buf) > MAX_HEADERS:
                    self.dropped += 1
                    del buf[:1]
                    self._state = "seek"
                    return True
                return False
        headers = bytes(buf[:headers_end])
        del buf[:body_start]
        length: int | None = None
        match = _LENGTH.search(headers)
        if match is not None:
            length = int(match.group(1))
        if length is not None and length > self.max_frame:
            self.dropped += 1
            self._skip, self._state = length, "skip"
            return True
        self._length = length
        self._scanned = 0
        self._depth = 0
        self._state = "body"
        return True

    def _body(self, frames: list[bytes]) -> bool:
        buf = self._buffer
        if self._length is not None:
            if len(buf) < self._length:
                return False
            self._emit(frames, bytes(buf[: self._length]))
            del buf[: self._length]
            self._state = "seek"
            return True
        # No length: the image ends at the end-of-image marker that closes its start-of-image.
        # Entropy-coded JPEG data never holds FFD8/FFD9 (FF is stuffed), so counting the
        # markers skips the end of an embedded EXIF thumbnail without guessing.
        assert self.boundary is not None
        if not buf.startswith(SOI[: len(buf)]):
            return self._drop_part()
        end = -1
        for match in _MARKERS.finditer(buf, self._scanned):  # (the iterator pins buf: no resizing inside)
            self._depth += 1 if match.group() == SOI else -1
            if self._depth <= 0:
                end = match.end()
                break
        if end >= 0:
            self._emit(frames, bytes(buf[:end]))
            del buf[:end]
            self._state = "seek"
            return True
        self._scanned = max(self._scanned, len(buf) - 1)
        if buf.find(b"--" + self.boundary) >= 0 or len(buf) > self.max_frame:
            return self._drop_part()  # the next part began (or the limit passed) before the end marker
        return False

    def _drop_part(self) -> bool:
        """Give up on the current part: `seek` skips to the next boundary."""
        self.dropped += 1
        self._state = "seek"
        return True

    def _emit(self, frames: list[bytes], frame: bytes) -> None:
        if frame.startswith(SOI) and len(frame) >= 4:
            frames.append(frame)
        else:
            self.dropped += 1
