"""The status LED: what the hub is doing, as a blink pattern (config section `[led]`).

The LED is a sysfs LED (`path = "/sys/class/leds/ACT"`, the Pi's green activity LED by
default: the kernel trigger is set to "none", then `brightness` is written, and the old
trigger is put back on exit) or a GPIO line (`line = 22`, `chip = "/dev/gpiochip0"`,
through libgpiod). Both sit behind `LedBackend`, so tests and other boards can plug in
their own.

Patterns (also in the user manual, see `describe`):

    starting    steady on                                     the hub is starting
    ok          a 100 ms flash every 2 s                      disarmed, all is well
    armed       1 s on, 1 s off                               armed (or arming)
    alarm       100 ms on, 100 ms off                         an active alarm (incident not acknowledged)
    fault       two flashes every 2 s                         an anomaly (sensor offline, storage, clock...)
    no_network  three flashes every 2 s                       no network: messages cannot go out
    off         off                                           the hub is stopped

API:

    pattern = pattern_for(mode, incidents, anomalies, network_ok=True, ready=True)
    text = describe(pattern, "it")                    # for `casahub doctor`
    backend = open_backend(path=..., line=..., chip=...)   # SysfsLed or GpioLed, OSError when unusable
    driver = LedDriver(backend)                       # await driver.run(); driver.show(pattern)
    await run_led(config.led, source)                 # all of it: source() -> Pattern, polled

A silent `duress` incident never shows as an alarm: whoever forced the disarm is looking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hub.core.clock import wait_set

__all__ = [
    "ALARM",
    "ARMED",
    "FAULT",
    "NO_NETWORK",
    "OFF",
    "OK",
    "PATTERNS",
    "STARTING",
    "GpioLed",
    "LedBackend",
    "LedDriver",
    "Pattern",
    "SysfsLed",
    "describe",
    "open_backend",
    "pattern_for",
    "run_led",
]

log = logging.getLogger("casahub.led")

POLL = 0.5  # how often run_led asks its source for the pattern


@dataclass(frozen=True, slots=True)
class Pattern:
    """A named blink cycle: (on, seconds) steps repeated forever; one step = steady."""

    name: str
    steps: tuple[tuple[bool, float], ...]

    @property
    def period(self) -> float:
        return sum(duration for _, duration in self.steps)

    def level_at(self, t: float) -> bool:
        """Whether the LED is on `t` seconds into the pattern."""
        t %= self.period
        for on, duration in self.steps:
            if t < duration:
                return on
            t -= duration
        return self.steps[-1][0]


STARTING = Pattern("starting", ((True, 1.0),))
OK = Pattern("ok", ((True, 0.1), (False, 1.9)))
ARMED = Pattern("armed", ((True, 1.0), (False, 1.0)))
ALARM = Pattern("alarm", ((True, 0.1), (False, 0.1)))
FAULT = Pattern("fault", ((True, 0.1), (False, 0.2), (True, 0.1), (False, 1.6)))
NO_NETWORK = Pattern("no_network", ((True, 0.1), (False, 0.2), (True, 0.1), (False, 0.2), (True, 0.1), (False, 1.3)))
OFF = Pattern("off", ((False, 1.0),))
PATTERNS: dict[str, Pattern] = {p.name: p for p in (STARTING, OK, ARMED, ALARM, FAULT, NO_NETWORK, OFF)}

_ARMED_MODES = frozenset({"arming_home", "arming_away", "armed_home", "armed_away", "pending"})


def pattern_for(
    mode: str,
    incidents: Iterable[Any],
    anomalies: Iterable[Any],
    network_ok: bool = True,
    *,
    ready: bool = True,
) -> Pattern:
    """The pattern for the hub's state (pure).

    `incidents` are the open incidents (objects with `kind` and `state`, as in
    `hub.state.incidents.values()`), `anomalies` the active anomalies. Priority: starting,
    alarm (mode `triggered` or an active incident other than `duress`), no network, fault
    (any anomaly), armed (arming, armed, entry delay), ok.
    """
    if not ready:
        return STARTING
    alarm = mode == "triggered" or any(
        getattr(i, "state", "active") == "active" and getattr(i, "kind", "") != "duress" for i in incidents
    )
    if alarm:
        return ALARM
    if not network_ok:
        return NO_NETWORK
    if any(True for _ in anomalies):
        return FAULT
    if mode in _ARMED_MODES:
        return ARMED
    return OK


_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "starting": {
        "en": "steady on: the hub is starting",
        "it": "acceso fisso: l'hub si sta avviando",
    },
    "ok": {
        "en": "a short flash every 2 seconds: disarmed, all is well",
        "it": "un lampeggio breve ogni 2 secondi: disinserito, tutto a posto",
    },
    "armed": {
        "en": "slow blink (1 second on, 1 second off): the alarm is armed",
        "it": "lampeggio lento (1 secondo acceso, 1 spento): l'allarme è inserito",
    },
    "alarm": {
        "en": "fast blink: an alarm is in progress",
        "it": "lampeggio veloce: è in corso un allarme",
    },
    "fault": {
        "en": "two flashes every 2 seconds: an anomaly needs attention (see the dashboard)",
        "it": "due lampeggi ogni 2 secondi: c'è un'anomalia da controllare (vedi la dashboard)",
    },
    "no_network": {
        "en": "three flashes every 2 seconds: no network, messages cannot be sent",
        "it": "tre lampeggi ogni 2 secondi: rete assente, i messaggi non possono partire",
    },
    "off": {
        "en": "off: the hub is not running",
        "it": "spento: l'hub non è in funzione",
    },
}


def describe(pattern: Pattern, language: str = "it") -> str:
    """What the pattern looks like and means, in Italian ("it") or English (anything else)."""
    texts = _DESCRIPTIONS.get(pattern.name)
    if texts is None:
        return pattern.name
    return texts.get(language, texts["en"])


# --------------------------------------------------------------------------- backends


class LedBackend(Protocol):
    def set(self, on: bool) -> None:
        """Switch the LED; may raise OSError."""

    def close(self) -> None:
        """Switch off and give the LED back (restore the kernel trigger)."""


class SysfsLed:
    """A Linux LED class device: /sys/class/leds/NAME with `trigger`, `brightness`, `max_brightness`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._brightness = self.path / "brightness"
        if not self._brightness.exists():
            raise FileNotFoundError(f"{self.path} is not an LED (no brightness file)")
        self._saved_trigger: str | None = None
        trigger = self.path / "trigger"
        if trigger.exists():
            self._saved_trigger = _current_trigger(trigger.read_text())
            if self._saved_trigger != "none":
                trigger.write_text("none")
        try:
            self._max = int((self.path / "max_brightness").read_text().strip() or "1")
        except (OSError, ValueError):
            self._max = 1
        self._max = max(self._max, 1)
        self._level: bool | None = None

    def set(self, on: bool) -> None:
        if on == self._level:
            return
        self._brightness.write_text(str(self._max if on else 0))
        self._level = on

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._brightness.write_text("0")
        if self._saved_trigger and self._saved_trigger != "none":
            with contextlib.suppress(OSError):
                (self.path / "trigger").write_text(self._saved_trigger)
        self._level = None


