"""The IP camera driver and everything that brings its pictures in: frame sources (MJPEG,
snapshot polling, RTSP through ffmpeg, the demo generator: `source`), the MJPEG parser
(`mjpeg`), one shared upstream per camera (`feed`), motion detection (`motion`) and the
driver itself (`driver`). Photo verification (what is kept after an intrusion, and sent)
is the shell's: hub/cameras/.

Importing this package imports none of its modules: the demo's simulated camera uses
`feed` and `source` without paying for Pillow (`motion`).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Installs made before the driver became a package (`pip install -e .` not re-run since)
    # still name the entry point `drivers.camera:CameraDriver`; pyproject now says
    # `drivers.camera.driver:CameraDriver`.
    if name == "CameraDriver":
        from drivers.camera.driver import CameraDriver

        return CameraDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
