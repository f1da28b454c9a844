"""Finding hubs on the LAN: the hub advertises `_casahub._tcp.local.` over mDNS (zeroconf), the CLI browses.

The hub side (`HubAdvertiser`) registers one service whose TXT record carries what an installer's
CLI needs before it sends a single request: the stable hub id (`<data_dir>/hub.id`, made once),
the hub name, its version, the port, the URL scheme and the SHA-256 fingerprint of its TLS
certificate (empty with TLS off), which the CLI pins on first use (hub/cli/client.py).

A hub that listens only on a loopback address (the demo default, 127.0.0.1) cannot be reached
from the LAN, so it does not advertise. Addresses change (DHCP, Wi-Fi coming up after the
daemon): the advertiser polls the host's interfaces every 30 s and re-registers when the set
of addresses it would announce changes.

zeroconf is imported lazily, inside the functions that use it: importing this module (as the
daemon does) costs nothing, and a host where mDNS cannot start only loses the advertisement.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger("hub.discovery")  # the name users' [log] levels know (README)

SERVICE_TYPE = "_casahub._tcp.local."
HUB_ID_FILE = "hub.id"
POLL_INTERVAL = 30.0
WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class FoundHub:
    """A hub seen on the LAN. `fingerprint` is the advertised certificate fingerprint ("" without TLS)."""

    id: str
    name: str
    host: str
    port: int
    fingerprint: str
    scheme: str
    version: str = ""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "fingerprint": self.fingerprint,
            "scheme": self.scheme,
            "version": self.version,
            "url": self.url,
        }


# ---------------------------------------------------------------------------- hub side
def hub_id(data_dir: Path) -> str:
    """The hub's stable id: a random one stored in `<data_dir>/hub.id` on first use."""
    path = Path(data_dir) / HUB_ID_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if text:
        return text
    path.parent.mkdir(parents=True, exist_ok=True)
    new = secrets.token_hex(8)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new + "\n", encoding="ascii")
    try:
        os.link(tmp, path)  # atomic and never overwrites: two first starts agree on one id
    except FileExistsError:
        return path.read_text(encoding="ascii").strip() or new
    finally:
        tmp.unlink(missing_ok=True)
    return new


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_addresses(ipv6: bool) -> list[str]:
    import ifaddr

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                address = ipaddress.ip_address(ip.ip)
            elif ipv6:
                address = ipaddress.ip_address(ip.ip[0])
            else:
                continue
            if address.is_loopback or address.is_link_local or address.is_multicast:
                continue
            found.append(str(address))
    return sorted(set(found))


def advertised_addresses(host: str) -> list[str]:
    """The addresses a hub listening on `host` is reachable at from the LAN ([] for loopback only)."""
    if host in WILDCARDS:
        return _host_addresses(ipv6=host == "::")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return []
        return sorted({str(info[4][0]) for info in infos if not is_loopback(str(info[4][0]))})
    return [] if address.is_loopback else [str(address)]


