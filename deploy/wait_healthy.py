"""Wait until the hub answers 200 on /api/v1/health (deploy/install.sh, after starting a version).

Standard library only: it runs with the system's Python, whichever casahub venv is current.
It reads [web] listen and tls from the config the service uses; a wildcard listen address is
asked on loopback. The certificate is not checked: this asks the hub on this machine whether
it serves, the version it says is printed. Exit status 0 when healthy, 1 when not within
--timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path


def health_url(config: Path) -> str:
    try:
        web = tomllib.loads(config.read_text()).get("web", {})
    except (OSError, tomllib.TOMLDecodeError):
        web = {}
    listen = str(web.get("listen", "0.0.0.0:8443"))
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "http" if web.get("tls", "auto") == "off" else "https"
    return f"{scheme}://{host}:{port}/api/v1/health"


def wait(url: str, timeout: float) -> str | None:
    """The version the hub reports once healthy, None if it is not within `timeout` seconds."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, context=context, timeout=3) as resp:
                if resp.status == 200:
                    return str(json.loads(resp.read()).get("version", "?"))
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    url = health_url(args.config)
    version = wait(url, args.timeout)
    if version is None:
        print(f"casahub-install: {url} did not answer 200 within {args.timeout:g} s", file=sys.stderr)
        return 1
    print(f"casahub-install: healthy, casahub {version} ({url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
