"""Secrets from the config never leave the hub: not in API responses, the WebSocket stream,
logs (every logger at DEBUG), stdout/stderr, repr(config), ConfigError, `doctor` output or
the data directory, while every channel runs (and fails: no peer listens)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.cli.doctor import run_doctor
from hub.config import ConfigError, check_main, load_config
from tests.conftest import Api, free_port, start_hub

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "7b1e5ecre70ffee1234dead5ec7e7c0d"
SMTP_PASSWORD = "smtp-Pa55w0rd-9f2c1e"
DC09_KEY = "9B1F3C7A5E2D4F6081A3C5E7092B4D6F8A1C3E5072B4D6F81A3C5E7092B4D6F8"
NTFY_TOKEN = "tk_n7fyS3cr3tT0k3nabcdefghijklm"
WEBHOOK_SECRET = "whsec-H00kS3cr3t-4c9e71"
MQTT_PASSWORD = "mqtt-S3cr3t-77aa0b"
Z2M_PASSWORD = "z2m-S3cr3t-88bb1c"


@dataclass
class Setup:
    config: Path
    secrets: dict[str, str]  # what -> a string that must never be seen


def vapid_pem() -> tuple[str, list[str]]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    forms = [line for line in pem.splitlines() if not line.startswith("-----")]
    forms += [base64.urlsafe_b64encode(scalar).decode().rstrip("="), scalar.hex()]
    return pem, forms


def secret_file(directory: Path, name: str, content: str) -> str:
    path = directory / name
    path.write_text(content + "\n")
    path.chmod(0o600)
    return name


def write_config(directory: Path, centre: str) -> Setup:
    """All channels configured, secrets given inline, through *_file keys and the environment."""
    closed = free_port()  # nothing listens there: every channel fails to reach its peer
    pem, vapid_forms = vapid_pem()
    secret_file(directory, "vapid.pem", pem)
    secrets = {
        "sms.auth_token": TWILIO_TOKEN,
        "sms basic auth": base64.b64encode(f"{ACCOUNT_SID}:{TWILIO_TOKEN}".encode()).decode(),
        "email.password": SMTP_PASSWORD,
        "ntfy.token": NTFY_TOKEN,
        "mqtt_export.password": MQTT_PASSWORD,
        "drivers[0].password": Z2M_PASSWORD,
    }
    secrets |= {f"push key part {i}": form for i, form in enumerate(vapid_forms) if len(form) >= 16}
    if centre == "dc09":
        sms = f'auth_token = "{TWILIO_TOKEN}"'
        email = f'password_file = "{secret_file(directory, "smtp.secret", SMTP_PASSWORD)}"'
        centre_section = (
            f'protocol = "dc09"\nhost = "127.0.0.1"\nport = {closed}\naccount = "1234"\n'
            f'key = "{DC09_KEY}"\nsupervision_interval = 0.5'
        )
        secrets |= {"centre.key": DC09_KEY, "centre.key lower": DC09_KEY.lower()}
    else:
        sms = f'auth_token_file = "{secret_file(directory, "twilio.secret", TWILIO_TOKEN)}"'
        email = f'password = "{SMTP_PASSWORD}"'
        centre_section = (
            f'protocol = "webhook"\nurl = "http://127.0.0.1:{closed}/alarm"\n'
            f'secret_file = "{secret_file(directory, "hook.secret", WEBHOOK_SECRET)}"'
        )
        secrets["centre.secret"] = WEBHOOK_SECRET
    config = directory / "casahub.toml"
    config.write_text(
        f"""
[[contacts]]
name = "Anna"
phone = "+393331234567"
email = "anna@example.org"
language = "en"
voice = true

[sms]
account_sid = "{ACCOUNT_SID}"
{sms}
from = "+15005550006"
base_url = "http://127.0.0.1:{closed}"

[email]
host = "127.0.0.1"
port = {closed}
security = "none"
username = "hub"
{email}
from = "hub@example.org"

[ntfy]
url = "http://127.0.0.1:{closed}"
topic = "casa"
# token: from CASAHUB_NTFY_TOKEN

