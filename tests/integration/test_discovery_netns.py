"""Finding hubs on the LAN (mDNS) and pinning their TLS certificates.

The mDNS tests run the hub side and the CLI as two processes inside a network namespace made for
the test (`ip netns add casahub-test-<random>`), whose only interface is its own loopback: no mDNS
packet ever leaves the test, and no other hub on the real LAN can answer. The loopback gets a
second, non-loopback address (10.77.0.x/32) for the hub to listen on and advertise, because a hub
listening on 127.0.0.1 only does not advertise itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hub.cli.client import HubSession, HubTarget, RemoteError, format_fingerprint, load_known_hubs, pin_fingerprint
from hub.system.certs import ensure_self_signed
from hub.system.discovery import HubAdvertiser, advertised_addresses, hub_id
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
HUB_ADDRESS = "10.77.0.1"


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name
        self.procs: list[subprocess.Popen[str]] = []

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, "ip", *args], check=True, capture_output=True, timeout=10)

    def argv(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str, ready: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if ready in line:
                # keep draining: a full pipe would block the process
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                return proc
        proc.kill()
        raise AssertionError(f"{args} did not print {ready!r}:\n{''.join(seen)}")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"ip netns is required under CI: {why}")
    pytest.skip(f"ip netns not permitted here ({why})")


@pytest.fixture
def netns() -> Iterator[Netns]:
    if shutil.which("ip") is None:
        _unavailable("no `ip` command (iproute2)")
    name = f"casahub-test-{secrets.token_hex(4)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=10)
    if made.returncode != 0:
        _unavailable(made.stderr.strip() or f"exit {made.returncode}")
    ns = Netns(name)
    try:
        ns.ip("link", "set", "lo", "up")
        ns.ip("link", "set", "lo", "multicast", "on")
        yield ns
    finally:
        ns.stop_all()
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASAHUB_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CASAHUB_DISCOVERY_TIMEOUT": "2.5", "COLUMNS": "200"})
    env.update(extra)
    return env


HUB_SCRIPT = """
import asyncio, signal, sys
from pathlib import Path
from hub.daemon import Daemon, ServeOptions, casahub_version, plan
from hub.system.discovery import HubAdvertiser, tls_fingerprint

async def main() -> None:
    config, data_dir, listen = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    p, _ = plan(ServeOptions(config=config, demo=True, data_dir=data_dir, listen=listen))
    daemon = Daemon(p)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, daemon.stop)
    # the wiring hub/daemon.py gets (see the README): advertise while the web server runs
    async with HubAdvertiser(
        data_dir=p.data_dir, name=p.config.hub.name, version=casahub_version(), host=p.host, port=p.port,
        fingerprint=tls_fingerprint(p.config, p.data_dir, p.tls is not None),
        scheme="https" if p.tls else "http",
    ) as advertiser:
        print("ADVERTISING", advertiser.advertising, flush=True)
        await daemon.run(lambda d: print("READY", d.url, flush=True))

asyncio.run(main())
"""

ADVERTISER_SCRIPT = """
import asyncio, signal, sys
from pathlib import Path
from hub.system.discovery import HubAdvertiser

async def main() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with HubAdvertiser(
        data_dir=Path(sys.argv[1]), name=sys.argv[2], version="test", host=sys.argv[3], port=int(sys.argv[4]),
        poll_interval=float(sys.argv[5]),
    ) as advertiser:
        print("STARTED", advertiser.advertising, flush=True)
        await stop.wait()