def _current_trigger(text: str) -> str | None:
    # "none rc-feedback [mmc0] timer ..." -> "mmc0"
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return None


class GpioLed:
    """An LED on a GPIO line, driven through libgpiod v2 (active high)."""

    def __init__(self, chip: str, line: int, consumer: str = "casahub-led") -> None:
        import gpiod
        from gpiod.line import Direction, Value

        self.line = line
        self._active, self._inactive = Value.ACTIVE, Value.INACTIVE
        self._request: Any = gpiod.request_lines(
            chip,
            consumer=consumer,
            config={line: gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE)},
        )

    def set(self, on: bool) -> None:
        self._request.set_value(self.line, self._active if on else self._inactive)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._request.set_value(self.line, self._inactive)
        with contextlib.suppress(Exception):
            self._request.release()


def open_backend(
    *, path: Path | str | None = None, line: int | None = None, chip: str = "/dev/gpiochip0"
) -> LedBackend:
    """A GpioLed when `line` is given, else a SysfsLed on `path`. Raises OSError (or ImportError) when unusable."""
    if line is not None:
        return GpioLed(chip, line)
    if path is None:
        raise ValueError("an LED needs path or line")
    return SysfsLed(path)


# --------------------------------------------------------------------------- rendering


class LedDriver:
    """Renders the current pattern on a backend until cancelled; `show()` switches pattern at once."""

    def __init__(self, backend: LedBackend, pattern: Pattern = STARTING) -> None:
        self.backend = backend
        self._pattern = pattern
        self._changed = asyncio.Event()
        self._failed = False

    @property
    def pattern(self) -> Pattern:
        return self._pattern

    def show(self, pattern: Pattern) -> None:
        if pattern != self._pattern:
            self._pattern = pattern
            self._changed.set()

    async def run(self) -> None:
        """Blink until cancelled; on exit the LED is switched off and handed back (backend.close())."""
        try:
            while True:
                self._changed.clear()
                pattern = self._pattern
                for on, duration in _cycle(pattern):
                    self._set(on)
                    with contextlib.suppress(TimeoutError):
                        await wait_set(self._changed, duration)
                    if self._changed.is_set():
                        break
        finally:
            self.backend.close()

    def _set(self, on: bool) -> None:
        try:
            self.backend.set(on)
        except OSError as exc:
            if not self._failed:  # cosmetic: say it once, never stop the hub
                log.warning("status LED cannot be set: %s", exc)
            self._failed = True
        else:
            self._failed = False


def _cycle(pattern: Pattern) -> Iterable[tuple[bool, float]]:
    while True:
        yield from pattern.steps


async def run_led(config: Any, source: Callable[[], Pattern], poll: float = POLL) -> None:
    """Open the LED of a `[led]` config (`path` / `line` / `chip`) and show `source()` until cancelled.

    An LED that cannot be opened (missing, no permission) is logged once and the coroutine
    returns: the LED is cosmetic, the hub runs on without it.
    """
    try:
        backend = open_backend(
            path=getattr(config, "path", None),
            line=getattr(config, "line", None),
            chip=getattr(config, "chip", "/dev/gpiochip0"),
        )
    except (OSError, ImportError, ValueError) as exc:
        log.warning("status LED disabled: %s", exc)
        return
    await follow(LedDriver(backend, _safe(source, STARTING)), source, poll)


async def follow(driver: LedDriver, source: Callable[[], Pattern], poll: float = POLL) -> None:
    """Run `driver` and feed it `source()` every `poll` seconds, until cancelled."""
    render = asyncio.ensure_future(driver.run())
    try:
        while not render.done():
            driver.show(_safe(source, driver.pattern))
            await asyncio.wait({render}, timeout=poll)
        render.result()
    finally:
        if not render.done():
            render.cancel()
            await asyncio.gather(render, return_exceptions=True)  # a cancel of our own still propagates


def _safe(source: Callable[[], Pattern], fallback: Pattern) -> Pattern:
    try:
        return source()
    except Exception:
        log.exception("status LED source failed")
        return fallback
