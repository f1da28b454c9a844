"""Talking to a running hub over its HTTP API: `casahub status | arm | disarm` and the `pair` commands.

Shared by every remote command:
- which hub: `--hub URL` (or CASAHUB_HUB); else the hubs that answer on the LAN over mDNS
  (hub/system/discovery.py): exactly one is used, several are offered on a terminal and refused
  elsewhere, none falls back to http://127.0.0.1:8080;
- the token: `--token`, CASAHUB_TOKEN, or a prompt when a terminal is attached;
- TLS: hubs use self-signed certificates, so the CLI pins the certificate's SHA-256
  fingerprint on first use (trust on first use, like ssh) in ~/.config/casahub/known_hubs.json,
  keyed by the hub id (discovered hubs) or by the URL's origin (`--hub`). Every later
  connection must present the pinned certificate; a hub that advertises another one is refused
  before any request is sent.
Errors are one line saying what to do (RemoteError), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import aiohttp

DEFAULT_HUB = "http://127.0.0.1:8080"
DEFAULT_DISCOVERY_TIMEOUT = 2.0
TIMEOUT = 15.0

# What the hub's error codes mean for whoever types the command.
HINTS = {
    "unknown_candidate": "`casahub pair scan` lists the devices waiting to be paired",
    "already_paired": "`casahub pair list` shows it; remove it first (`casahub pair remove DEVICE`) to pair it again",
    "unknown_device": "`casahub pair list` shows the device ids",
}


class RemoteError(Exception):
    pass


# ---------------------------------------------------------------------------- pinned fingerprints
def known_hubs_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "casahub" / "known_hubs.json"


def load_known_hubs() -> dict[str, str]:
    path = known_hubs_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RemoteError(f"cannot read {path}: {exc}; fix or delete that file") from None
    if not isinstance(data, dict):
        raise RemoteError(f"{path} is not a JSON object of hub id -> fingerprint; fix or delete that file")
    return {str(k): str(v) for k, v in data.items()}


def pin_fingerprint(key: str, fingerprint: str) -> None:
    path = known_hubs_path()
    known = load_known_hubs()
    known[key] = format_fingerprint(fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(known, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def fingerprint_bytes(text: str) -> bytes:
    """'AB:CD:…' (as the hub prints and advertises it), or plain hex, to the 32-byte digest."""
    cleaned = text.replace(":", "").replace(" ", "").strip().lower()
    try:
        digest = bytes.fromhex(cleaned)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise RemoteError(f"{text!r} is not a SHA-256 fingerprint (64 hex digits, colons allowed)")
    return digest


def format_fingerprint(text: str | bytes) -> str:
    digest = text if isinstance(text, bytes) else fingerprint_bytes(text)
    return digest.hex(":").upper()


# ---------------------------------------------------------------------------- which hub
@dataclass(frozen=True)
class HubTarget:
    url: str
    hub_id: str | None = None  # known for discovered hubs
    name: str | None = None
    advertised: str | None = None  # the fingerprint the hub advertised, or --fingerprint
    discovered: bool = False
    fallback: bool = False  # nothing on the LAN: the default local URL

    @property
    def https(self) -> bool:
        return self.url.lower().startswith("https://")

    @property
    def pin_key(self) -> str:
        if self.hub_id:
            return self.hub_id
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.url})" if self.name else self.url


def interactive() -> bool:
    return sys.stdin.isatty()


def _prompt(text: str) -> str:
    try:
        return input(text)
    except EOFError:
        raise RemoteError("no answer given") from None


async def resolve_target(args: argparse.Namespace) -> HubTarget:
    explicit = getattr(args, "hub", None) or os.environ.get("CASAHUB_HUB")
    pinned_by_hand = getattr(args, "fingerprint", None)
    advertised = format_fingerprint(pinned_by_hand) if pinned_by_hand else None
    if explicit:
        url = explicit.rstrip("/")
        if "://" not in url:
            url = "http://" + url
        return HubTarget(url=url, advertised=advertised)
    from hub.system.discovery import browse_hubs

    try:
        timeout = float(os.environ.get("CASAHUB_DISCOVERY_TIMEOUT", DEFAULT_DISCOVERY_TIMEOUT))
    except ValueError:
        timeout = DEFAULT_DISCOVERY_TIMEOUT
    try:
        hubs = await browse_hubs(timeout) if timeout > 0 else []
    except Exception:  # no multicast route, no interface...: as if no hub answered
        hubs = []
    if not hubs:
        return HubTarget(url=DEFAULT_HUB, advertised=advertised, fallback=True)
    if len(hubs) == 1:
        chosen = hubs[0]
    elif interactive():
        for index, hub in enumerate(hubs, 1):
            print(f"  {index}. {hub.name}  {hub.url}  (id {hub.id})", file=sys.stderr)
        answer = _prompt(f"Which hub? [1-{len(hubs)}] ").strip()
        if not answer.isdigit() or not 1 <= int(answer) <= len(hubs):
            raise RemoteError(f"no hub number {answer!r}; pick one with --hub URL")
        chosen = hubs[int(answer) - 1]
    else:
        listed = ", ".join(f"{h.name} {h.url}" for h in hubs)
        raise RemoteError(f"{len(hubs)} hubs on the LAN ({listed}): pick one with --hub URL")
    return HubTarget(
        url=chosen.url,
        hub_id=chosen.id,
        name=chosen.name,
        advertised=advertised or (format_fingerprint(chosen.fingerprint) if chosen.fingerprint else None),
        discovered=True,
    )


def resolve_token(args: argparse.Namespace, role: str) -> str:
    token = getattr(args, "token", None) or os.environ.get("CASAHUB_TOKEN")
    if token:
        return str(token).strip()
    if interactive():
        try:
            token = getpass.getpass("Hub token: ").strip()
        except (EOFError, KeyboardInterrupt):
            token = ""
        if token:
            return token
    raise RemoteError(
        f"no token: pass --token or set CASAHUB_TOKEN (the hub owner makes one: {_how_to_get(role)}, or from the"
        " dashboard's Settings)"
    )


def _how_to_get(role: str) -> str:
    """The command an owner runs to make a token of this role (an installer's names the owner)."""
    return f"casahub token create --role {role}" + (" --by OWNER --ttl 8h" if role == "installer" else "")


# ---------------------------------------------------------------------------- the session
async def peer_fingerprint(url: str, timeout: float = TIMEOUT) -> bytes:
    """The SHA-256 of the certificate the server at `url` presents (not verified: trust on first use)."""
    import ssl

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if not cert:
        raise RemoteError(f"the hub at {url} presented no TLS certificate")
    return hashlib.sha256(cert).digest()


class HubSession:
    """Authenticated requests to one hub, with the pinned certificate checked on every connection."""

    def __init__(self, target: HubTarget, token: str, *, role: str = "member", timeout: float = TIMEOUT) -> None:
        self.target = target
        self.token = token
        self.role = role
        self.timeout = timeout
        self.expected: bytes | None = None  # the fingerprint the server must present
        self._pin_after_use = False
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        if self.target.https:
            self._check_pins()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def _check_pins(self) -> None:
        target = self.target
        pinned = load_known_hubs().get(target.pin_key)
        advertised = fingerprint_bytes(target.advertised) if target.advertised else None
        if pinned is not None:
            self.expected = fingerprint_bytes(pinned)
            if advertised is not None and advertised != self.expected:
                raise RemoteError(self._mismatch(format_fingerprint(advertised), "advertises"))
        elif advertised is not None:
            self.expected = advertised
            self._pin_after_use = True
        else:
            self._pin_after_use = True  # trust on first use: the certificate is read before the first request

    def _mismatch(self, got: str, verb: str = "presented") -> str:
        assert self.expected is not None
        return (
            f"hub {self.target.label} {verb} TLS certificate {got}, not the pinned {format_fingerprint(self.expected)}:"
            f" refusing to connect; if the hub was reinstalled or its certificate renewed, compare the fingerprint"
            f" the hub prints at start, then delete the '{self.target.pin_key}' entry from {known_hubs_path()}"
        )

    def _ssl(self) -> aiohttp.Fingerprint | bool:
        if not self.target.https:
            return True  # aiohttp's default; no TLS on http:// anyway
        assert self.expected is not None
        return aiohttp.Fingerprint(self.expected)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._session is not None, "use `async with HubSession(...)`"
        base = self.target.url
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            if self.target.https and self.expected is None:
                self.expected = await peer_fingerprint(base, self.timeout)  # first use: what it presents now
            async with self._session.request(method, base + path, json=body, headers=headers, ssl=self._ssl()) as resp:
                if self._pin_after_use:
                    self._pin()
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                if resp.status >= 400:
                    raise RemoteError(self._http_error(resp.status, data, resp.reason or ""))
                return data
        except aiohttp.ServerFingerprintMismatch as exc:
            raise RemoteError(self._mismatch(format_fingerprint(exc.got))) from None
        except (aiohttp.ClientConnectionError, OSError) as exc:  # OSError: refused, or TLS trouble
            where = " (no hub answered on the LAN either)" if self.target.fallback else ""
            raise RemoteError(
                f"cannot reach the hub at {base}{where}: {exc}; is it running? pass its address with --hub URL"
            ) from None
        except TimeoutError:
            raise RemoteError(f"the hub at {base} did not answer within {self.timeout:.0f} s") from None

    def _pin(self) -> None:
        """The server presented `expected` (aiohttp checked it) and answered: remember it."""
        assert self.expected is not None
        self._pin_after_use = False
        try:
            pin_fingerprint(self.target.pin_key, format_fingerprint(self.expected))
        except OSError as exc:
            print(f"casahub: warning: cannot pin the certificate in {known_hubs_path()}: {exc}", file=sys.stderr)
            return
        print(
            f"casahub: pinned the TLS certificate of {self.target.label}: {format_fingerprint(self.expected)} "
            f"(in {known_hubs_path()})",
            file=sys.stderr,
        )

    def _http_error(self, status: int, data: Any, reason: str) -> str:
        code = data.get("error", "") if isinstance(data, dict) else ""
        message = data.get("message") if isinstance(data, dict) else None
        message = str(message or reason or "error")
        if status == 401:
            return (
                f"the hub at {self.target.url} refused the token (wrong, revoked or expired): ask the hub owner for a"
                f" new one ({_how_to_get(self.role)}) and pass it with --token or CASAHUB_TOKEN"
            )
        if status == 403 and code == "forbidden":
            return f"{message} (HTTP 403): use a token of a role that may"
        text = f"{message} (HTTP {status})"
        if code in HINTS:
            text += f": {HINTS[code]}"
        if isinstance(data, dict) and data.get("not_ready"):
            text += "\n" + "\n".join(f"  - {z['name']}: {z['reason']}" for z in data["not_ready"])
            # The way out the dashboard offers as "Escludi e inserisci", named (issue 18).
            text += "\nclose them, or arm anyway with --force: the open zones stay excluded while they remain open"
        return text


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace, *, role: str = "member") -> AsyncIterator[HubSession]:
    """The hub the command names (or finds), with its token: `async with connect(args) as hub: await hub.call(...)`."""
    token = resolve_token(args, role)
    target = await resolve_target(args)
    async with HubSession(target, token, role=role) as session:
        yield session