class HubAdvertiser:
    """Advertise the hub while inside `async with`. Never raises for mDNS trouble: it logs it."""

    def __init__(
        self,
        *,
        data_dir: Path,
        name: str,
        version: str,
        host: str,
        port: int,
        fingerprint: str = "",
        scheme: str = "http",
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self.id = hub_id(data_dir)
        self.name = name
        self.version = version
        self.host = host
        self.port = port
        self.fingerprint = fingerprint if scheme == "https" else ""
        self.scheme = scheme
        self.poll_interval = poll_interval
        self.addresses: list[str] = []
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def advertising(self) -> bool:
        return self._info is not None

    @property
    def properties(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "port": str(self.port),
            "fp": self.fingerprint,
            "scheme": self.scheme,
        }

    async def __aenter__(self) -> Self:
        if is_loopback(self.host):
            log.info("listening on %s only: not advertising the hub on the LAN", self.host)
            return self
        await self._register(await asyncio.to_thread(advertised_addresses, self.host))
        self._task = asyncio.create_task(self._watch(), name="mdns-advertiser")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._unregister()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                addresses = await asyncio.to_thread(advertised_addresses, self.host)
            except Exception:
                log.exception("cannot list the host's addresses")
                continue
            if addresses != self.addresses:
                log.info("host addresses changed (%s -> %s): advertising again", self.addresses, addresses)
                await self._unregister()
                await self._register(addresses)

    async def _register(self, addresses: list[str]) -> None:
        self.addresses = addresses
        if not addresses:
            log.info("no LAN address yet: the hub is not advertised (checking again every %.0f s)", self.poll_interval)
            return
        try:
            from zeroconf import IPVersion
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

            label = f"{self.name} {self.id}"[:63].encode("utf-8", "ignore").decode("utf-8", "ignore")
            info = AsyncServiceInfo(
                SERVICE_TYPE,
                f"{label}.{SERVICE_TYPE}",
                port=self.port,
                properties=self.properties,
                server=f"casahub-{self.id}.local.",
                parsed_addresses=addresses,
            )
            has_v6 = any(":" in a for a in addresses)
            zc = AsyncZeroconf(ip_version=IPVersion.All if has_v6 else IPVersion.V4Only)
            try:
                await zc.async_register_service(info, allow_name_change=True)
            except BaseException:
                await zc.async_close()
                raise
        except Exception as exc:  # mDNS is a convenience: the hub runs without it
            log.warning("cannot advertise the hub over mDNS: %s", exc)
            return
        self._zc, self._info = zc, info
        log.info("advertising %s on %s port %d", SERVICE_TYPE, ", ".join(addresses), self.port)

    async def _unregister(self) -> None:
        zc, info = self._zc, self._info
        self._zc = self._info = None
        if zc is None:
            return
        try:
            if info is not None:
                await zc.async_unregister_service(info)
        except Exception as exc:
            log.debug("mDNS unregister failed: %s", exc)
        finally:
            with contextlib.suppress(Exception):
                await zc.async_close()


def tls_fingerprint(config: Any, data_dir: Path, tls_on: bool) -> str:
    """The SHA-256 fingerprint of the certificate the daemon serves ("" with TLS off)."""
    if not tls_on:
        return ""
    from hub.system.certs import fingerprint

    tls = config.web.tls
    cert = Path(data_dir) / "certs" / "hub.crt" if isinstance(tls, str) else Path(tls.cert)
    try:
        return fingerprint(cert)
    except (OSError, ValueError) as exc:
        log.warning("cannot read the TLS certificate %s: %s", cert, exc)
        return ""


# ---------------------------------------------------------------------------- CLI side
def _decode(props: dict[bytes, bytes | None], key: str) -> str:
    value = props.get(key.encode())
    return value.decode("utf-8", "replace") if value else ""


async def browse_hubs(timeout: float = 2.0) -> list[FoundHub]:
    """Hubs that answer on the LAN within `timeout` seconds, one entry per hub id, sorted by name."""
    from zeroconf import IPVersion, ServiceStateChange, Zeroconf
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    names: set[str] = set()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    try:
        zc = AsyncZeroconf(ip_version=IPVersion.V4Only)
    except OSError as exc:
        log.debug("mDNS unavailable: %s", exc)
        return []
    found: dict[str, FoundHub] = {}
    try:
        browser = AsyncServiceBrowser(zc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
        try:
            await asyncio.sleep(timeout)
        finally:
            await browser.async_cancel()
        for name in sorted(names):
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if not await info.async_request(zc.zeroconf, 1500):
                continue
            hub = _found(info)
            if hub is not None and hub.id not in found:
                found[hub.id] = hub
    finally:
        await zc.async_close()
    return sorted(found.values(), key=lambda h: (h.name, h.id))


def _found(info: AsyncServiceInfo) -> FoundHub | None:
    props = info.properties or {}
    addresses = info.parsed_scoped_addresses()
    if not addresses or info.port is None:
        return None
    v4 = [a for a in addresses if ":" not in a]
    hub_id_ = _decode(props, "id") or info.name
    return FoundHub(
        id=hub_id_,
        name=_decode(props, "name") or info.name.removesuffix("." + SERVICE_TYPE),
        host=(v4 or addresses)[0],
        port=info.port,
        fingerprint=_decode(props, "fp"),
        scheme=_decode(props, "scheme") or ("https" if _decode(props, "fp") else "http"),
        version=_decode(props, "version"),
    )


def _main() -> None:  # `python -m hub.system.discovery`: what the LAN shows, for a quick look
    import json

    print(json.dumps([h.as_json() for h in asyncio.run(browse_hubs())], indent=2))


if __name__ == "__main__":
    _main()
