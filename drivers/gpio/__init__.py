"""Wired dry contacts (door contacts, PIRs with relay outputs, panic buttons, leak probes) on GPIO
lines, and wired outputs (a siren or bell, a water valve's relay, a relay board) on others.

Theory of operation. Each configured line is one device (address `line<N>@<chip>`, the
kind from the config) whose zone is active or not according to the line's level. The
levels come from an `EdgeSource`: `LibgpiodEdgeSource` requests the lines through
libgpiod v2 as inputs with edge detection on both edges, the configured bias and the
kernel's debounce; tests use a fake one. The driver reads every line's level at start and
reports it (`online=True` and the zone's state), then reports each debounced change.

How a level maps to a zone (the wiring the `pull` option assumes):

    pull    wiring                                contact closed   contact open
    "up"    contact between the line and GND      low (0)          high (1, pulled up)
    "down"  contact between the line and 3V3      high (1)         low (0, pulled down)
    "none"  external pull-up, contact to GND      low (0)          high (1)

    contact = "no" (normally open)   -> the zone is active while the contact is CLOSED
    contact = "nc" (normally closed) -> the zone is active while the contact is OPEN
                                        (a cut wire then reads as an alarm, which is why
                                        door contacts and tamper loops are wired NC)

Debounce. A mechanical contact bounces for a few milliseconds. The kernel debounces when
the line request accepts a `debounce_period` (gpiolib's cdev does it in software for
chips without hardware debounce); when it does not, the driver does: a new level is
accepted once no other edge has come for `debounce_ms` (default 50) after the last edge;
a burst that ends at the old level reports nothing.

The event source failing (the chip went away) is a fault: every line reports
`online=False`, and the driver reopens the source with backoff. Opening it at start is
not retried: a wrong chip or a line in use is an installer's mistake, and `__aenter__`
raises DriverError saying so. Wired lines send no heartbeat: `expected_interval` is None.

Outputs. A line with `output` ("siren", "valve" or "switch") is requested as an output
through the `OutputLines` seam (`LibgpiodOutputLines`; tests use a fake) and declared as a
FixedDevice with `outputs=(kind,)` and no sensing kinds. `active` says which level drives
the device: "high" (default) or "low" (most opto-isolated relay boards). `command(address,
command)` sets the line: burglar/fire/emergency, close and on make it active; stop, open
and off inactive; squawk_armed/squawk_disarmed/chime make it active for `seconds` (default
1 s) and then inactive, and a sound given `seconds` ends by itself after them. Each change
is read back and reported as an OutputReading (sounding/silent, closed/open, on/off), and
every output line reports its state at start. A valve is a relay that closes it while
energised, so a valve line is active while closed.

At start every output line is driven inactive (a siren never sounds because the hub
started; the hub decides again after a restart) except a valve's line that is already an
output, which keeps its level: a valve closed on a leak stays closed across a restart. On
stop, sirens are silenced and valves and switches keep their state. A command that cannot
set the line (the chip went away) raises DriverError and reports the output lines
offline; the next command requests them again.

Options: `chip` (default "/dev/gpiochip0"), `lines` = [{line, name, kind, contact = "no",
pull = "up", room, behaviour, home}] for inputs and [{line, name, output, active = "high",
room}] for outputs, `debounce_ms` (default 50). `behaviour` and `home` are kept on
`GpioDriver.lines` for the hub to seed the zones. A `type` key equal to "gpio" is
tolerated, so the hub may pass a whole `[[drivers]]` table.

Modules: `options` checks the `[[drivers]]` table into `GpioLine`s; `source` holds the edge
source and output seams and their libgpiod implementations; `debounce` is the software
debounce (pure); `driver` is `GpioDriver`, which reads the source, drives the outputs and
reports.
"""

from __future__ import annotations

from drivers.gpio.debounce import LineDebounce
from drivers.gpio.driver import _BACKOFF_FIRST as _BACKOFF_FIRST
from drivers.gpio.driver import _BACKOFF_MAX as _BACKOFF_MAX
from drivers.gpio.driver import GpioDriver
from drivers.gpio.options import GpioLine
from drivers.gpio.source import (
    EdgeSource,
    EdgeSourceFactory,
    LibgpiodEdgeSource,
    LibgpiodOutputLines,
    OutputLines,
    OutputLinesFactory,
)

__all__ = [
    "EdgeSource",
    "EdgeSourceFactory",
    "GpioDriver",
    "GpioLine",
    "LibgpiodEdgeSource",
    "LibgpiodOutputLines",
    "LineDebounce",
    "OutputLines",
    "OutputLinesFactory",
]
