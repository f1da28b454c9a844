"""What the outputs do: the engine's rules for sirens, water valves and relays (issue 16).

The engine (alarms/engine.py) decides *when* an output acts; this module says *what* each
output is asked, keeps what was asked in the state (``Output.wanted``, ``wanted_until``,
``closed_by_water``) and emits one ``OutputCommand`` plus one ``LogEvent`` (kind
``output_command``) per command. Pure like the engine: no clock, no I/O.

    cause                               outputs                                   command
    ----------------------------------  ----------------------------------------  -----------------------------
    triggered (intrusion)               sirens and relays whose ``on`` has it     burglar / on, for siren_time
    fire (any mode, disarmed too)       sirens and relays whose ``on`` has it     fire / on, for siren_time
    panic                               only with ``panic_audible``: sirens and   emergency / on, for siren_time
                                        relays whose ``on`` has panic or
                                        intrusion
    water                               valves whose ``on`` has water             close (stays closed)
                                        every siren                               chime, 1 s (one short beep)
                                        relays whose ``on`` has water             on, for siren_time
    other incidents (power, tamper)     relays whose ``on`` has them              on, for siren_time
    duress                              none, ever
    a sound's ``wanted_until``          that siren / relay                        stop / off (or back to
                                                                                  burglar, below)
    disarm (any mode, duress too)       every sounding siren and relay            stop / off
    armed_* reached; disarm             sirens with ``squawk``                    squawk_armed / squawk_disarmed
    chime zone opens while disarmed     sirens with ``chime``                     chime, 1 s
    OutputOpen                          that valve                                open
    OutputTest (disarmed only)          that output                               emergency / on 2 s, then stop /
                                                                                  off; a valve closes, opens 30 s
                                                                                  later

Why these choices:

- Priority: fire > burglar > emergency. A sounding siren is never switched to a lower pattern
  nor restarted by the same one; a fire sound that ends while the intrusion alarm's siren time
  still runs goes back to ``burglar`` until then (reason ``resume``). A relay is just on: a new
  cause only makes it stay on longer.
- The water beep goes to every siren, whatever its ``on``: a siren's ``on`` says what makes it
  *sound*, and one low 1 s beep is what makes the people at home look at their phones. It is a
  ``chime`` (the driver makes it a squawk, or a 1 s low ``emergency`` where the device has no
  squawk).
- A short beep (chime, squawks) is never sent to a sounding siren (it would cut the alarm's
  pattern short) and never kept in ``wanted``: nothing can confirm it (CONFIRMED_BY is None).
- A valve a water alarm closed stays closed: the engine never opens it, whatever happens next
  (disarm, the leak sensor drying, a test); only ``OutputOpen`` does, and the household is told
  both ways.
- A duress disarm stops and squawks exactly as a normal disarm: a siren that went on sounding, or
  a missing squawk, would tell whoever forces the user that the code was the duress one. The
  duress incident itself never drives an output.
- ``siren_time`` 0 is a silent alarm: nothing sounds (the ``Siren`` effect still says when the
  siren would have).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import msgspec

from alarms.model import (
    AnyEffect,
    DeviceHealth,
    IncidentKind,
    LogEvent,
    Output,
    OutputCommand,
    OutputUpsert,
)
from alarms.outputs import CONFIRMED_BY, DEFAULT_ON, Action, Command, OutputKind, OutputStatus

__all__ = [
    "BEEP_SECONDS",
    "MAX_COMMAND_SECONDS",
    "TEST_SECONDS",
    "VALVE_TEST_SECONDS",
    "OutputRules",
    "confirms",
    "earliest_end",
    "is_sounding",
    "not_ready",
]

BEEP_SECONDS = 1.0  # a chime, and the beep of a water alarm
TEST_SECONDS = 2.0  # OutputTest of a siren or a relay
VALVE_TEST_SECONDS = 30.0  # a motorised ball valve takes up to ~15 s each way
MAX_COMMAND_SECONDS = 86_400.0  # Command.seconds' bound: the journaled command must decode again

# The pattern a siren sounds for each incident that can sound one.
PATTERN: dict[IncidentKind, Action] = {"intrusion": "burglar", "fire": "fire", "panic": "emergency"}
PRIORITY: dict[Action, int] = {"fire": 3, "burglar": 2, "emergency": 1}
SIREN_SOUNDS = frozenset(PRIORITY)
STOP: dict[OutputKind, Action] = {"siren": "stop", "switch": "off", "valve": "open"}

_HEALTH_FIELDS = ("online", "offline_since", "tamper", "battery_low")
_LIVE_FIELDS = ("status", "status_at", "wanted", "wanted_until", "closed_by_water")


def is_sounding(output: Output) -> bool:
    """A siren sounding or a relay switched on by the engine (for an alarm or a test)."""
    if output.kind == "siren":
        return output.wanted in SIREN_SOUNDS
    return output.kind == "switch" and output.wanted == "on"


def confirms(output: Output, status: OutputStatus) -> bool:
    """Whether `status` shows the output doing what it was last asked (or, never asked anything
    that can be confirmed, that it answers at all)."""
    expected = CONFIRMED_BY[output.wanted] if output.wanted is not None else None
    return expected is None or status == expected


def not_ready(outputs: Mapping[str, Output]) -> list[tuple[str, str]]:
    """(output id, "siren_offline") for every siren whose device is offline: arming without a
    warning device is only done on purpose (a forced arm)."""
    return [
        (o.id, "siren_offline")
        for o in sorted(outputs.values(), key=lambda o: o.id)
        if o.kind == "siren" and not o.online
    ]


def earliest_end(outputs: Mapping[str, Output]) -> tuple[float, str] | None:
    """(wanted_until, output id) of the output whose sound, relay or valve test ends first."""
    ends = [(o.wanted_until, o.id) for o in outputs.values() if o.wanted_until is not None]
    return min(ends) if ends else None


def _drives(output: Output, incident: IncidentKind, panic_audible: bool) -> Action | None:
    """What `incident` makes `output` do, or None."""
    if incident == "duress" or output.kind == "valve":
        return None
    if incident == "panic":
        if not panic_audible or not ({"panic", "intrusion"} & set(output.on)):
            return None
    elif incident not in output.on:
        return None
    if output.kind == "switch":
        return "on"
    return PATTERN.get(incident)


def _seconds(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_COMMAND_SECONDS)


class OutputRules:
    """The outputs' working copy during one engine step; `emit` is the step's effect list's."""

    def __init__(self, outputs: Mapping[str, Output], emit: Callable[..., None]) -> None:
        self.outputs = dict(outputs)
        self._emit = emit

    def emit(self, *effects: AnyEffect) -> None:
        self._emit(*effects)

    def sorted(self, kind: OutputKind | None = None) -> list[Output]:
        return [o for _, o in sorted(self.outputs.items()) if kind is None or o.kind == kind]

    def update(self, output_id: str, **changes: object) -> Output:
        output = msgspec.structs.replace(self.outputs[output_id], **changes)
        self.outputs[output_id] = output
        return output

    def command(
        self, output_id: str, command: Command, reason: str, *, by: str | None = None, **changes: object
    ) -> None:
        """Ask an output to act, remember what was asked (`changes`) and log it."""
        self.update(output_id, **changes)
        self.emit(
            OutputCommand(output=output_id, command=command, reason=reason),
            LogEvent(kind="output_command", by=by, detail=f"{output_id}: {command.action} ({reason})"),
        )

    # ----------------------------------------------------------------- alarms

    def sound(self, incident: IncidentKind, at: float, seconds: float, *, panic_audible: bool = False) -> None:
        """Sound the sirens and switch on the relays that `incident` drives, for `seconds`."""
        if seconds <= 0:
            return  # siren_time 0: a silent alarm
        until = at + seconds
        for output in self.sorted():
            action = _drives(output, incident, panic_audible)
            if action is None:
                continue
            if output.kind == "switch" and is_sounding(output):
                # Already on: stay on until the later end.
                if output.wanted_until is not None and output.wanted_until < until:
                    self.update(output.id, wanted_until=until)
                continue
            if output.wanted in SIREN_SOUNDS and PRIORITY[output.wanted] >= PRIORITY[action]:
                continue  # never a lower pattern, never a restart of the same one
            command = Command(action=action, seconds=_seconds(seconds))
            self.command(output.id, command, incident, wanted=action, wanted_until=until)

    def close_valves(self) -> list[str]:
        """A water alarm: close every valve whose `on` has water; the ids a water alarm had not
        already closed (the household is told of those)."""
        newly: list[str] = []
        for valve in self.sorted("valve"):
            if "water" not in valve.on:
                continue
            if valve.closed_by_water and valve.wanted == "close" and valve.status == "closed":
                continue  # closed, confirmed: nothing to ask again
            if not valve.closed_by_water:
                newly.append(valve.id)
            self.command(
                valve.id, Command(action="close"), "water", wanted="close", wanted_until=None, closed_by_water=True
            )
        return newly

    def beep(self, action: Action, reason: str, outputs: Iterable[Output], *, by: str | None = None) -> None:
        """A short beep (chime, squawk) on each of `outputs` that is not sounding."""
        seconds = BEEP_SECONDS if action == "chime" else None
        for output in outputs:
            if output.kind == "siren" and not is_sounding(output):
                command = Command(action=action, seconds=seconds, level="low", strobe=False)
                self.command(output.id, command, reason, by=by)

    def water_beep(self) -> None:
        self.beep("chime", "water", self.sorted("siren"))

    def chime(self) -> None:
        self.beep("chime", "chime", [o for o in self.sorted("siren") if o.chime])

    def squawk(self, action: Action, reason: str, by: str | None) -> None:
        self.beep(action, reason, [o for o in self.sorted("siren") if o.squawk], by=by)

    def silence(self, by: str | None) -> None:
        """Disarm: every sounding siren stops, every relay the engine switched on goes off."""
        for output in self.sorted():
            if is_sounding(output):
                stop = STOP[output.kind]
                self.command(output.id, Command(action=stop), "disarm", by=by, wanted=stop, wanted_until=None)

    def end(self, output_id: str, at: float, resume_until: float | None) -> None:
        """`wanted_until` of `output_id` came: the sound or the relay stops (or goes back to the
        intrusion alarm's pattern while `resume_until`, the siren time of a running alarm, lasts);
        a tested valve opens again, unless a water alarm closed it meanwhile."""
        output = self.outputs[output_id]
        if output.kind == "valve":
            if output.closed_by_water or output.wanted != "close":
                self.update(output_id, wanted_until=None)
            else:
                self.command(output_id, Command(action="open"), "test_over", wanted="open", wanted_until=None)
            return
        back = _drives(output, "intrusion", False) if resume_until is not None and resume_until > at else None
        if back is not None and resume_until is not None:
            command = Command(action=back, seconds=_seconds(resume_until - at))
            self.command(output_id, command, "resume", wanted=back, wanted_until=resume_until)
            return
        stop = STOP[output.kind]
        self.command(output_id, Command(action=stop), "time_over", wanted=stop, wanted_until=None)

    # ----------------------------------------------------------------- people

    def open_valve(self, output_id: str, by: str) -> bool:
        """OutputOpen: the valve opens; True when a water alarm had closed it."""
        was_closed = self.outputs[output_id].closed_by_water
        command = Command(action="open")
        self.command(output_id, command, "owner", by=by, wanted="open", wanted_until=None, closed_by_water=False)
        return was_closed

    def test(self, output_id: str, now: float, by: str) -> None:
        """OutputTest (the engine checked it may run): a short sound, a relay pulse, a valve cycle."""
        output = self.outputs[output_id]
        if output.kind == "valve":
            until = now + VALVE_TEST_SECONDS
            self.command(output_id, Command(action="close"), "test", by=by, wanted="close", wanted_until=until)
            return
        action: Action = "emergency" if output.kind == "siren" else "on"
        command = Command(action=action, seconds=TEST_SECONDS, level="low")
        self.command(output_id, command, "test", by=by, wanted=action, wanted_until=now + TEST_SECONDS)

    # ----------------------------------------------------------------- configuration and devices

    def upsert(self, event: OutputUpsert) -> Output | None:
        """Create or reconfigure an output; returns the old one. What the engine asked and the
        device said survive a rename; a new device starts healthy, a new kind starts afresh."""
        old = self.outputs.get(event.id)
        config = Output(
            id=event.id,
            name=event.name,
            kind=event.kind,
            device=event.device,
            room=event.room,
            on=event.on if event.on is not None else DEFAULT_ON[event.kind],
            chime=event.chime,
            squawk=event.squawk,
        )
        kept: dict[str, object] = {}
        if old is not None and old.kind == event.kind:
            kept.update({f: getattr(old, f) for f in _LIVE_FIELDS})
        if old is not None and old.device == event.device:
            kept.update({f: getattr(old, f) for f in _HEALTH_FIELDS})
        self.outputs[event.id] = msgspec.structs.replace(config, **kept)
        return old

    def health(self, output_ids: Iterable[str], event: DeviceHealth, now: float) -> None:
        """A device's condition, on each of its outputs (as for a zone's device)."""
        for output_id in output_ids:
            output = self.outputs[output_id]
            changes: dict[str, object] = {}
            if event.online is True:
                changes.update(online=True, offline_since=None)
            elif event.online is False and (output.online or (event.grouped and output.offline_since is not None)):
                changes.update(online=False, offline_since=None if event.grouped else now)
            if event.battery_low is not None:
                changes["battery_low"] = event.battery_low
            if event.tamper is not None:
                changes["tamper"] = event.tamper
            if changes:
                self.update(output_id, **changes)

    def shift(self, delta: float) -> None:
        """The clock was stepped: a running sound keeps the time it had left."""
        for output_id, output in list(self.outputs.items()):
            changes: dict[str, object] = {}
            if output.wanted_until is not None:
                changes["wanted_until"] = output.wanted_until + delta
            if output.offline_since is not None:
                changes["offline_since"] = output.offline_since + delta
            if changes:
                self.update(output_id, **changes)