async def _call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with connect(args) as hub:
        return await hub.call(method, path, body)


# ---------------------------------------------------------------------------- status | arm | disarm
def _code(args: argparse.Namespace) -> str:
    """The alarm code: typed at a prompt (no echo), the first line of standard input, or
    CASAHUB_CODE; never an argument, which `ps` and the shell's history would show."""
    if os.environ.get("CASAHUB_CODE"):
        return os.environ["CASAHUB_CODE"]
    if sys.stdin.isatty():
        return getpass.getpass("Alarm code: ")
    code = sys.stdin.readline().strip()
    if not code:
        raise RemoteError("no code: type it when asked, give it on standard input or set CASAHUB_CODE")
    return code


def _describe(system: dict[str, Any]) -> str:
    lines = [f"mode: {system['mode']}", f"ready: {'yes' if system['ready'] else 'no'}"]
    for item in system.get("not_ready", []):
        lines.append(f"  not ready: {item['name']} ({item['reason']})")
    for name, delay in system.get("delays", {}).items():
        lines.append(f"{name} delay: {delay['remaining']} s left")
    for inc in system.get("incidents", []):
        zones = ", ".join(a.get("name", a["zone"]) for a in inc["activations"])
        lines.append(f"incident {inc['id']}: {inc['kind']} {inc['state']} ({zones})")
    for ano in system.get("anomalies", []):
        lines.append(f"anomaly {ano['id']}: {ano['kind']} {ano.get('device') or ano.get('subject') or ''}")
    for item in system.get("excluded", []):
        until = f" until {item['until']}" if item.get("until") else ""
        lines.append(f"  not protecting: {item['name']} ({EXCLUDED_HOW.get(item['how'], item['how'])}{until})")
    lines += [f"output {line}" for line in _describe_outputs(system.get("outputs") or [])]
    return "\n".join(lines)


