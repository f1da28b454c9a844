"""The household's peers in a process of their own, as Twilio, the centre and the push service are.

Run in the hub's event loop, the peers' CPU (TLS handshakes, the push service decrypting,
pysiaalarm's AES) would be paid inside the hub's alarm latencies: a real home's hub does not
run Twilio. So `remote_peers(folder)` starts `python -m bench.remote_peers <folder>`, a child
with its own interpreter and event loop, which runs `tests.peers.household.household(folder)`,
writes the hub config (`folder/casahub.toml`, `Household.write_config`) and answers JSON lines
on its stdin/stdout:

- at start, unasked: {"config", "cert", "key"} (the paths the hub needs);
- {"op": "subscribe", "key": <VAPID public key>} -> the Browser JSON to post to the hub;
- {"op": "snapshot", "since": {list: count}} -> the arrivals after the first `count` of each
  list (twilio, emails, pushes, centre), each with its `time.perf_counter()` stamp taken in the
  child. The lists only grow, so the parent asks for what it has not seen yet.

`RemotePeers`, in the parent, keeps the last snapshot behind the attributes the benches used on
`Household`: `twilio.accepted`, `twilio.sms()`, `emails()`, `pushes(incident)`,
`centre.reports()`, `centre.report_times()`; `await refresh()` brings it up to date. The child's
stderr goes to `folder/peers.log`; it is killed and reaped when the block ends, even on error,
and it ends by itself when its stdin closes (the parent died).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from bench.common import ROOT

START_TIMEOUT = 60.0  # the child imports aiohttp, aiosmtpd, pysiaalarm and makes keys: seconds on a busy machine
LISTS = ("twilio", "emails", "pushes", "centre")


@dataclass(frozen=True)
class Arrival:
    """One thing a peer accepted; `at` is `time.perf_counter()` in the child when it did."""

    at: float
    path: str = ""  # twilio: the REST path (Messages.json, Calls.json)
    form: dict[str, str] = field(default_factory=dict)  # twilio: the form posted
    rcpt_tos: tuple[str, ...] = ()  # email
    payload: dict[str, Any] = field(default_factory=dict)  # push: the decrypted JSON


@dataclass(frozen=True)
class Report:
    """A DC-09 report pysiaalarm ACKed (not the NULL link polls), with the fields the benches read."""

    at: float
    event_qualifier: str | None
    event_type: str | None
    ri: str | None
    code: str | None


class _Twilio:
    def __init__(self) -> None:
        self.accepted: list[Arrival] = []  # messages and calls answered 201, oldest first

    def sms(self) -> list[dict[str, str]]:
        return [seen.form for seen in self.accepted if seen.path.endswith("/Messages.json")]


class _Centre:
    def __init__(self) -> None:
        self.events: list[Report] = []

    def reports(self) -> list[Report]:
        return list(self.events)

    def report_times(self) -> list[float]:
        return [event.at for event in self.events]


class RemotePeers:
    """The parent's view of the peers' process, as of the last `refresh()`."""

    def __init__(self, process: asyncio.subprocess.Process, hello: dict[str, Any]) -> None:
        from tests.peers.tls import Cert

        self.process = process
        self.config = Path(hello["config"])
        self.cert = Cert(Path(hello["cert"]), Path(hello["key"]))
        self.twilio = _Twilio()
        self.centre = _Centre()
        self._emails: list[Arrival] = []
        self._pushes: list[Arrival] = []
        self._lock = asyncio.Lock()  # one request at a time on the pipe

    def emails(self) -> list[Arrival]:
        return list(self._emails)

    def pushes(self, incident: str | None = None) -> list[Arrival]:
        """Push messages accepted so far (for `incident` only, when given)."""
        return [d for d in self._pushes if incident is None or d.payload.get("incident") == incident]

    async def _call(self, request: dict[str, Any]) -> Any:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        async with self._lock:
            try:
                stdin.write(json.dumps(request).encode() + b"\n")
                await stdin.drain()
                line = await stdout.readline()
            except ConnectionError:  # the child is gone: its pipe broke
                line = b""
        if not line:
            raise RuntimeError(f"the peers' process ended (exit {self.process.returncode}); see peers.log")
        return json.loads(line)

    async def subscribe(self, vapid_public_key: str) -> dict[str, Any]:
        """A browser subscribed at the push service with the hub's key: what the PWA posts to the hub."""
        browser: dict[str, Any] = await self._call({"op": "subscribe", "key": vapid_public_key})
        return browser

    async def refresh(self) -> None:
        since = {
            "twilio": len(self.twilio.accepted),
            "emails": len(self._emails),
            "pushes": len(self._pushes),
            "centre": len(self.centre.events),
        }
        new = await self._call({"op": "snapshot", "since": since})
        self.twilio.accepted += [Arrival(at=t["at"], path=t["path"], form=t["form"]) for t in new["twilio"]]
        self._emails += [Arrival(at=m["at"], rcpt_tos=tuple(m["rcpt_tos"])) for m in new["emails"]]
        self._pushes += [Arrival(at=p["at"], payload=p["payload"]) for p in new["pushes"]]
        self.centre.events += [Report(**r) for r in new["centre"]]


