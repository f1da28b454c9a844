"""drivers.gpio output lines (sirens, valves, relays) through a fake `OutputLines` seam, and
through the kernel's gpio-sim where this machine has it."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from alarms.outputs import Command
from drivers.base import DriverContext, DriverError, FixedDevice, OutputReading, SensorReading
from drivers.capabilities import OutputDriver
from drivers.gpio import GpioDriver, GpioLine, LibgpiodOutputLines
from tests.peers import wait_until
from tests.unit.test_gpio import CHIP, FakeEdgeSource
from tests.unit.test_gpio import Run as InputRun

NOW = 1_750_000_000.0


class FakeOutputLines:
    """OutputLines whose levels the test reads; `fail()` makes the next set raise, as a chip gone away."""

    def __init__(self, levels: dict[int, bool] | None = None) -> None:
        self.levels: dict[int, bool] = dict(levels or {})
        self.history: list[tuple[int, bool]] = []
        self.opened = 0
        self.closed = 0
        self.requested: tuple[str, tuple[GpioLine, ...]] | None = None
        self.failing = False

    def factory(self, chip: str, lines: Sequence[GpioLine]) -> Self:
        self.requested = (chip, tuple(lines))
        return self

    async def __aenter__(self) -> Self:
        if self.failing:
            raise OSError(19, "No such device")
        self.opened += 1
        assert self.requested is not None
        for line in self.requested[1]:  # what LibgpiodOutputLines does at request: inactive
            if not (line.output == "valve" and line.line in self.levels):
                self.levels[line.line] = line.level_for(False)
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed += 1

    def get(self, line: int) -> bool:
        if self.failing:
            raise OSError(19, "No such device")
        return self.levels[line]

    def set(self, line: int, level: bool) -> None:
        if self.failing:
            raise OSError(19, "No such device")
        self.levels[line] = level
        self.history.append((line, level))


class Run(InputRun):
    """The input tests' run (readings, states, health), plus what the output lines report."""

    def outputs(self, line: int) -> list[str]:
        address = f"line{line}@{CHIP}"
        return [r.status for r in self.readings if isinstance(r, OutputReading) and r.address == address]


@contextlib.asynccontextmanager
async def running(
    outputs: FakeOutputLines, lines: list[dict[str, Any]], edges: FakeEdgeSource | None = None
) -> AsyncIterator[Run]:
    driver = GpioDriver(
        {"chip": CHIP, "lines": lines},
        DriverContext(clock=lambda: NOW),
        edge_source=(edges or FakeEdgeSource({})).factory,
        output_lines=outputs.factory,
    )
    async with driver:
        run = Run(driver)

        async def pump() -> None:
            async for reading in driver.readings():
                run.readings.append(reading)

        task = asyncio.create_task(pump())
        try:
            await wait_until(lambda: len(run.readings) >= 2 * len(lines), what="the initial readings")
            yield run
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def out(n: int, kind: str, **extra: Any) -> dict[str, Any]:
    return {"line": n, "name": f"Out {n}", "output": kind, **extra}


def address(n: int) -> str:
    return f"line{n}@{CHIP}"


# --------------------------------------------------------------------------- options and devices


def test_output_lines_are_fixed_devices_with_outputs_and_no_kinds() -> None:
    driver = GpioDriver(
        {
            "lines": [
                {"line": 4, "name": "Porta", "kind": "contact", "contact": "nc", "room": "Ingresso"},
                {"line": 17, "name": "Sirena", "output": "siren", "room": "Ingresso"},
                {"line": 22, "name": "Valvola", "output": "valve", "active": "low", "room": "Cucina"},
                {"line": 23, "name": "Campanello", "output": "switch"},
            ]
        },
        DriverContext(),
    )
    assert driver.fixed_devices() == [
        FixedDevice(address=address(4), name="Porta", model="GPIO dry contact", kinds=("contact",), room="Ingresso"),
        FixedDevice(
            address=address(17), name="Sirena", model="GPIO siren output", kinds=(), room="Ingresso", outputs=("siren",)
        ),
        FixedDevice(
            address=address(22), name="Valvola", model="GPIO valve output", kinds=(), room="Cucina", outputs=("valve",)
        ),
        FixedDevice(address=address(23), name="Campanello", model="GPIO switch output", kinds=(), outputs=("switch",)),
    ]
    assert [line.line for line in driver.inputs] == [4] and [line.line for line in driver.outputs] == [17, 22, 23]
    assert [line.active_level for line in driver.outputs] == ["high", "low", "high"]
    assert isinstance(driver, OutputDriver)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"line": 1, "name": "x"}, "`kind`.*or `output`.*is missing"),
        ({"line": 1, "name": "x", "kind": "contact", "output": "siren"}, "has both `kind` and `output`"),
        ({"line": 1, "name": "x", "output": "bell"}, "'output' must be one of"),
        ({"line": 1, "name": "x", "output": "siren", "active": "medium"}, "'active' must be one of"),
        ({"line": 1, "name": "x", "output": "siren", "contact": "nc"}, "is an output: `contact`"),
        ({"line": 1, "name": "x", "output": "valve", "pull": "down"}, "is an output: `contact`, `pull`"),
        ({"line": 1, "name": "x", "output": "switch", "behaviour": "instant"}, "is an output"),
        ({"line": 1, "name": "x", "kind": "contact", "active": "low"}, "is an input: `active`"),
    ],
)
def test_bad_output_lines_are_named(line: dict[str, Any], message: str) -> None:
    with pytest.raises(DriverError, match=message):
        GpioDriver({"lines": [line]}, DriverContext())


