"""Which cameras the hub has: every running driver that offers `cameras()` (the camera driver, the
demo kit), each feed named by the id of its paired device, so that a camera, its device and
its zone share one id in the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.capabilities import OffersCameras
from hub.cameras.snapshots import CameraRef

__all__ = ["camera_refs"]


def camera_refs(hub: Any, drivers: Mapping[str, Any]) -> list[CameraRef]:
    refs: list[CameraRef] = []
    for key, driver in list(drivers.items()):
        if not isinstance(driver, OffersCameras):
            continue
        driver_type = key.split("#")[0]
        for feed in driver.cameras():
            device = hub.device_by_address(driver_type, feed.address)
            if device is not None:  # not paired (yet): not shown, not recorded
                refs.append(CameraRef(id=device.id, feed=feed, driver=driver))
    return refs
