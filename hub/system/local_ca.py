"""The hub's own certificate authority, so a phone can trust the dashboard and take Web Push.

A browser registers a service worker (and so takes Web Push) only on a page it trusts: a
self-signed certificate clicked through on a phone is not enough on Android or iOS. With
`[web] tls = "auto"` the hub keeps a small local CA in `<data_dir>/certs/`:

- `ca.key` (0600): the root's private key and its certificate, in one file written by rename
  (a crash never leaves a key without its certificate). It never leaves the hub: the backup
  takes neither (hub/backup/layout.py), and a restore on a new hub makes a new root.
- `ca.crt`: the public root alone, what `GET /ca.crt` and `GET /ca.mobileconfig` hand to a
  phone (hub/web/ca_api.py). Ten years, and name-constrained to `.local`, `localhost` and
  private and loopback addresses: a phone that trusts it trusts nothing on the internet.
- `hub.crt` + `hub.key` (0600): the server certificate the dashboard serves, signed by the
  root for `casahub.local`, the hub name's `.local`, the host name's `.local`, `localhost`
  and the hub's addresses; 397 days (under Apple's limits), renewed 30 days before its end.
- `hub.json`: what `hub.crt` was issued for (names, addresses, end, root), written *before*
  the files it describes, so a start after a crash mid-way sees a mismatch and issues again.

Every start, and every minute while running (`keep_fresh`), the record is compared with what
the hub wants: a new name or a new address (DHCP, Wi-Fi up after the daemon) re-issues the
certificate and the running TLS context loads it, no restart. An address that went away stays
until the next renewal: a Pi that boots before its network must not change certificate twice.
Like hub/system/certs.py, the check is ssl + hashlib + json: cryptography is imported only to
issue (issue 15: it is megabytes and tens of milliseconds a start would otherwise pay).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.system.certs import fingerprint

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.x509 import Certificate

log = logging.getLogger("hub.tls")

ROOT_DAYS = 3650
SERVER_DAYS = 397  # Apple: at most 398 days for a TLS server certificate
RENEW_BEFORE = datetime.timedelta(days=30)
CHECK_EVERY = 60.0  # seconds between two looks at the addresses and the end date
# The names a phone may type; the host's own `.local` is what avahi answers on Raspberry Pi OS.
FIXED_NAMES = ("casahub.local", "localhost")
# The only places the root may vouch for (its name constraints): a leaked root key could not
# impersonate a bank to a phone that installed it. Loopback, RFC 1918, link-local, CGNAT
# (Tailscale's 100.64/10), IPv6 ULA (fc00::/7) and link-local.
PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
PERMITTED_DNS = ("local", "localhost")
_LABEL = re.compile(r"[^a-z0-9-]+")
NEW_PLACES = "new names or addresses"


@dataclass(frozen=True)
class Wanted:
    """What the server certificate must cover."""

    names: tuple[str, ...]
    addresses: tuple[str, ...]


def dns_label(text: str) -> str:
    """A hub or host name as one DNS label ("Casa Rossi" -> "casa-rossi"); "" when nothing is left."""
    return _LABEL.sub("-", text.lower()).strip("-")[:63].strip("-")


def coverable(address: str) -> bool:
    """An address the root's name constraints permit (a public address is left out of the certificate)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in net for net in PRIVATE_NETS if net.version == ip.version)


def wanted_for(hub_name: str, host_addresses: Iterable[str], hostname: str | None = None) -> Wanted:
    """The names and addresses for a hub called `hub_name` reachable at `host_addresses`."""
    names = list(FIXED_NAMES)
    for label in (dns_label(hub_name), dns_label(hostname if hostname is not None else socket.gethostname())):
        if label and f"{label}.local" not in names:
            names.append(f"{label}.local")
    addresses = {"127.0.0.1", "::1"} | {a.split("%", 1)[0] for a in host_addresses if coverable(a)}
    return Wanted(tuple(names), tuple(sorted(addresses, key=_address_key)))