[push]
vapid_private_key_file = "vapid.pem"
subject = "mailto:anna@example.org"

[centre]
{centre_section}

[mqtt_export]
host = "127.0.0.1"
port = {closed}
username = "hub"
password = "{MQTT_PASSWORD}"

[[drivers]]
type = "zigbee2mqtt"
host = "127.0.0.1"
port = {closed}
username = "hub"
password = "{Z2M_PASSWORD}"
"""
    )
    return Setup(config, secrets)


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [what for what, value in secrets.items() if value in text]


async def read_everything(api: Api) -> list[str]:
    seen: list[str] = []
    for path in [
        "/api/v1/session",
        "/api/v1/system",
        "/api/v1/zones",
        "/api/v1/devices",
        "/api/v1/events?limit=500",
        "/api/v1/incidents?state=all",
        "/api/v1/anomalies?state=all",
        "/api/v1/notifications?limit=1000",
        "/api/v1/pairing/candidates",
        "/api/v1/push/vapid",
        "/api/v1/health",
    ]:
        status, body = await api.request("GET", path)
        assert status == 200, (path, status, body)
        seen.append(json.dumps(body))
        if path.startswith("/api/v1/incidents"):
            for item in body["items"]:
                seen.append(json.dumps(await api.get(f"/api/v1/incidents/{item['id']}")))
        if path.startswith("/api/v1/notifications"):
            for item in body["items"]:
                seen.append(json.dumps(await api.get(f"/api/v1/notifications/{item['id']}")))
    return seen


async def wait_attempted(api: Api, timeout: float = 10) -> list[dict[str, Any]]:
    """Until every channel was tried at least once (they all fail: no peer). Rows for one recipient
    go out in order, so a failing first row holds the others back: not every row is tried."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows: list[dict[str, Any]] = (await api.get("/api/v1/notifications?limit=1000"))["items"]
        tried = {r["channel"] for r in rows if r["attempts"] >= 1}
        if tried >= {"sms", "email", "ntfy", "push", "centre"}:
            return rows
        if loop.time() > deadline:
            raise AssertionError(f"notifications not attempted: {[(r['channel'], r['attempts']) for r in rows]}")
        await asyncio.sleep(0.05)


def config_views(config: Any) -> list[str]:
    views = [repr(config), str(config)]
    for f in fields(config):
        value = getattr(config, f.name)
        views += [repr(value), str(value)]
    return views


