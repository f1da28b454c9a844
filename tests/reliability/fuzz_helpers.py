"""What the fuzz tests (tests/reliability/test_fuzz_*.py) share.

- `fuzz_settings(n)`: hypothesis settings with a fixed budget, no deadline, and derandomized
  (same examples on every run, no example database) when `CI` is set, so that CI is
  deterministic; on a developer machine hypothesis explores new examples each run and
  replays the failures it saved.
- `report(...)`: the number of cases a target ran, printed even without `-s` and attached to
  the test as a `record_property` (it lands in `--junitxml` reports).
- `KnownBug`: a reported hub bug the fuzzers tolerate (and count) until it is fixed; each
  has a strict-xfail regression test, which starts failing (XPASS) when the fix lands.
- `HubThread`: one demo hub (tests.conftest.start_hub) running on an event loop in a
  background thread, so that sync `@given` tests can drive it with `call(coro)`: hypothesis
  and function-scoped async fixtures do not mix, and starting a hub per example is too slow.
  It records every exception the hub logs or leaves on its loop, with the traceback, so a
  test can tell *which* bug made a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import Api, RunningHub, start_hub

T = TypeVar("T")

IN_CI = bool(os.environ.get("CI"))
# CASAHUB_FUZZ_SCALE=10 runs ten times the examples (a longer hunt than the suite's ~60 s budget).
SCALE = float(os.environ.get("CASAHUB_FUZZ_SCALE", "1") or 1)


def fuzz_settings(max_examples: int, **extra: Any) -> settings:
    options: dict[str, Any] = {
        "max_examples": max(1, int(max_examples * SCALE)),
        "deadline": None,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
        "print_blob": True,
    }
    if IN_CI:
        options.update(derandomize=True, database=None)
    options.update(extra)
    return settings(**options)


def report(
    target: str,
    cases: int,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
    extra: str = "",
) -> None:
    """Print `fuzz: <target>: <n> cases` (even under output capture) and record it on the test."""
    record_property(f"fuzz_cases:{target}", cases)
    with capsys.disabled():
        print(f"\nfuzz: {target}: {cases} cases{f' ({extra})' if extra else ''}", flush=True)


# --------------------------------------------------------------------------- a hub in a thread


@dataclass(frozen=True)
class Failure:
    """An exception the hub logged (or left on its event loop) while a fuzz case ran."""

    message: str
    exc_type: str
    frames: tuple[tuple[str, str], ...]  # (path relative to the repo, function), outermost first
    text: str  # the formatted traceback


@dataclass(frozen=True)
class KnownBug:
    """A reported bug: an exception of one of `exc_types` whose traceback passes through
    `frame` (repo-relative path, function); with `innermost`, `frame` must be the last frame
    in hub/, alarms/ or drivers/ (the code that raised)."""

    name: str
    exc_types: tuple[str, ...]
    frame: tuple[str, str]
    innermost: bool = False

    def matches(self, failure: Failure) -> bool:
        if failure.exc_type not in self.exc_types or not failure.frames:
            return False
        return failure.frames[-1] == self.frame if self.innermost else self.frame in failure.frames


def known_bug(bugs: tuple[KnownBug, ...], failure: Failure) -> KnownBug | None:
    return next((bug for bug in bugs if bug.matches(failure)), None)


def failure_of(exc: BaseException, message: str = "") -> Failure:
    """`exc` as a Failure (its type, and the frames of its traceback in our packages)."""
    return failures_of(message or f"{type(exc).__name__}: {exc}", exc)[0]


def _our_frames(tb: Any) -> list[tuple[str, str]]:
    frames = []
    for frame in traceback.extract_tb(tb):
        parts = Path(frame.filename).parts
        for root in ("hub", "alarms", "drivers"):
            if root in parts:
                rel = "/".join(parts[len(parts) - parts[::-1].index(root) - 1 :])
                frames.append((rel, frame.name))
                break
    return frames


def failures_of(message: str, exc: BaseException | None) -> list[Failure]:
    """One Failure per exception; an exception group gives one per leaf exception, with the
    group's frames in front of the leaf's (a TaskGroup's failure is the failure of a task)."""
    if exc is None:
        return [Failure(message, "", (), message)]
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def leaves(e: BaseException, outer: list[tuple[str, str]]) -> list[Failure]:
        frames = outer + _our_frames(e.__traceback__)
        if isinstance(e, BaseExceptionGroup):
            return [leaf for sub in e.exceptions for leaf in leaves(sub, frames)]
        return [Failure(message, type(e).__name__, tuple(frames), text)]

    return leaves(exc, [])


class _Recorder(logging.Handler):
    def __init__(self, sink: list[Failure]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        with contextlib.suppress(Exception):
            self.sink.extend(failures_of(f"{record.name}: {record.getMessage()}", exc))


class HubThread:
    """A demo hub on its own event loop thread, with a logged-in owner session (`api`)
    and an anonymous one (`anon`), both tests.conftest.Api clients."""

    def __init__(self, data_dir: Path) -> None:
        self.failures: list[Failure] = []
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._loop_exception)
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-hub", daemon=True)
        self.thread.start()
        self._recorder = _Recorder(self.failures)
        logging.getLogger().addHandler(self._recorder)
        try:
            self.running: RunningHub = self.call(start_hub(data_dir))
            self.api: Api = self.call(self._client(login=True))
            self.anon: Api = self.call(self._client(login=False))
        except BaseException:
            self.close()
            raise

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.failures.extend(failures_of(f"event loop: {context.get('message')}", exc))
        loop.default_exception_handler(context)

    async def _client(self, *, login: bool) -> Api:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        client = Api(self.running.base, session)
        if login:
            await client.login()
        return client

    @property
    def base(self) -> str:
        return self.running.base

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `coro` on the hub's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def take_failures(self) -> list[Failure]:
        taken = list(self.failures)
        del self.failures[: len(taken)]
        return taken

    def alive(self) -> bool:
        """The daemon task is still running (nothing crashed it)."""
        running = getattr(self, "running", None)
        return running is not None and not running.task.done()

    def close(self) -> None:
        async def shutdown() -> None:
            for name in ("api", "anon"):
                client = getattr(self, name, None)
                if client is not None:
                    await client.session.close()
            running = getattr(self, "running", None)
            if running is not None and not running.task.done():
                await running.stop()

        try:
            if self.loop.is_running():
                self.call(shutdown(), timeout=30)
        finally:
            logging.getLogger().removeHandler(self._recorder)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            if not self.thread.is_alive():
                self.loop.close()