def test_config_check_names_the_key() -> None:
    from drivers.options import problems

    found = problems(GpioDriver.Options, {"lines": [{"line": 3, "name": "x", "output": "siren", "active": "up"}]})
    assert [(p.key, p.kind, p.choices) for p in found] == [("lines[0].active", "invalid", ("high", "low"))]
    (rule,) = problems(GpioDriver.Options, {"lines": [{"line": 3, "name": "x"}]})
    assert (rule.key, rule.kind) == ("lines[0].kind", "rule")


# --------------------------------------------------------------------------- commands


async def test_outputs_start_inactive_and_report_their_state() -> None:
    outputs = FakeOutputLines()
    lines = [out(17, "siren"), out(22, "valve", active="low"), out(23, "switch")]
    async with running(outputs, lines) as run:
        assert outputs.levels == {17: False, 22: True, 23: False}  # active low: inactive is high
        assert (run.outputs(17), run.outputs(22), run.outputs(23)) == (["silent"], ["open"], ["off"])
        assert run.health(17) == run.health(22) == run.health(23) == [True]
    assert outputs.requested is not None and [x.line for x in outputs.requested[1]] == [17, 22, 23]


async def test_siren_sounds_and_stops() -> None:
    outputs = FakeOutputLines()
    async with running(outputs, [out(17, "siren")]) as run:
        for action in ("burglar", "stop", "fire", "stop", "emergency", "stop"):
            await run.driver.command(address(17), Command(action=action))  # type: ignore[arg-type]
        await wait_until(lambda: len(run.outputs(17)) == 7, what="the siren's readings")
        assert run.outputs(17) == ["silent", "sounding", "silent", "sounding", "silent", "sounding", "silent"]
        assert [level for _, level in outputs.history] == [True, False, True, False, True, False]
    assert outputs.closed == 1


async def test_a_timed_sound_and_a_squawk_end_by_themselves() -> None:
    outputs = FakeOutputLines()
    async with running(outputs, [out(17, "siren", active="low")]) as run:
        await run.driver.command(address(17), Command(action="squawk_armed", seconds=0.05))
        assert outputs.levels[17] is False  # active low: sounding
        await wait_until(lambda: run.outputs(17) == ["silent", "sounding", "silent"], what="the squawk's end")
        assert outputs.levels[17] is True
        await run.driver.command(address(17), Command(action="burglar", seconds=0.05))
        await wait_until(lambda: run.outputs(17)[-1] == "silent" and len(run.outputs(17)) == 5, what="the sound's end")
        await run.driver.command(address(17), Command(action="chime"))  # 1 s by default
        await asyncio.sleep(0.1)
        assert run.outputs(17)[-1] == "sounding"
        await run.driver.command(address(17), Command(action="stop"))  # ends the chime's timer
        await asyncio.sleep(0.05)
        assert run.outputs(17)[-2:] == ["sounding", "silent"]
        await run.driver.command(address(17), Command(action="burglar"))  # no seconds: until stopped
        await asyncio.sleep(1.2)
        assert run.outputs(17)[-1] == "sounding" and outputs.levels[17] is False
    assert outputs.levels[17] is True, "the siren is silenced when the driver stops"


async def test_a_new_command_cancels_the_pending_end() -> None:
    outputs = FakeOutputLines()
    async with running(outputs, [out(17, "siren")]) as run:
        await run.driver.command(address(17), Command(action="chime", seconds=0.1))
        await run.driver.command(address(17), Command(action="burglar"))
        await asyncio.sleep(0.3)
        assert run.outputs(17) == ["silent", "sounding", "sounding"]
        assert outputs.levels[17] is True


async def test_valve_closes_and_opens_and_keeps_its_state_on_stop() -> None:
    outputs = FakeOutputLines()
    async with running(outputs, [out(22, "valve")]) as run:
        await run.driver.command(address(22), Command(action="close"))
        assert outputs.levels[22] is True  # the relay energised closes the valve
        await run.driver.command(address(22), Command(action="open"))
        await run.driver.command(address(22), Command(action="close"))
        await wait_until(lambda: run.outputs(22) == ["open", "closed", "open", "closed"], what="the valve's readings")
    assert outputs.levels[22] is True, "a closed valve stays closed when the hub stops"


async def test_a_valve_closed_before_a_restart_stays_closed() -> None:
    outputs = FakeOutputLines({22: True, 17: True})  # the lines as the last run left them
    async with running(outputs, [out(22, "valve"), out(17, "siren")]) as run:
        assert run.outputs(22) == ["closed"] and run.outputs(17) == ["silent"]
        assert outputs.history == []