@pytest.mark.parametrize("centre", ["dc09", "webhook"])
async def test_secrets_never_leave_the_hub(
    tmp_path: Path,
    centre: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    # every logger at DEBUG, also those that set their own level (put back afterwards)
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG
    }
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        await _secrets_never_leave_the_hub(tmp_path, centre, caplog, capfd, monkeypatch)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _secrets_never_leave_the_hub(
    tmp_path: Path,
    centre: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASAHUB_NTFY_TOKEN", NTFY_TOKEN)
    setup = write_config(tmp_path, centre)
    loaded = load_config(setup.config)
    config = loaded.config
    assert config.sms is not None and config.sms.auth_token.reveal() == TWILIO_TOKEN
    assert config.ntfy is not None and config.ntfy.token is not None and config.ntfy.token.reveal() == NTFY_TOKEN
    seen = config_views(config) + [str(w) for w in loaded.warnings]

    running = await start_hub(tmp_path / "data", setup.config)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            ws = await session.ws_connect(running.base + "/api/v1/ws")
            await api.trigger(await api.zone_id("smoke"))
            await wait_attempted(api)
            await asyncio.sleep(1.2 if centre == "dc09" else 0.1)  # DC-09 link supervision polls and gives up
            seen += await read_everything(api)
            while (msg := await ws.receive(timeout=0.2)).type == aiohttp.WSMsgType.TEXT:
                seen.append(msg.data)
            await ws.close()
    except TimeoutError:
        pass
    finally:
        await running.stop()

    doctor_dir = tmp_path / "doctor"
    doctor_dir.mkdir()
    results = await run_doctor(config, doctor_dir, None, None)
    assert next(r for r in results if r["channel"] == "sms")["ok"] is False  # it did try, and failed
    seen.append(json.dumps(results))
    for channel in ("sms", "email", "ntfy", "centre", "voice"):
        seen.append(json.dumps(await run_doctor(config, doctor_dir, channel, "+393331234567")))

    out, err = capfd.readouterr()
    seen += [out, err, caplog.text]
    seen += [record.getMessage() + repr(record.args) + str(record.exc_text) for record in caplog.records]
    assert any("did not start" in r.getMessage() or "fail" in r.getMessage().lower() for r in caplog.records)

    found = {what for text in seen for what in leaks(text, setup.secrets)}
    assert not found, f"secrets seen: {sorted(found)}"

    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("latin-1")
            assert not leaks(text, setup.secrets), (path, leaks(text, setup.secrets))


def bad_config(directory: Path) -> Path:
    """Every section with a secret also has an error (wrong type, bad length, unknown key, both given)."""
    secret_file(directory, "token.secret", TWILIO_TOKEN)
    path = directory / "bad.toml"
    path.write_text(
        f"""
[sms]
account_sid = "{ACCOUNT_SID}"
auth_token = "{TWILIO_TOKEN}"
auth_token_file = "token.secret"
from = "+15005550006"

[email]
host = "smtp.example.org"
username = "hub"
password = "{SMTP_PASSWORD}"
from = "hub@example.org"
port = "twenty-five"

[ntfy]
url = "https://ntfy.example.org"
topic = "not a topic!"
tokn = "{NTFY_TOKEN}"

[centre]
protocol = "dc09"
host = "127.0.0.1"
port = 9000
account = "1234"
key = "{WEBHOOK_SECRET}"
secret = "{WEBHOOK_SECRET[::-1]}"

[mqtt_export]
host = "127.0.0.1"
password = 424242424242
passwrd = "{MQTT_PASSWORD}"

[[drivers]]
type = "zigbee2mqtt"
password = 123456789012
pasword = "{Z2M_PASSWORD}"
"""
    )
    return path


def test_config_errors_name_the_key_never_the_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bad_config(tmp_path)
    secrets = {
        "sms.auth_token": TWILIO_TOKEN,
        "email.password": SMTP_PASSWORD,
        "ntfy.tokn": NTFY_TOKEN,
        "centre.key": WEBHOOK_SECRET,
        "centre.secret": WEBHOOK_SECRET[::-1],
        "mqtt_export.password": "424242424242",
        "mqtt_export.passwrd": MQTT_PASSWORD,
        "drivers[0].password": "123456789012",
        "drivers[0].pasword": Z2M_PASSWORD,
    }
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    text = "\n".join(
        [str(error), repr(error), *map(str, error.issues), *map(str, error.warnings), *map(str, error.args)]
    )
    keys = {issue.key for issue in error.issues}
    assert {"sms.auth_token_file", "email.port", "ntfy.topic", "centre.key", "mqtt_export.password"} <= keys, keys
    assert check_main(path) == 2
    out, err = capsys.readouterr()
    text += out + err
    assert "centre.key" in text and "sms.auth_token_file" in text  # the message names the key...
    assert not leaks(text, secrets), leaks(text, secrets)  # ...never its value


def test_secret_values_from_the_environment_stay_hidden(tmp_path: Path) -> None:
    path = tmp_path / "env.toml"
    path.write_text('[centre]\nprotocol = "dc09"\nhost = "127.0.0.1"\nport = 9000\naccount = "1234"\n')
    env = {**os.environ, "CASAHUB_CENTRE_KEY": WEBHOOK_SECRET, "CASAHUB_SMS_AUTH_TOKEN": TWILIO_TOKEN}
    with pytest.raises(ConfigError) as caught:  # the key from the environment has the wrong length
        load_config(path, env=env)
    text = str(caught.value) + "".join(str(w) for w in caught.value.warnings)
    assert "CASAHUB_CENTRE_KEY" in text
    assert WEBHOOK_SECRET not in text and TWILIO_TOKEN not in text