def _log_file(folder: Path) -> BinaryIO:
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / "peers.log").open("wb")


@asynccontextmanager
async def remote_peers(folder: Path) -> AsyncIterator[RemotePeers]:
    """The peers' process, serving on loopback until the block ends; then killed and reaped."""
    with _log_file(folder) as log:  # the child holds its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.remote_peers",
            str(folder),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            line = await process.stdout.readline()
        if not line:
            tail = (folder / "peers.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the peers' process did not start (exit {await process.wait()}):\n{tail}")
        yield RemotePeers(process, json.loads(line))
    finally:
        if process.returncode is None:
            process.kill()
        with suppress(ProcessLookupError):
            await process.wait()


# --- the child ---------------------------------------------------------------------------------


def _snapshot(peers: Any, since: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    # The peers stamp arrivals with time.perf_counter(), CLOCK_MONOTONIC on Linux: one clock for
    # every process of the machine, so these stamps compare with the parent's perf_counter().
    reports = list(zip(peers.centre.reports(), peers.centre.report_times(), strict=True))
    return {
        "twilio": [{"at": s.at, "path": s.path, "form": s.form} for s in peers.twilio.accepted[since["twilio"] :]],
        "emails": [{"at": m.at, "rcpt_tos": m.rcpt_tos} for m in peers.emails()[since["emails"] :]],
        "pushes": [{"at": d.at, "payload": d.payload} for d in peers.push.deliveries[since["pushes"] :]],
        "centre": [
            {"at": t, "event_qualifier": e.event_qualifier, "event_type": e.event_type, "ri": e.ri, "code": e.code}
            for e, t in reports[since["centre"] :]
        ],
    }


async def _serve(folder: Path, out: Any) -> None:
    from tests.peers.household import household

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    def answer(value: Any) -> None:
        # Small lines on a pipe the parent reads as it goes: a blocking write is fine here.
        out.write(json.dumps(value).encode() + b"\n")
        out.flush()

    async with household(folder) as peers:
        config = peers.write_config(folder / "casahub.toml", language="en")
        answer({"config": str(config), "cert": str(peers.cert.cert), "key": str(peers.cert.key)})
        while line := await stdin.readline():  # EOF: the parent is done (or gone)
            request = json.loads(line)
            if request["op"] == "subscribe":
                answer(peers.push.subscribe(request["key"]).json())
            elif request["op"] == "snapshot":
                answer(_snapshot(peers, {name: int(request["since"].get(name, 0)) for name in LISTS}))
            else:
                answer({"error": f"unknown op {request['op']!r}"})


def main(argv: list[str]) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The answers get fd 1 for themselves; a stray print from a library goes to the log instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    asyncio.run(_serve(Path(argv[0]), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
