"""A self-signed certificate for 127.0.0.1, and a way to make this process trust it as a system CA.

Peers that speak TLS (the SMTP server, the push service) serve `Cert`. A client given
`Cert.client_context()` trusts it; a hub that uses the system CAs trusts it inside `trusted(cert)`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp.connector
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Cert", "self_signed_cert", "trusted"]


@dataclass
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed_cert(folder: Path, common_name: str = "casahub test peer") -> Cert:
    """Write a self-signed certificate for 127.0.0.1 (IP SAN, its own CA) and its key into `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = Cert(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@contextmanager
def trusted(cert: Cert) -> Iterator[dict[str, str]]:
    """Within the block, this process takes `cert` as its (only) system CA; yields the environment for a child.

    `SSL_CERT_FILE` reaches every `ssl.create_default_context()` made from now on (aiosmtplib makes
    one per connection), but aiohttp builds its default verifying context once, at import time:
    it is rebuilt here the way aiohttp builds it, so that the hub's aiohttp clients (pywebpush)
    trust the certificate too, and put back afterwards. A child process started with the yielded
    environment imports aiohttp with the variable already set.
    """
    saved_env = os.environ.get("SSL_CERT_FILE")
    saved_context = aiohttp.connector._SSL_CONTEXT_VERIFIED
    os.environ["SSL_CERT_FILE"] = str(cert.cert)
    try:
        aiohttp.connector._SSL_CONTEXT_VERIFIED = aiohttp.connector._make_ssl_context(True)
        yield {**os.environ}
    finally:
        aiohttp.connector._SSL_CONTEXT_VERIFIED = saved_context
        if saved_env is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved_env
