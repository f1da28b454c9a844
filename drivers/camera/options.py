"""The camera driver's options: the `[[drivers]] type = "camera"` table as a Struct (drivers/options.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from drivers.options import Name, NonEmpty, OptionError

__all__ = ["TYPE", "URL_KEYS", "CameraOptions"]

TYPE = "camera"  # CameraDriver.type, and the only `type` key its options may carry
URL_KEYS = ("mjpeg_url", "snapshot_url", "rtsp_url")
_URLS_IN_WORDS = "mjpeg_url, snapshot_url or rtsp_url"

HttpUrl = Annotated[
    str, msgspec.Meta(pattern=r"(?i)^https?://[^/\s]+", description="an http or https URL (http://...)")
]
RtspUrl = Annotated[
    str, msgspec.Meta(pattern=r"(?i)^rtsps?://[^/\s]+", description="an rtsp or rtsps URL (rtsp://host/path)")
]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
Rectangles = Annotated[
    list[tuple[Fraction, Fraction, Fraction, Fraction]],
    msgspec.Meta(description="a list of [x, y, width, height] rectangles, as fractions of the picture (0 to 1)"),
]


class CameraOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Where the pictures come from (exactly one URL), the credentials, and motion detection."""

    name: Name
    mjpeg_url: HttpUrl | None = None
    snapshot_url: HttpUrl | None = None
    rtsp_url: RtspUrl | None = None
    username: NonEmpty | None = None
    password: NonEmpty | None = None
    motion: Literal["hub", "camera", "off"] = "hub"
    sensitivity: Annotated[
        float, msgspec.Meta(ge=0.0001, le=1, description="a fraction of the picture between 0.0001 and 1")
    ] = 0.02
    mask: Rectangles = []
    fps: Annotated[float, msgspec.Meta(ge=0.1, le=30, description="frames per second between 0.1 and 30")] = 5.0
    room: Name | None = None
    offline_after: Annotated[float, msgspec.Meta(ge=1, le=3600, description="a number of seconds from 1 to 3600")] = (
        30.0
    )
    retention_days: Annotated[float, msgspec.Meta(ge=0, le=3650, description="a number of days between 0 and 3650")] = (
        30.0
    )

    def __post_init__(self) -> None:
        given = [key for key in URL_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            got = f" (got {', '.join(given)})" if given else ""
            raise OptionError(
                given[1] if given else "mjpeg_url",
                f"give exactly one of {', '.join(URL_KEYS[:2])} or {URL_KEYS[2]}{got}",
            )

    @property
    def url_key(self) -> str:
        """Which of mjpeg_url, snapshot_url and rtsp_url is given."""
        return next(key for key in URL_KEYS if getattr(self, key) is not None)

    def __repr__(self) -> str:
        # The password, and credentials written into a URL, stay out of logs.
        return f"CameraOptions(name={self.name!r}, source={self.url_key}, motion={self.motion!r})"
