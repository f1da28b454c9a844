"""The camera's pure parts: MJPEG parsing cases cameras really produce, motion detection
(threshold, masks, persistence), the driver's options and config check, snapshot files."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from drivers.base import DriverContext, DriverError
from drivers.camera.driver import CameraDriver, camera_address
from drivers.camera.mjpeg import MjpegParser, boundary_from_content_type
from drivers.camera.motion import MotionDetector
from drivers.camera.source import redact, rtsp_url
from hub.cameras.snapshots import list_snapshots, snapshot_path, sweep
from hub.config import ConfigError, load_config


def jpeg(
    draw_box: tuple[int, int, int, int] | None = None, colour: int = 200, size: tuple[int, int] = (320, 240)
) -> bytes:
    image = Image.new("RGB", size, (20, 20, 20))
    if draw_box is not None:
        ImageDraw.Draw(image).rectangle(draw_box, fill=(colour, colour, colour))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


# --------------------------------------------------------------------------- MJPEG


def test_boundary_from_the_header() -> None:
    assert boundary_from_content_type("multipart/x-mixed-replace; boundary=frame") == b"frame"
    assert boundary_from_content_type('multipart/x-mixed-replace;boundary="--myboundary"') == b"myboundary"
    assert boundary_from_content_type("application/octet-stream") is None
    assert boundary_from_content_type(None) is None


def test_ffmpeg_stream_without_a_content_type_boundary() -> None:
    frame = jpeg((10, 10, 50, 50))
    part = b"--ffmpeg\r\nContent-type: image/jpeg\r\nContent-length: %d\r\n\r\n" % len(frame) + frame + b"\r\n"
    parser = MjpegParser()
    data = part * 3
    frames = [f for i in range(0, len(data), 7) for f in parser.feed(data[i : i + 7])]
    assert frames == [frame] * 3 and parser.boundary == b"ffmpeg"


def test_without_length_an_exif_thumbnail_does_not_cut_the_frame() -> None:
    thumbnail = jpeg((1, 1, 3, 3), size=(16, 16))
    outer = jpeg((10, 10, 50, 50))
    # An APP1 segment holding a whole JPEG (as EXIF thumbnails are) right after SOI.
    frame = outer[:2] + b"\xff\xe1" + (len(thumbnail) + 2).to_bytes(2, "big") + thumbnail + outer[2:]
    parser = MjpegParser(b"cam")
    frames = parser.feed(b"--cam\r\nContent-Type: image/jpeg\r\n\r\n" + frame + b"\r\n--cam\r\n")
    assert frames == [frame]


def test_oversized_and_garbage_parts_are_skipped() -> None:
    good = jpeg()
    parser = MjpegParser(b"b", max_frame=len(good) + 10)
    data = (
        b"--b\r\nContent-Length: 999999\r\n\r\n" + b"\x00" * 999999 + b"\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<html>oops</html>\r\n"
        b"--b\r\nContent-Length: " + str(len(good)).encode() + b"\r\n\r\n" + good + b"\r\n"
    )
    assert parser.feed(data) == [good]
    assert parser.dropped == 2


# --------------------------------------------------------------------------- motion


def test_motion_needs_persistence_and_ends_after_stillness() -> None:
    detector = MotionDetector(sensitivity=0.02, persistence=2, release=3)
    still = jpeg()
    assert detector.observe(still) is None  # first frame: nothing to compare
    assert detector.observe(jpeg((100, 60, 200, 180))) is None  # one moving frame: maybe noise
    assert detector.observe(jpeg((120, 60, 220, 180))) is True
    assert detector.active
    assert detector.observe(jpeg((120, 60, 220, 180))) is None
    assert detector.observe(jpeg((120, 60, 220, 180))) is None
    assert detector.observe(jpeg((120, 60, 220, 180))) is False


def test_small_changes_stay_under_the_sensitivity() -> None:
    detector = MotionDetector(sensitivity=0.05)
    for x in range(6):
        assert detector.observe(jpeg((x * 2, 0, x * 2 + 8, 8))) is None  # a few pixels: noise
    assert not detector.active and detector.last_fraction < 0.05


def test_masked_rectangles_never_count() -> None:
    # The change happens in the left half only, which is masked.
    detector = MotionDetector(sensitivity=0.01, masks=[(0.0, 0.0, 0.5, 1.0)])
    for x in (10, 60, 20, 70):
        assert detector.observe(jpeg((x, 20, x + 60, 200))) is None
    assert detector.last_fraction == 0 and not detector.active
    unmasked = MotionDetector(sensitivity=0.01)
    results = [unmasked.observe(jpeg((x, 20, x + 60, 200))) for x in (10, 60, 20, 70)]
    assert True in results


def test_undecodable_frames_are_ignored() -> None:
    detector = MotionDetector()
    assert detector.observe(b"\xff\xd8garbage\xff\xd9") is None
    assert detector.compared == 0


# --------------------------------------------------------------------------- the driver's options


def driver(**options: object) -> CameraDriver:
    return CameraDriver({"name": "Ingresso Nord", **options}, DriverContext())


def test_driver_declares_one_camera_device() -> None:
    camera = driver(mjpeg_url="http://192.168.1.5/video", room="Ingresso")
    (device,) = camera.fixed_devices()
    assert device.address == camera_address("Ingresso Nord") == "ingresso-nord"
    assert device.kinds == ("camera",) and device.room == "Ingresso" and device.model == "MJPEG camera"
    assert camera.expected_interval("ingresso-nord") == camera.feed.heartbeat
    assert camera.expected_interval("other") is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of"),
        ({"mjpeg_url": "http://a/", "rtsp_url": "rtsp://b/"}, "exactly one of"),
        ({"rtsp_url": "http://cam/"}, "rtsp or rtsps URL"),
        ({"mjpeg_url": "ftp://cam/"}, "http or https URL"),
        ({"mjpeg_url": "http://a/", "motion": "always"}, "'motion'"),
        ({"mjpeg_url": "http://a/", "sensitivity": 2}, "'sensitivity'"),
        ({"mjpeg_url": "http://a/", "mask": [[0, 0, 2, 1]]}, "mask[0]"),
        ({"mjpeg_url": "http://a/", "colour": True}, "unknown option 'colour'"),
    ],
)
def test_driver_refuses_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(DriverError, match=message.replace("[", r"\[").replace("]", r"\]")):
        driver(**options)


def test_credentials_never_show_in_urls_we_print() -> None:
    url = rtsp_url("rtsp://192.168.1.5:554/stream1", "admin", "p@ss:w/rd")
    assert url == "rtsp://admin:p%40ss%3Aw%2Frd@192.168.1.5:554/stream1"
    assert redact(f"ffmpeg: {url}: 401 Unauthorized") == "ffmpeg: rtsp://***@192.168.1.5:554/stream1: 401 Unauthorized"


def load(tmp_path: Path, body: str) -> ConfigError | None:
    path = tmp_path / "casahub.toml"
    path.write_text('[[drivers]]\ntype = "camera"\nname = "Cam"\n' + body)
    try:
        load_config(path)
    except ConfigError as exc:
        return exc
    return None


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ('mjpeg_url = "http://a/"\nsnapshot_url = "http://b/"\n', "drivers[0].snapshot_url", "exactly one"),
        ('rtsp_url = "http://a/"\n', "drivers[0].rtsp_url", "rtsp://"),
        ('mjpeg_url = "http://a/"\nsensitivity = 0\n', "drivers[0].sensitivity", "fraction"),
        ('mjpeg_url = "http://a/"\nfps = "5"\n', "drivers[0].fps", "frames per second"),
        ('mjpeg_url = "http://a/"\nmask = [[0, 0, 1]]\n', "drivers[0].mask", "rectangles"),
        ('mjpeg_url = "http://a/"\nretention_days = -1\n', "drivers[0].retention_days", "days"),
    ],
)
def test_config_check_names_the_bad_camera_key(tmp_path: Path, body: str, key: str, reason: str) -> None:
    error = load(tmp_path, body)
    assert error is not None
    assert any(issue.key == key and reason in issue.reason for issue in error.issues), error.issues


def test_two_cameras_need_two_names(tmp_path: Path) -> None:
    error = load(
        tmp_path, 'mjpeg_url = "http://a/"\n[[drivers]]\ntype = "camera"\nname = "cam"\nmjpeg_url = "http://b/"\n'
    )
    assert error is not None and [i.key for i in error.issues] == ["drivers[1].name"]


def test_config_accepts_a_full_camera(tmp_path: Path) -> None:
    body = (
        'rtsp_url = "rtsp://192.168.1.5/stream"\nusername = "admin"\npassword = "x"\nmotion = "hub"\n'
        'sensitivity = 0.03\nmask = [[0, 0, 0.5, 0.25]]\nfps = 2\nroom = "Ingresso"\noffline_after = 20\n'
        "retention_days = 7\n"
    )
    assert load(tmp_path, body) is None


# --------------------------------------------------------------------------- snapshot files


def test_snapshot_names_cannot_leave_the_incident_folder(tmp_path: Path) -> None:
    folder = tmp_path / "snapshots" / "inc-1"
    folder.mkdir(parents=True)
    (folder / "camera-ingresso-1700000000123.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    (tmp_path / "casahub.db").write_bytes(b"secret")
    [shot] = list_snapshots(tmp_path, "inc-1")
    assert (shot.camera, shot.at) == ("camera-ingresso", 1700000000.123)
    assert snapshot_path(tmp_path, "inc-1", shot.name) == folder / shot.name
    for incident, name in [
        ("inc-1", "../../casahub.db"),
        ("..", "casahub.db"),
        ("inc-1/..", "x.jpg"),
        ("inc-1", "a.jpg"),
    ]:
        assert snapshot_path(tmp_path, incident, name) is None
    assert list_snapshots(tmp_path, "../snapshots") == []


def test_sweep_deletes_only_incidents_past_the_retention(tmp_path: Path) -> None:
    now = time.time()
    for name, age_days in (("old", 31), ("new", 2)):
        folder = tmp_path / "snapshots" / name
        folder.mkdir(parents=True)
        shot = folder / "cam-1700000000000.jpg"
        shot.write_bytes(b"\xff\xd8\xff\xd9")
        os.utime(shot, (now - age_days * 86400, now - age_days * 86400))
    assert sweep(tmp_path, 30, now) == 1
    assert not (tmp_path / "snapshots" / "old").exists() and (tmp_path / "snapshots" / "new").exists()


def test_the_shipped_camera_example_loads_and_builds_its_drivers() -> None:
    loaded = load_config(Path(__file__).parents[2] / "config/examples/camera.toml", env={})
    assert loaded.warnings == []
    cameras = [CameraDriver(d.options, DriverContext()) for d in loaded.config.drivers if d.type == "camera"]
    assert [(c.address, c.motion) for c in cameras] == [("ingresso", "hub"), ("giardino", "camera")]
