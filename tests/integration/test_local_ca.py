"""The hub's local CA (hub/system/local_ca.py) and what it hands to phones (hub/web/ca_api.py).

Files and their modes, renewal before the end and a new address re-issuing (times are passed
in, never read), a crash between the key and the certificate, and a running `tls = "auto"`
hub: the root downloads without a login over HTTPS that a client trusting only that root
accepts, the iOS profile carries it as com.apple.security.root, GET /api/v1/phone-setup is the
household's, and a new address reaches new connections without a restart.
"""

from __future__ import annotations

import asyncio
import datetime
import plistlib
import ssl
from pathlib import Path

import aiohttp
from cryptography import x509

from hub.system.local_ca import RENEW_BEFORE, SERVER_DAYS, LocalCA, Wanted, wanted_for
from tests.conftest import Api, start_hub

NOW = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)


def sans(path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(alt.get_values_for_type(x509.DNSName)), {str(a) for a in alt.get_values_for_type(x509.IPAddress)}


def test_root_and_server_certificate(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "certs")
    wanted = wanted_for("Casa Rossi", ["192.168.1.10", "8.8.8.8", "fe80::1%eth0"], hostname="raspberrypi")
    assert ca.ensure(wanted, NOW) == "a new root"
    for name, mode in (("ca.key", 0o600), ("hub.key", 0o600), ("ca.crt", 0o644), ("hub.crt", 0o644)):
        assert (ca.directory / name).stat().st_mode & 0o777 == mode, name
    assert b"PRIVATE KEY" not in ca.root_path.read_bytes()  # the public root alone
    root = x509.load_pem_x509_certificate(ca.root_path.read_bytes())
    server = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    server.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees
    names, addresses = sans(ca.cert_path)
    assert names == {"casahub.local", "casa-rossi.local", "raspberrypi.local", "localhost"}
    assert addresses == {"127.0.0.1", "::1", "192.168.1.10", "fe80::1"}  # no public address
    assert server.not_valid_after_utc - NOW == datetime.timedelta(days=SERVER_DAYS)
    # the same wants a day later: nothing issued, the same files
    before = ca.cert_path.read_bytes()
    assert ca.ensure(wanted, NOW + datetime.timedelta(days=1)) is None
    assert ca.cert_path.read_bytes() == before


def test_renewal_and_new_addresses(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "certs")
    wanted = Wanted(("casahub.local", "localhost"), ("127.0.0.1", "192.168.1.10"))
    ca.ensure(wanted, NOW)
    root = ca.root_fingerprint()
    # an address that went away: kept, nothing issued (a Pi booting before its network)
    assert ca.ensure(Wanted(wanted.names, ("127.0.0.1",)), NOW) is None
    # a new address: issued again, the old one kept
    why = ca.ensure(Wanted(wanted.names, ("127.0.0.1", "192.168.1.20")), NOW)
    assert why is not None and "192.168.1.20" in why
    assert sans(ca.cert_path)[1] == {"127.0.0.1", "192.168.1.10", "192.168.1.20"}
    # 30 days before the end: renewed, for what is wanted now
    end = NOW + datetime.timedelta(days=SERVER_DAYS)
    assert ca.ensure(wanted, end - RENEW_BEFORE - datetime.timedelta(days=1)) is None
    assert ca.ensure(wanted, end - RENEW_BEFORE) == "the certificate ends within 30 days"
    assert sans(ca.cert_path)[1] == {"127.0.0.1", "192.168.1.10"}
    assert ca.root_fingerprint() == root  # the root stays: phones keep trusting


def test_a_crash_between_key_and_certificate_is_repaired(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "certs")
    wanted = Wanted(("casahub.local", "localhost"), ("127.0.0.1",))
    ca.ensure(wanted, NOW)
    old_cert = ca.cert_path.read_bytes()
    ca.ensure(Wanted(wanted.names, ("127.0.0.1", "10.0.0.2")), NOW)
    ca.cert_path.write_bytes(old_cert)  # the new key is in place, the certificate is the old one
    context = ca.context(wanted)  # issued again: key and certificate match
    assert isinstance(context, ssl.SSLContext)
    assert ca.why_issue(wanted, datetime.datetime.now(datetime.UTC)) is None
    # a root key file that lost its certificate: a new root, and a certificate from it
    ca.root_key_path.write_bytes(b"")
    assert ca.ensure(wanted, NOW) == "a new root"
    server = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.root_path.read_bytes()))


async def test_a_tls_hub_hands_its_root_to_phones(tmp_path: Path) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text('[web]\ntls = "auto"\n')
    running = await start_hub(tmp_path / "data", config)
    port = int(running.base.rsplit(":", 1)[1])
    base = f"https://localhost:{port}"
    ca = running.daemon.plan.local_ca
    assert ca is not None
    trust = ssl.create_default_context(cafile=str(ca.root_path))  # this root and nothing else
    try:
        connector = aiohttp.TCPConnector(ssl=trust)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            # ---- no login needed for the root and the profile
            async with session.get(base + "/ca.crt") as r:
                assert r.status == 200 and r.content_type == "application/x-x509-ca-cert"
                assert await r.read() == ca.root_der()
                assert r.headers["Content-Disposition"] == 'attachment; filename="casahub-ca.crt"'
            async with session.get(base + "/ca.mobileconfig") as r:
                assert r.status == 200 and r.content_type == "application/x-apple-aspen-config"
                profile = plistlib.loads(await r.read())
            assert profile["PayloadType"] == "Configuration"
            (payload,) = profile["PayloadContent"]
            assert payload["PayloadType"] == "com.apple.security.root"
            assert payload["PayloadContent"] == ca.root_der()

            # ---- the phone-setup answer is the household's
            api = Api(base, session)
            status, _ = await api.request("GET", "/api/v1/phone-setup")
            assert status == 401
            await api.login()
            setup = await api.get("/api/v1/phone-setup")
            assert setup["local_ca"] is True and setup["fingerprint"] == ca.root_fingerprint()
            assert setup["urls"] == {"android": f"{base}/ca.crt", "ios": f"{base}/ca.mobileconfig"}
            assert "casahub.local" in setup["names"] and "127.0.0.1" in setup["addresses"]

            # ---- a new address: issued again and served to new connections, no restart
            assert running.daemon.plan.tls is not None
            wanted = Wanted(tuple(setup["names"]), ("127.0.0.1", "::1", "192.168.77.7"))
            task = asyncio.create_task(ca.keep_fresh(running.daemon.plan.tls, lambda: wanted, every=0.01))
            try:
                for _ in range(500):
                    if "192.168.77.7" in sans(ca.cert_path)[1]:
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)  # the context loads it right after the file is written
            finally:
                task.cancel()
            _reader, writer = await asyncio.open_connection("localhost", port, ssl=trust, server_hostname="localhost")
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            writer.close()
            served = x509.load_der_x509_certificate(der)
            alt = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert "192.168.77.7" in {str(a) for a in alt.get_values_for_type(x509.IPAddress)}
    finally:
        await running.stop()


async def test_no_root_without_the_hubs_own_certificate(tmp_path: Path) -> None:
    running = await start_hub(tmp_path / "data")  # the demo: TLS off
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            status, body = await api.request("GET", "/ca.crt")
            assert status == 404 and body["error"] == "no_local_ca"
            await api.login()
            assert await api.get("/api/v1/phone-setup") == {"local_ca": False, "reason": "tls_off"}
    finally:
        await running.stop()