asyncio.run(main())
"""


def _cli(ns: Netns, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return ns.run(sys.executable, "-m", "hub.cli", *args, env=env)


def _hubs(ns: Netns, env: dict[str, str]) -> list[dict[str, Any]]:
    r = _cli(ns, env, "pair", "hubs", "--json", "--timeout", "2.5")
    assert r.returncode == 0, r.stderr
    found: list[dict[str, Any]] = json.loads(r.stdout)
    return found


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and lines[0].startswith("casahub: "), (r.returncode, r.stderr)
    return lines[0]


def test_cli_finds_pins_and_uses_the_hub_advertised_in_the_namespace(netns: Netns, tmp_path: Path) -> None:
    netns.ip("addr", "add", f"{HUB_ADDRESS}/32", "dev", "lo")
    config = tmp_path / "casahub.toml"
    config.write_text('[hub]\nname = "Casa Rossi"\n[web]\ntls = "auto"\n')
    data = tmp_path / "data"
    env = _env(tmp_path)
    netns.start(sys.executable, "-c", HUB_SCRIPT, str(config), str(data), "0.0.0.0:8443", ready="READY", env=env)

    hubs = _hubs(netns, env)
    fingerprint = ensure_self_signed(data / "certs", "")[2]
    assert [{k: h[k] for k in ("id", "name", "host", "port", "fingerprint", "scheme")} for h in hubs] == [
        {
            "id": (data / "hub.id").read_text().strip(),
            "name": "Casa Rossi",
            "host": HUB_ADDRESS,
            "port": 8443,
            "fingerprint": fingerprint,
            "scheme": "https",
        }
    ]

    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(data / "casahub.db"))
    _, token = accounts.create_token("installer", username="demo")
    accounts.conn.close()

    # No --hub: the one hub on the LAN is used, over TLS with the advertised certificate, which is pinned.
    r = _cli(netns, env, "pair", "list", "--json", "--token", token)
    assert r.returncode == 0, r.stderr
    assert any(d["id"] == "simulated-sim-water-1" for d in json.loads(r.stdout))
    assert "pinned the TLS certificate" in r.stderr
    known = tmp_path / "xdg" / "casahub" / "known_hubs.json"
    assert json.loads(known.read_text()) == {hubs[0]["id"]: fingerprint}

    # A different pinned certificate: refused, in one line that says what to do.
    other = ensure_self_signed(tmp_path / "other-certs", "other")[2]
    known.write_text(json.dumps({hubs[0]["id"]: other}))
    line = _one_line(_cli(netns, env, "pair", "list", "--json", "--token", token))
    assert "refusing to connect" in line and "known_hubs.json" in line and hubs[0]["id"] in line
    known.unlink()

    # A second hub on the LAN: without a terminal, the CLI asks for --hub.
    netns.start(
        sys.executable, "-c", ADVERTISER_SCRIPT, str(tmp_path / "data2"), "Casa Bianchi", "0.0.0.0", "9443", "30",
        ready="STARTED True", env=env,
    )  # fmt: skip
    assert sorted(h["name"] for h in _hubs(netns, env)) == ["Casa Bianchi", "Casa Rossi"]
    line = _one_line(_cli(netns, env, "pair", "list", "--token", token))
    assert "2 hubs on the LAN" in line and "--hub URL" in line
    # --hub picks one; the certificate is pinned under its URL.
    r = _cli(netns, env, "pair", "list", "--json", "--token", token, "--hub", f"https://{HUB_ADDRESS}:8443")
    assert r.returncode == 0, r.stderr
    assert json.loads(known.read_text()) == {f"https://{HUB_ADDRESS}:8443": fingerprint}


def test_hub_advertises_again_when_an_address_appears(netns: Netns, tmp_path: Path) -> None:
    env = _env(tmp_path)
    netns.start(
        sys.executable, "-c", ADVERTISER_SCRIPT, str(tmp_path / "d"), "Casa Verdi", "0.0.0.0", "8443", "0.5",
        ready="STARTED False", env=env,
    )  # fmt: skip
    assert _hubs(netns, env) == []  # only loopback addresses so far: nothing to advertise
    netns.ip("addr", "add", "10.77.0.9/32", "dev", "lo")  # DHCP answered
    # The advertiser checks its addresses every 0.5 s: browse until it has re-registered.
    deadline = time.monotonic() + 15
    while not (hubs := _hubs(netns, env)) and time.monotonic() < deadline:
        pass
    assert [(h["name"], h["host"], h["port"]) for h in hubs] == [("Casa Verdi", "10.77.0.9", 8443)]


def test_no_hub_on_the_lan_falls_back_to_the_local_default(netns: Netns, tmp_path: Path) -> None:
    env = _env(tmp_path, CASAHUB_DISCOVERY_TIMEOUT="1")
    line = _one_line(_cli(netns, env, "pair", "list", "--token", "chb_x"))
    assert "cannot reach the hub at http://127.0.0.1:8080 (no hub answered on the LAN either)" in line
    assert "--hub URL" in line


# ---------------------------------------------------------------------------- unit level
async def test_a_hub_on_loopback_does_not_advertise(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        async with HubAdvertiser(data_dir=tmp_path, name="demo", version="0", host=host, port=8080) as advertiser:
            assert not advertiser.advertising
            assert advertiser._zc is None  # zeroconf not even started
    assert advertised_addresses("127.0.0.1") == []
    assert advertised_addresses("192.0.2.7") == ["192.0.2.7"]


def test_hub_id_is_made_once_and_kept(tmp_path: Path) -> None:
    first = hub_id(tmp_path / "data")
    assert len(first) == 16 and hub_id(tmp_path / "data") == first
    assert (tmp_path / "data" / "hub.id").read_text().strip() == first
    assert hub_id(tmp_path / "other") != first


async def _tls_server(cert_dir: Path, port: int) -> web.AppRunner:
    import ssl

    cert, key, _ = ensure_self_signed(cert_dir, "test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def devices(request: web.Request) -> web.Response:
        return web.json_response({"items": []})

    app = web.Application()
    app.router.add_get("/api/v1/devices", devices)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    return runner


async def test_certificate_pinning_trusts_first_use_and_refuses_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    fp_a = ensure_self_signed(tmp_path / "a", "a")[2]
    fp_b = ensure_self_signed(tmp_path / "b", "b")[2]
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    runner = await _tls_server(tmp_path / "a", port)
    try:
        async with HubSession(HubTarget(url=url), "token", role="installer") as hub:
            assert await hub.call("GET", "/api/v1/devices") == {"items": []}  # first use: pinned
            assert await hub.call("GET", "/api/v1/devices") == {"items": []}
        assert load_known_hubs() == {url: fp_a}
        async with HubSession(HubTarget(url=url), "token") as hub:
            assert await hub.call("GET", "/api/v1/devices") == {"items": []}  # same certificate: fine
    finally:
        await runner.cleanup()

    runner = await _tls_server(tmp_path / "b", port)  # same address, another certificate
    try:
        with pytest.raises(RemoteError, match="refusing to connect") as caught:
            async with HubSession(HubTarget(url=url), "token") as hub:
                await hub.call("GET", "/api/v1/devices")
        assert "\n" not in str(caught.value) and fp_b in str(caught.value)
        assert load_known_hubs() == {url: fp_a}  # the pin is not replaced

        # A discovered hub whose advertisement disagrees with its pin is refused before connecting.
        pin_fingerprint("hub-1", fp_a)
        with pytest.raises(RemoteError, match="advertises TLS certificate"):
            async with HubSession(HubTarget(url=url, hub_id="hub-1", advertised=fp_b), "token"):
                pass
        # A new hub that advertises the certificate it presents: pinned under its id.
        async with HubSession(HubTarget(url=url, hub_id="hub-2", advertised=fp_b), "token") as hub:
            assert await hub.call("GET", "/api/v1/devices") == {"items": []}
        assert load_known_hubs()["hub-2"] == fp_b
        # ...and one that advertises a certificate it does not present is refused.
        with pytest.raises(RemoteError, match="refusing to connect"):
            async with HubSession(HubTarget(url=url, hub_id="hub-3", advertised=fp_a), "token") as hub:
                await hub.call("GET", "/api/v1/devices")
        assert "hub-3" not in load_known_hubs()
    finally:
        await runner.cleanup()
    assert format_fingerprint(fp_a.replace(":", "").lower()) == fp_a