def _describe_outputs(outputs: list[dict[str, Any]]) -> list[str]:
    """One line per siren, valve or relay: what it is doing, and what needs someone."""
    lines = []
    for o in outputs:
        where = f", {o['room']}" if o.get("room") else ""
        line = f"{o['id']}: {o['name']} ({o['kind']}{where}) {o['state']}"
        if o.get("pending"):
            line += " (command sent, not confirmed yet)"
        if not o.get("online", True):
            line += " - OFFLINE"
        if o.get("closed_by_water"):
            line += f" - closed by a water leak: `casahub output open {o['id']}` once it is fixed"
        lines.append(line)
    return lines


async def _run(args: argparse.Namespace) -> Any:
    if args.command == "status":
        return await _call(args, "GET", "/api/v1/system")
    # `--area garage`: that area only (issue 17); without it, every area the code may use.
    base = f"/api/v1/areas/{quote(args.area, safe='')}" if getattr(args, "area", None) else "/api/v1/system"
    if args.command == "arm":
        code = _code(args)
        return await _call(args, "POST", f"{base}/arm", {"mode": args.mode, "code": code, "force": args.force})
    if args.command == "disarm":
        code = _code(args)
        return await _call(args, "POST", f"{base}/disarm", {"code": code})
    if args.command == "zone":
        return await _zone(args)
    if args.command == "output":
        return await _output(args)
    raise RemoteError(f"unknown command {args.command}")


