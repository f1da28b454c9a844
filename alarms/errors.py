"""The root of every error the domain raises, so a caller can catch the domain's errors
as one (docs/architecture.md: one exception root per package)."""


class AlarmsError(Exception):
    """Base of the errors raised by `alarms` (the engine's bugs, the DC-09 codec's bad frames)."""
