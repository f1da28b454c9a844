"""Camera motion detection: what one frame costs (drivers/camera/motion.py), to size it for a Pi.

For camera-like JPEGs at 320x240, 640x480 and 1920x1080 (drawn with Pillow: a gradient with
a moving box, quality 80): the time of `MotionDetector.observe` per frame (draft-mode
greyscale decode to 160x120, blur, difference, mask), and the MJPEG parser's time per frame
of a 1080p stream fed in 64 KiB chunks. At the hub's motion rate (2 frames per second per
camera) the CPU share is `2 x median`; the target is under 5 % of one core per camera here,
which leaves the same on a Raspberry Pi 4 (roughly 3-4x slower) under 20 %.
"""

from __future__ import annotations

import io
import time

from PIL import Image, ImageDraw

from bench.common import Report, Row, summary_ms
from drivers.camera.mjpeg import MjpegParser
from drivers.camera.motion import MotionDetector

SECTION = "8. camera"
SIZES = ((320, 240), (640, 480), (1920, 1080))
MOTION_FPS = 2.0


def frames(size: tuple[int, int], count: int) -> list[bytes]:
    width, height = size
    out = []
    for n in range(count):
        image = Image.linear_gradient("L").resize(size).convert("RGB")
        x = int((n * 37) % max(1, width - width // 5))
        ImageDraw.Draw(image).rectangle((x, height // 4, x + width // 5, height * 3 // 4), fill=(220, 180, 40))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80)
        out.append(buffer.getvalue())
    return out


def run(report: Report, *, samples: int = 200) -> dict[str, object]:
    results: dict[str, object] = {}
    for size in SIZES:
        pictures = frames(size, 8)
        detector = MotionDetector(masks=[(0.0, 0.0, 0.2, 0.2)])
        timings = []
        for n in range(samples + 5):
            started = time.perf_counter()
            detector.observe(pictures[n % len(pictures)])
            if n >= 5:  # warm-up
                timings.append(time.perf_counter() - started)
        stats = summary_ms(timings)
        share = MOTION_FPS * stats["median_ms"] / 1000
        label = f"motion, one {size[0]}x{size[1]} frame (observe)"
        report.add(
            Row(SECTION, label, stats, target="< 5 % CPU at 2 fps", met=share < 0.05),
        )
        results[f"motion_{size[0]}x{size[1]}"] = {**stats, "cpu_share_at_2fps": round(share, 4)}
    big = frames((1920, 1080), 4)
    stream = b"".join(
        b"--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(f) + f + b"\r\n" for f in big
    ) * max(1, samples // 20)
    parser = MjpegParser(b"b")
    started = time.perf_counter()
    got = sum(len(parser.feed(stream[i : i + 65536])) for i in range(0, len(stream), 65536))
    per_frame = (time.perf_counter() - started) / max(1, got)
    report.add(Row(SECTION, "MJPEG parser, per 1080p frame (64 KiB chunks)", summary_ms([per_frame])))
    results["mjpeg_parser_per_frame_ms"] = round(per_frame * 1000, 4)
    return results


if __name__ == "__main__":
    report = Report()
    run(report)
    print(report.render())
