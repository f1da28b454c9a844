"""Cameras: frame sources (MJPEG, snapshot polling, RTSP through ffmpeg, the demo generator),
one shared upstream per camera (`feed`), motion detection, and the snapshots of an intrusion."""
