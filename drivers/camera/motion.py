"""Motion detection by frame differencing on small greyscale frames, cheap enough for a Raspberry Pi.

Theory of operation. Each JPEG is decoded in Pillow's draft mode straight to greyscale at
about 160x120 (the JPEG decoder skips the DCT detail it would throw away: a 1080p frame
costs a few milliseconds, not a full decode) and slightly blurred, so sensor noise and
compression artefacts do not count as change. A pixel has changed when it differs from the
previous frame by more than `threshold` (0-255); masked rectangles (a road, a tree, a TV)
never count. A frame "moves" when the changed fraction of the picture exceeds
`sensitivity`. The detector reports motion after `persistence` moving frames in a row and
the end of it after `release` still frames in a row, so one noisy frame neither raises nor
ends an alarm.

`observe(jpeg)` returns True / False when the state changes, None otherwise; a frame that
cannot be decoded is ignored (it resets nothing). Everything here is synchronous: the
caller runs it in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, UnidentifiedImageError

__all__ = ["SIZE", "MotionDetector", "Rect", "decode_small"]

SIZE = (160, 120)
Rect = tuple[float, float, float, float]  # x, y, width, height as fractions of the picture (0..1)


def decode_small(jpeg: bytes, size: tuple[int, int] = SIZE) -> Image.Image | None:
    """The frame as greyscale at `size`, decoded cheaply (None: not a decodable image)."""
    try:
        image = Image.open(io.BytesIO(jpeg))
        image.draft("L", size)
        small = image.convert("L")
        if small.size != size:
            small = small.resize(size, Image.Resampling.BILINEAR)
        return small.filter(ImageFilter.BoxBlur(1))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


@dataclass
class MotionDetector:
    sensitivity: float = 0.02  # fraction of the unmasked picture that must change
    threshold: int = 25  # grey levels a pixel must change by
    masks: Sequence[Rect] = ()
    persistence: int = 2  # moving frames in a row before motion is reported
    release: int = 4  # still frames in a row before the end of motion is reported

    def __post_init__(self) -> None:
        self.active = False
        self.last_fraction = 0.0
        self.compared = 0  # frames compared with their predecessor
        self._previous: Image.Image | None = None
        self._moving = 0
        self._still = 0
        self._mask = self._build_mask()
        self._lut = [0] * (self.threshold + 1) + [255] * (255 - self.threshold)

    def _build_mask(self) -> Image.Image | None:
        """255 where pixels count, 0 in masked rectangles (None: no masks)."""
        if not self.masks:
            return None
        width, height = SIZE
        mask = Image.new("L", SIZE, 255)
        draw = ImageDraw.Draw(mask)
        for x, y, w, h in self.masks:
            draw.rectangle(
                (int(x * width), int(y * height), int((x + w) * width) - 1, int((y + h) * height) - 1), fill=0
            )
        self._counted = max(1, mask.histogram()[255])
        return mask

    def changed_fraction(self, previous: Image.Image, current: Image.Image) -> float:
        changed = ImageChops.difference(previous, current).point(self._lut)
        if self._mask is not None:
            changed = ImageChops.multiply(changed, self._mask)
            return changed.histogram()[255] / self._counted
        return changed.histogram()[255] / (SIZE[0] * SIZE[1])

    def observe(self, jpeg: bytes) -> bool | None:
        current = decode_small(jpeg)
        if current is None:
            return None
        previous, self._previous = self._previous, current
        if previous is None:
            return None
        self.last_fraction = self.changed_fraction(previous, current)
        self.compared += 1
        if self.last_fraction > self.sensitivity:
            self._moving += 1
            self._still = 0
        else:
            self._still += 1
            self._moving = 0
        if not self.active and self._moving >= self.persistence:
            self.active = True
            return True
        if self.active and self._still >= self.release:
            self.active = False
            return False
        return None
