"""No log level prints a secret (issue 14, section 5): a daemon logging at DEBUG (and asking for
aiosqlite at DEBUG too, which would print every SQL statement with its parameters) exercises
every channel against the real household peers (SMS through the Twilio double, email through
aiosmtpd, Web Push, the DC-09 centre), a BTHome device paired with a bind key sending an
encrypted alarm, a user added with a password, an alarm code and a duress code, a token used,
arming and disarming with the code; its whole log then holds none of those secrets, nor the SMS
text, nor the e-mail body.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from hub.config import load_config
from hub.system.logs import setup_logging
from tests.conftest import Api, start_hub
from tests.peers import wait_until
from tests.peers.household import Household, household, logged_in, subscribe_app
from tests.peers.sia import AES128_KEY, require_pysiaalarm
from tests.peers.smtp import PASSWORD as SMTP_PASSWORD
from tests.peers.tls import trusted
from tests.peers.twilio import AUTH_TOKEN

BINDKEY = "5e1f0c2b9a7d4e3f8b6a1c0d2e4f6a8b"
MAC = "54:48:E6:8F:80:A5"
USER_PASSWORD = "Gr33n-Lantern-pw"
CODE = "86420"
PEER_LOGGERS = ("mail.log", "aiohttp.access", "pysiaalarm", "tests.")
DURESS = "97531"


class QuietScanner:
    """The BLE scanner seam without Bluetooth: adverts are handed to the driver by the test."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def encrypted_smoke(counter: int) -> bytes:
    """An encrypted BTHome v2 frame (the spec's AES-CCM layout): packet id, battery 90 %, smoke on."""
    objects = bytes.fromhex("00") + bytes((counter,)) + bytes.fromhex("015a2901")
    counter_bytes = counter.to_bytes(4, "little")
    nonce = bytes.fromhex(MAC.replace(":", "")) + b"\xd2\xfc" + b"\x41" + counter_bytes
    sealed = AESCCM(bytes.fromhex(BINDKEY), tag_length=4).encrypt(nonce, objects, None)
    return b"\x41" + sealed[:-4] + counter_bytes + sealed[-4:]


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The daemon's own logging set-up (hub/system/logs.py), into a buffer; put back afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    try:
        yield buffer
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_casahub", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
        for name in ("aiosqlite", "hub", "alarms", "drivers"):
            logging.getLogger(name).setLevel(logging.NOTSET)


async def _pair_and_alarm(running: Any, api: Api) -> str:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from drivers.bthome import BTHOME_UUID

    body = {
        "driver": "bthome",
        "address": MAC,
        "name": "Fumo cucina",
        "room": "Cucina",
        "bindkey": BINDKEY,
        "zones": [{"kind": "smoke"}],
    }
    status, device = await api.request("POST", "/api/v1/devices", body)
    assert status == 201, device
    driver = running.daemon.drivers["bthome"]
    adv = AdvertisementData(
        local_name="DIY-smoke",
        manufacturer_data={},
        service_data={BTHOME_UUID: encrypted_smoke(1)},
        service_uuids=[],
        tx_power=None,
        rssi=-70,
        platform_data=(),
    )
    driver.handle_advertisement(BLEDevice(MAC, "DIY-smoke", None), adv)
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        items = (await api.get("/api/v1/incidents"))["items"]
        fires = [i for i in items if i["kind"] == "fire"]
        if fires:
            return str(fires[0]["id"])
        assert asyncio.get_running_loop().time() < deadline, "the encrypted smoke advert raised no fire alarm"
        await asyncio.sleep(0.05)


async def test_a_debug_level_log_holds_no_secret(
    tmp_path: Path, peers: Household, debug_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    import drivers.bthome

    monkeypatch.setattr(drivers.bthome, "bleak_scanner_factory", lambda adapter: lambda cb, mode: QuietScanner())
    config = peers.write_config(tmp_path / "casahub.toml", language="it")
    with config.open("a", encoding="utf-8") as out:
        out.write('\n[[drivers]]\ntype = "bthome"\n\n[log]\nlevel = "debug"\nlevels = { aiosqlite = "debug" }\n')
    setup_logging(load_config(config).config.log, stream=debug_log)
    # The peers run in this process: their own logs (aiosmtpd prints every DATA line) are not the hub's.
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_casahub", False):
            handler.addFilter(lambda record: not record.name.startswith(PEER_LOGGERS))
    assert logging.getLogger("hub").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG), "aiosqlite is held at INFO"

    secrets: dict[str, str] = {
        "bind key": BINDKEY,
        "bind key (upper case)": BINDKEY.upper(),
        "password": USER_PASSWORD,
        "demo password": '"demo"',
        "twilio token": AUTH_TOKEN,
        "smtp password": SMTP_PASSWORD,
        "centre key": AES128_KEY,
    }
    codes = {"alarm code": CODE, "duress code": DURESS, "demo code": "12345"}
    with trusted(peers.cert):
        running = await start_hub(tmp_path / "data", config)
        try:
            async with logged_in(running.base) as owner:
                await subscribe_app(owner, peers.push)
                user = {"username": "gina", "password": USER_PASSWORD, "role": "owner", "code": CODE}
                status, answer = await owner.request("POST", "/api/v1/users", user | {"duress_code": DURESS})
                assert status == 201, answer
                status, answer = await owner.request("POST", "/api/v1/tokens", {"role": "installer", "ttl": 3600})
                assert status == 201, answer
                secrets["token"] = answer["token"]
                status, _ = await owner.request(
                    "GET", "/api/v1/zones", headers={"Authorization": f"Bearer {answer['token']}"}
                )
                assert status == 200
                incident = await _pair_and_alarm(running, owner)
                await wait_until(
                    lambda: peers.twilio.sms() and peers.emails() and peers.pushes() and peers.centre.reports(),
                    what="the SMS, the email, the push and the centre report",
                )
                async with logged_in(running.base, "gina", USER_PASSWORD) as gina:
                    status, answer = await gina.request("POST", f"/api/v1/incidents/{incident}/ack", {})
                    assert status == 200, answer
                    arm = {"mode": "away", "code": CODE, "force": True}
                    status, answer = await gina.request("POST", "/api/v1/system/arm", arm)
                    assert status == 200, answer
                    status, answer = await gina.request("POST", "/api/v1/system/disarm", {"code": DURESS})
                    assert status == 200, answer
        finally:
            await running.stop()

    for n, sms in enumerate(peers.twilio.sms()):
        secrets[f"SMS body {n}"] = sms["Body"]
    for n, mail in enumerate(peers.emails()):
        part = mail.message.get_body(preferencelist=("plain",))
        assert part is not None
        text = part.get_content().strip()
        secrets[f"e-mail body {n}"] = max(text.splitlines(), key=len)
    text = debug_log.getvalue()
    assert "twilio SMS accepted" in text and "bthome" in text, text[-3000:]  # the run was logged
    found = {what for what, value in secrets.items() if value in text}
    # Codes as whole numbers: "12345" is also part of the Twilio double's account SID in URLs.
    found |= {what for what, code in codes.items() if re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", text)}
    assert not found, f"secrets in the debug log: {sorted(found)}"
