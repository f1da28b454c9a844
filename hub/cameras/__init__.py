"""Photo verification: the frames of the seconds around an intrusion (`snapshots`), sent to
the household and the centre (`delivery`); the camera list the web API shows (`catalog`),
the owner's privacy choices (`settings`) and live-view tokens (`tokens`). The frames come
from the camera driver's feed (drivers/camera/)."""
