"""A self-signed TLS certificate made on first start, so the dashboard is HTTPS by default.

Installers pin its SHA-256 fingerprint (printed at start) instead of trusting a CA.

Every start reads the fingerprint; only the first one creates the certificate. So the fingerprint
is ssl + hashlib (the DER's SHA-256, what cryptography's Certificate.fingerprint hashes), and
cryptography.x509 is imported only to create a certificate: it is megabytes and tens of
milliseconds a start would otherwise pay for one hash (issue 15).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import re
import socket
import ssl
from pathlib import Path

# The first certificate of a PEM file, as cryptography's load_pem_x509_certificate finds it: text
# before it, a key before it (one file for both) and the chain after it (fullchain.pem) are skipped.
_PEM_CERTIFICATE = re.compile(r"-----BEGIN ((?:X509 )?CERTIFICATE)-----(.*?)-----END \1-----", re.DOTALL)


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the first certificate in a PEM file, as "AB:CD:..."; ValueError when it holds none."""
    found = _PEM_CERTIFICATE.search(cert_path.read_bytes().decode("latin-1"))
    if found is None:
        raise ValueError(f"no PEM certificate in {cert_path}")
    # PEM_cert_to_DER_cert wants exactly one block with the standard header and footer.
    der = ssl.PEM_cert_to_DER_cert(f"{ssl.PEM_HEADER}{found.group(2)}{ssl.PEM_FOOTER}\n")
    return hashlib.sha256(der).digest().hex(":").upper()


def ensure_self_signed(directory: Path, name: str) -> tuple[Path, Path, str]:
    """Return (cert, key, fingerprint), creating them once in `directory`."""
    cert_path, key_path = directory / "hub.crt", directory / "hub.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path, fingerprint(cert_path)
    directory.mkdir(parents=True, exist_ok=True)
    _create(cert_path, key_path, name)
    return cert_path, key_path, fingerprint(cert_path)


def _create(cert_path: Path, key_path: Path, name: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name or host)])
    now = datetime.datetime.now(datetime.UTC)
    alt = x509.SubjectAlternativeName(
        [
            x509.DNSName(host),
            x509.DNSName(f"{host}.local"),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(alt, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