async def test_switch_on_and_off() -> None:
    outputs = FakeOutputLines()
    async with running(outputs, [out(23, "switch", active="low")]) as run:
        await run.driver.command(address(23), Command(action="on"))
        assert outputs.levels[23] is False
        await run.driver.command(address(23), Command(action="off"))
        assert outputs.levels[23] is True
        await wait_until(lambda: run.outputs(23) == ["off", "on", "off"], what="the switch's readings")


async def test_commands_an_output_cannot_take_are_refused() -> None:
    outputs = FakeOutputLines()
    edges = FakeEdgeSource({4: False})
    async with running(outputs, [out(22, "valve"), {"line": 4, "name": "Porta", "kind": "contact"}], edges) as run:
        with pytest.raises(DriverError, match="is a valve; it cannot 'burglar'"):
            await run.driver.command(address(22), Command(action="burglar"))
        with pytest.raises(DriverError, match="not an output line"):
            await run.driver.command(address(4), Command(action="on"))
        with pytest.raises(DriverError, match="not an output line"):
            await run.driver.command("line99@/dev/gpiochip0", Command(action="on"))
        assert outputs.history == []
        # the input line is still an input, requested apart
        assert edges.requested is not None and [x.line for x in edges.requested[1]] == [4]
        assert [r for r in run.readings if isinstance(r, SensorReading)] == [
            SensorReading(address=address(4), kind="contact", active=True, at=NOW)
        ]


async def test_a_chip_gone_is_offline_and_the_next_command_requests_again() -> None:
    outputs = FakeOutputLines()
    async with running(outputs, [out(17, "siren"), out(22, "valve")]) as run:
        outputs.failing = True
        with pytest.raises(DriverError, match="cannot drive line 22"):
            await run.driver.command(address(22), Command(action="close"))
        await wait_until(lambda: run.health(17) == run.health(22) == [True, False], what="offline")
        with pytest.raises(DriverError, match="cannot drive line 22"):
            await run.driver.command(address(22), Command(action="close"))  # still gone
        outputs.failing = False
        await run.driver.command(address(22), Command(action="close"))
        await wait_until(lambda: run.health(22) == [True, False, True], what="back online")
        await wait_until(lambda: run.outputs(22)[-1:] == ["closed"], what="the valve closed")
        assert outputs.opened == 2


async def test_output_lines_that_cannot_be_requested_fail_the_start() -> None:
    outputs = FakeOutputLines()
    outputs.failing = True
    edges = FakeEdgeSource({4: False})
    driver = GpioDriver(
        {"lines": [out(17, "siren"), {"line": 4, "name": "Porta", "kind": "contact"}]},
        DriverContext(),
        edge_source=edges.factory,
        output_lines=outputs.factory,
    )
    with pytest.raises(DriverError, match="No such device"):
        async with driver:
            pass
    assert edges.opened == edges.closed == 1, "the input lines are released"


async def test_a_driver_with_outputs_only_runs_no_edge_task() -> None:
    outputs = FakeOutputLines()
    edges = FakeEdgeSource({})
    async with running(outputs, [out(17, "siren")], edges) as run:
        assert edges.opened == 0
        await run.driver.command(address(17), Command(action="burglar"))
        await wait_until(lambda: run.outputs(17) == ["silent", "sounding"], what="the siren sounding")


async def test_libgpiod_output_lines_report_the_missing_chip() -> None:
    lines = [GpioLine(line=4, name="x", output="siren")]
    with pytest.raises(DriverError, match="gpiochip-does-not-exist"):
        await LibgpiodOutputLines("/dev/gpiochip-does-not-exist", lines).__aenter__()


# --------------------------------------------------------------------------- the kernel's gpio-sim

GPIO_SIM = Path("/sys/kernel/config/gpio-sim")


# A kernel feature, not a peer a package brings: where the kernel lacks it (this CI's container) it skips.
NO_GPIO_SIM = "this kernel has no gpio-sim: as root, modprobe gpio-sim and mount configfs"


@pytest.mark.skipif(not GPIO_SIM.is_dir() or os.geteuid() != 0, reason=NO_GPIO_SIM)
async def test_gpio_sim_lines_are_driven() -> None:  # pragma: no cover - needs the kernel module
    chip_dir = GPIO_SIM / f"casahub-{os.getpid()}"
    bank = chip_dir / "bank0"
    bank.mkdir(parents=True)
    try:
        (bank / "num_lines").write_text("8")
        (chip_dir / "live").write_text("1")
        chip = "/dev/" + (bank / "chip_name").read_text().strip()
        driver = GpioDriver(
            {"chip": chip, "lines": [out(2, "siren"), out(3, "valve", active="low")]}, DriverContext(clock=lambda: NOW)
        )
        async with driver:
            await driver.command(f"line2@{chip}", Command(action="burglar"))
            await driver.command(f"line3@{chip}", Command(action="close"))
            readings = driver._stream.take_all()
        statuses = [r.status for r in readings if isinstance(r, OutputReading)]
        assert statuses == ["silent", "open", "sounding", "closed"]
    finally:
        (chip_dir / "live").write_text("0")
        bank.rmdir()
        chip_dir.rmdir()
