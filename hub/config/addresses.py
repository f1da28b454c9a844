"""Host names, listen addresses, phone numbers, e-mail addresses: the small parsers of casahub.toml's values."""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.match(host))
    return True


def parse_listen(text: str) -> tuple[str, int]:
    """Split "HOST:PORT" ("0.0.0.0:8443", "[::1]:8080", "hub.local:80"); ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError("expected HOST:PORT")
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError(f"expected [IPV6]:PORT, got {text!r}")
        host, port_text = text[1:end], text[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if ":" in host:
            raise ValueError(f"put an IPv6 address in brackets: [{host}]:{port_text}")
        if not host:
            raise ValueError(f"missing host in {text!r} (use 0.0.0.0 for every interface)")
        if not _valid_host(host):
            raise ValueError(f"{host!r} is not a valid host name or IP address")
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"port {port_text!r} is not a number")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} is out of range (0-65535)")
    return host, port