def _address_key(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return ip.version, int(ip)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write by rename, fsynced: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # an old tmp file kept its mode through O_CREAT
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----\n?", re.DOTALL)


def _blocks(pem: bytes, kind: bytes) -> list[bytes]:
    return [m.group(0) for m in _PEM_BLOCK.finditer(pem) if m.group(1) == kind]


class LocalCA:
    """The root and the server certificate in one directory (`<data_dir>/certs`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.root_key_path = directory / "ca.key"
        self.root_path = directory / "ca.crt"
        self.cert_path = directory / "hub.crt"
        self.key_path = directory / "hub.key"
        self.record_path = directory / "hub.json"

    # ------------------------------------------------------------------ reading (no cryptography)
    def root_pem(self) -> bytes:
        return self.root_path.read_bytes()

    def root_der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.root_pem().decode("ascii"))

    def root_fingerprint(self) -> str:
        return hashlib.sha256(self.root_der()).digest().hex(":").upper()

    def record(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.record_path.read_bytes())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def why_issue(self, wanted: Wanted, now: datetime.datetime) -> str | None:
        """Why the server certificate must be issued again, or None when it is good."""
        record = self.record()
        if record is None or not self.cert_path.is_file() or not self.key_path.is_file():
            return "no certificate signed by the hub's root yet"
        try:
            if record.get("fingerprint") != fingerprint(self.cert_path):
                return "the certificate file is not the one the hub issued"
            if record.get("root") != self.root_fingerprint():
                return "the root changed"
        except (OSError, ValueError):
            return "the certificate cannot be read"
        not_after = record.get("not_after")
        if not isinstance(not_after, int | float) or now.timestamp() >= not_after - RENEW_BEFORE.total_seconds():
            return "the certificate ends within 30 days"
        missing = sorted(set(wanted.names) - set(record.get("names", ())))
        missing += sorted(set(wanted.addresses) - set(record.get("addresses", ())))
        if missing:
            return f"{NEW_PLACES}: {', '.join(missing)}"
        return None

    # ------------------------------------------------------------------ issuing
    def ensure(self, wanted: Wanted, now: datetime.datetime | None = None) -> str | None:
        """Make the root once, and the server certificate when it is missing, ending or short of a
        name or address. Returns why it issued one (None: the files were good as they were)."""
        now = now or _now()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        root_new = self._ensure_root(now)
        why = "a new root" if root_new else self.why_issue(wanted, now)
        if why is not None:
            # Addresses that went away stay until the next renewal (the module's header says why).
            kept = self.record() if why.startswith(NEW_PLACES) else None
            self._issue(wanted, now, kept)
        return why

    def _ensure_root(self, now: datetime.datetime) -> bool:
        """Load or make the root; (re)write the public `ca.crt`. True when the root is new."""
        try:
            pem = self.root_key_path.read_bytes()
        except FileNotFoundError:
            pem = b""
        certs = _blocks(pem, b"CERTIFICATE")
        made = not certs or not _blocks(pem, b"PRIVATE KEY")
        if made:
            if pem:
                log.warning("%s holds no root key and certificate: making a new root", self.root_key_path)
            pem = self._make_root(now)
            _write(self.root_key_path, pem, 0o600)
            certs = _blocks(pem, b"CERTIFICATE")
        public = certs[0]
        try:
            same = self.root_path.read_bytes() == public
        except FileNotFoundError:
            same = False
        if not same:
            _write(self.root_path, public, 0o644)
        return made

    def _make_root(self, now: datetime.datetime) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        # A name the phone shows in its list of trusted certificates: which hub, from when.
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "casahub"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"casahub local CA {now:%Y-%m-%d %H:%M}"),
            ]
        )
        constraints = x509.NameConstraints(
            permitted_subtrees=[
                *(x509.DNSName(n) for n in PERMITTED_DNS),
                *(x509.IPAddress(net) for net in PRIVATE_NETS),
            ],
            excluded_subtrees=None,
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            # Not critical: a verifier that does not know name constraints still accepts the root
            # (RFC 5280 asks for critical; the CA/Browser Forum allows either, for this reason).
            .add_extension(constraints, critical=False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key_pem + cert.public_bytes(serialization.Encoding.PEM)

    def _root(self) -> tuple[EllipticCurvePrivateKey, Certificate]:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pem = self.root_key_path.read_bytes()
        key = serialization.load_pem_private_key(_blocks(pem, b"PRIVATE KEY")[0], password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(_blocks(pem, b"CERTIFICATE")[0])

    def _issue(self, wanted: Wanted, now: datetime.datetime, previous: dict[str, Any] | None) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        kept = previous.get("addresses", []) if previous and previous.get("root") == self._root_fp() else []
        addresses = sorted(
            {*wanted.addresses, *(a for a in kept if isinstance(a, str) and coverable(a))}, key=_address_key
        )
        root_key, root = self._root()
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = now + datetime.timedelta(days=SERVER_DAYS)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wanted.names[0])]))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        *(x509.DNSName(n) for n in wanted.names),
                        *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # iOS trusts a server certificate from a private root only with serverAuth in it.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        record = {
            "fingerprint": hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest().hex(":").upper(),
            "root": self._root_fp(),
            "names": list(wanted.names),
            "addresses": addresses,
            "not_after": int(not_after.timestamp()),
        }
        # The record first: a crash before both files are in place leaves a record that matches
        # neither, and the next start issues again (the module's header).
        _write(self.record_path, json.dumps(record, indent=1).encode(), 0o644)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(self.key_path, key_pem, 0o600)
        _write(self.cert_path, cert_pem, 0o644)

    def _root_fp(self) -> str:
        return self.root_fingerprint()

    # ------------------------------------------------------------------ serving
    def context(self, wanted: Wanted) -> ssl.SSLContext:
        """The server's TLS context, issuing what is missing first; a key that does not match its
        certificate (a crash, a hand edit) is issued again once."""
        self.ensure(wanted)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert_path, self.key_path)
        except ssl.SSLError as exc:
            log.warning("the server certificate and key do not match (%s): issuing them again", exc)
            self._issue(wanted, _now(), None)
            context.load_cert_chain(self.cert_path, self.key_path)
        return context

    async def keep_fresh(
        self,
        context: ssl.SSLContext,
        wanted: Callable[[], Wanted],
        every: float = CHECK_EVERY,
        on_issued: Callable[[str], None] | None = None,
    ) -> None:
        """Look at the addresses and the end date every `every` seconds; when the certificate must
        change, issue it and load it into the running `context` (new connections get it)."""
        while True:
            await asyncio.sleep(every)
            try:
                now_wanted = await asyncio.to_thread(wanted)
                why = await asyncio.to_thread(self.ensure, now_wanted)
                if why is None:
                    continue
                context.load_cert_chain(self.cert_path, self.key_path)
            except (OSError, ValueError, ssl.SSLError) as exc:
                log.error("cannot renew the TLS certificate in %s: %s", self.directory, exc)
                continue
            fp = fingerprint(self.cert_path)
            log.info("TLS certificate issued again (%s); SHA-256 fingerprint %s", why, fp)
            if on_issued is not None:
                on_issued(fp)


def wanted_now(hub_name: str, host: str) -> Wanted:
    """What a hub called `hub_name`, listening on `host`, must be trusted for now."""
    from hub.system.discovery import advertised_addresses

    return wanted_for(hub_name, advertised_addresses(host))


def serve(directory: Path, hub_name: str, host: str) -> tuple[LocalCA, ssl.SSLContext, list[str]]:
    """`[web] tls = "auto"`: the root and a server certificate from it, the context that serves it,
    and the lines `casahub serve` prints at start (both fingerprints)."""
    ca = LocalCA(directory)
    context = ca.context(wanted_now(hub_name, host))
    notes = [
        f"TLS certificate SHA-256 fingerprint: {fingerprint(ca.cert_path)}",
        f"local CA root SHA-256 fingerprint (install it on phones from Settings): {ca.root_fingerprint()}",
    ]
    return ca, context, notes