async def _zone(args: argparse.Namespace) -> Any:
    """`casahub zone list|exclude|include|isolate|restore`: the dashboard's zone page, in a terminal."""
    verb = args.zone_command
    code = _code(args) if verb in ("isolate", "restore") else None
    async with connect(args) as hub:
        zones = (await hub.call("GET", "/api/v1/zones"))["items"]
        if verb == "list":
            return {"zones": zones}
        wanted = args.zone.casefold()
        found = [z for z in zones if wanted in (z["id"].casefold(), z["name"].casefold())]
        if len(found) != 1:
            names = ", ".join(f"{z['name']} ({z['id']})" for z in zones)
            raise RemoteError(f"no zone named {args.zone!r}: the zones are {names}")
        path = f"/api/v1/zones/{found[0]['id']}"
        if verb == "exclude":
            zone = await hub.call("PATCH", path, {"bypassed": True})
        elif verb == "include":
            zone = await hub.call("PATCH", path, {"bypassed": False})
        elif verb == "isolate":
            zone = await hub.call("POST", f"{path}/isolate", {"code": code, "reason": args.reason, "hours": args.hours})
        else:
            zone = await hub.call("POST", f"{path}/restore", {"code": code})
        return {"zones": [zone]}


async def _output(args: argparse.Namespace) -> Any:
    """`casahub output list|test|open`: the sirens, valves and relays, as on the dashboard."""
    from urllib.parse import quote

    verb = args.output_command
    code = _code(args) if verb == "open" else None
    async with connect(args, role="installer" if verb == "test" else "member") as hub:
        outputs = (await hub.call("GET", "/api/v1/outputs"))["items"]
        if verb == "list":
            return {"outputs": outputs}
        wanted = args.output.casefold()
        found = [o for o in outputs if wanted in (o["id"].casefold(), o["name"].casefold())]
        if len(found) != 1:
            names = ", ".join(f"{o['name']} ({o['id']})" for o in outputs) or "none"
            raise RemoteError(f"no output named {args.output!r}: the outputs are {names}")
        path = f"/api/v1/outputs/{quote(found[0]['id'], safe='')}"
        if verb == "test":
            return {"outputs": [await hub.call("POST", f"{path}/test", {})]}
        return {"outputs": [await hub.call("POST", f"{path}/open", {"code": code})]}


EXCLUDED_HOW = {
    "inhibit": "excluded until disarm",
    "open_at_arming": "excluded while open (forced arming)",
    "isolate": "isolated",
    "auto": "excluded automatically (too many alarms) until disarm",
}


def _describe_zones(zones: list[dict[str, Any]]) -> str:
    lines = []
    for z in zones:
        line = f"{z['id']}: {z['name']} ({z['kind']}, {z['behaviour']})"
        excluded = z.get("excluded")
        if excluded:
            line += f" - {EXCLUDED_HOW.get(excluded['how'], excluded['how'])}"
            if excluded.get("until"):
                line += f" until {excluded['until']}"
            if excluded.get("by"):
                line += f" by {excluded['by']}"
            if excluded.get("reason") and excluded["how"] == "isolate":
                line += f": {excluded['reason']}"
        else:
            line += " - protecting"
        lines.append(line)
    return "\n".join(lines)


def run_remote(args: argparse.Namespace) -> int:
    try:
        system = asyncio.run(_run(args))
    except RemoteError as exc:
        print(f"casahub: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("casahub: interrupted", file=sys.stderr)
        return 130
    listed = {"zone": "zones", "output": "outputs"}.get(args.command)
    if args.json:
        print(json.dumps(system.get(listed, system) if listed else system, indent=2))
    elif args.command == "zone":
        print(_describe_zones(system["zones"]))
    elif args.command == "output":
        print("\n".join(_describe_outputs(system["outputs"])) or "no siren, valve or relay is paired")
    else:
        print(_describe(system))
    return 0
