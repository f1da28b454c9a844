"""Which telemetry changes rewrite a device row (SD-card wear): battery and online always,
the signal only when it moved by SIGNAL_DEADBAND or more."""

from __future__ import annotations

from hub.core.runtime import SIGNAL_DEADBAND, _telemetry_moved


def test_first_write_always() -> None:
    assert _telemetry_moved(None, (90.0, -60, 1))


def test_signal_wobble_is_not_rewritten() -> None:
    assert not _telemetry_moved((90.0, -60, 1), (90.0, -60 - (SIGNAL_DEADBAND - 1), 1))
    assert not _telemetry_moved((90.0, -60, 1), (90.0, -60, 1))


def test_signal_that_moved_is_rewritten() -> None:
    assert _telemetry_moved((90.0, -60, 1), (90.0, -60 - SIGNAL_DEADBAND, 1))
    assert _telemetry_moved((90.0, -60, 1), (90.0, -60 + SIGNAL_DEADBAND + 3, 1))


def test_battery_online_and_unknown_signal_always_count() -> None:
    assert _telemetry_moved((90.0, -60, 1), (89.9, -60, 1))
    assert _telemetry_moved((90.0, -60, 1), (90.0, -60, 0))
    assert _telemetry_moved((90.0, None, 1), (90.0, -60, 1))
    assert _telemetry_moved((90.0, -60, 1), (90.0, None, 1))
