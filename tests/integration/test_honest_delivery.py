"""Honest delivery (issue 13, section 3): outside `--demo` no `log` stands in for a channel.

A production (non-demo) hub, the simulated kit as its sensors, a real SMTP server and push
service on loopback (tests/peers/household.py):
- a contact with a phone and no `[sms]`: after an alarm no SMS row is `sent` (it is `dead`,
  "not_configured", read through GET /api/v1/notifications), the email really arrives,
  `config check` warns, `doctor` says "not configured", the report's channel check fails;
- a household that no channel reaches: `no_notification_channel` in GET /api/v1/anomalies
  from the start, cleared when the contact's app subscribes to push.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.store.accounts import Accounts
from hub.store.db import open_sync
from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until
from tests.peers.household import Household, household, logged_in, subscribe_app
from tests.peers.smtp import PASSWORD, USER
from tests.peers.tls import trusted

ROOT = Path(__file__).resolve().parents[2]
MARIO = "+393331234567"


def casahub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    async with household(tmp_path / "peers") as running:
        yield running


def _push(peers: Household) -> str:
    return (
        f'[push]\nvapid_private_key_file = "{peers.vapid_key_file}"\nsubject = "{peers.push.subject}"\n'
        "allow_private_endpoints = true\n"
    )


def _add_owner(hub: RunningHub, username: str = "mario") -> None:
    accounts = Accounts(open_sync(hub.data_dir / "casahub.db"))
    try:
        accounts.add_user(username, "mario-pass", "owner", code="24680", language="en")
    finally:
        accounts.conn.close()


async def _trigger(hub: RunningHub, kind: str) -> None:
    """A sensor of the simulated kit reports, as it would on the radio (no demo API here)."""
    zone = next(z for z in hub.hub.state.zones.values() if z.kind == kind)
    device = hub.hub.devices[zone.device]
    await hub.daemon.drivers["simulated"].set_active(device.address, kind, True)


async def test_a_phone_without_sms_is_never_delivered(tmp_path: Path, peers: Household) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text(
        '[hub]\nlanguage = "en"\n\n[web]\ntls = "off"\n\n'
        f'[[contacts]]\nname = "Mario"\nphone = "{MARIO}"\nemail = "mario@casa.example"\nlanguage = "en"\n\n'
        f'[email]\nhost = "127.0.0.1"\nport = {peers.smtp.port}\nsecurity = "starttls"\n'
        f'username = "{USER}"\npassword = "{PASSWORD}"\nfrom = "Casa <hub@casa.example>"\n\n'
        f'{_push(peers)}\n[[drivers]]\ntype = "simulated"\n',
        encoding="utf-8",
    )
    with trusted(peers.cert):  # doctor logs in to the SMTP peer too
        # config check: a warning in people's words, not an error.
        r = await asyncio.to_thread(casahub, "config", "check", str(config))
        assert r.returncode == 0, r.stderr
        assert (
            f"warning: {config}: contacts[0].phone: Mario has a phone but no [sms] (or [gsm] modem) is configured: "
            "no SMS will be sent" in r.stdout
        )
        # doctor: "not configured", never "ok", and a failure since Mario needs it.
        r = await asyncio.to_thread(casahub, "doctor", "--config", str(config), "--data-dir", str(tmp_path / "doc"))
        assert r.returncode == 1, r.stdout + r.stderr
        sms = next(line for line in r.stdout.splitlines() if " sms " in line)
        assert sms.startswith("FAIL sms     none     not configured: no [sms] section; no SMS will be sent to Mario")
        gsm = next(line for line in r.stdout.splitlines() if " gsm " in line)
        assert gsm.startswith("--   gsm") and "not configured" in gsm  # nobody needs a modem: listed, no failure
        assert not any(line.startswith("ok ") and "not configured" in line for line in r.stdout.splitlines())
        r = await asyncio.to_thread(
            casahub, "doctor", "--json", "--config", str(config), "--data-dir", str(tmp_path / "doc")
        )
        rows = {row["channel"]: row for row in json.loads(r.stdout)}
        assert rows["sms"] == {
            "channel": "sms",
            "transport": "none",
            "ok": False,
            "configured": False,
            "needed_by": ["Mario"],
            "detail": "not configured: no [sms] section; no SMS will be sent to Mario",
        }
        assert rows["email"]["configured"] is True and rows["email"]["ok"] is True, rows["email"]

        hub = await start_hub(tmp_path / "data", config, demo=False)
        try:
            _add_owner(hub)
            async with logged_in(hub.base, "mario", "mario-pass") as api:
                await _trigger(hub, "water")
                incident = await _wait_incident(api)

                async def settled() -> list[dict[str, Any]]:
                    rows = (await api.get(f"/api/v1/notifications?incident={incident}"))["items"]
                    return rows if any(r["channel"] == "email" and r["state"] == "sent" for r in rows) else []

                rows = await _poll(settled)
                sms_rows = [r for r in rows if r["channel"] == "sms"]
                assert sms_rows and all(
                    (r["state"], r["last_error"], r["transport"], r["sent_at"])
                    == ("dead", "not_configured", "none", None)
                    for r in sms_rows
                ), sms_rows
                assert {r["step"] for r in sms_rows} == {0, 1}  # the alarm SMS and the reminder
                assert not any(r["transport"] == "log" for r in rows)
                assert not any(r["channel"] == "centre" for r in rows)  # no [centre]: reported to nobody
                assert [m.rcpt_tos for m in peers.emails()] == [["mario@casa.example"]]
                detail = await api.get(f"/api/v1/incidents/{incident}")
                assert {(n["channel"], n["state"]) for n in detail["notifications"]} >= {
                    ("sms", "dead"),
                    ("email", "sent"),
                }
                # A channel that is not configured failed nothing: no channel_failure; and email
                # reaches the household, so no no_notification_channel either.
                anomalies = (await api.get("/api/v1/anomalies?state=all"))["items"]
                assert {a["kind"] for a in anomalies} & {"channel_failure", "no_notification_channel"} == set()

                # The commissioning report: the SMS test is not sent, and the check fails.
                status, body = await api.post("/api/v1/pairing/test-messages", {"timeout": 10})
                assert status == 200, body
                tests = {t["channel"]: t for t in body["items"]}
                assert (tests["sms"]["transport"], tests["sms"]["state"]) == ("none", "not_configured")
                assert (tests["email"]["transport"], tests["email"]["state"]) == ("smtp", "sent")
                report = await api.get("/api/v1/pairing/report?lang=en")
                line = next(c for c in report["checklist"] if c["id"] == "tests")
                assert line["pass"] is False and "not configured: SMS (Mario)" in line["value"], line
                channels = {c["channel"]: c for c in report["channels"]}
                assert channels["sms"]["configured"] is False and channels["sms"]["transport"] == "none"
        finally:
            await hub.stop()


async def test_no_channel_at_all_is_an_anomaly_until_an_app_subscribes(tmp_path: Path, peers: Household) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text(
        '[hub]\nlanguage = "en"\n\n[web]\ntls = "off"\n\n'
        f'[[contacts]]\nname = "Mario"\nphone = "{MARIO}"\nlanguage = "en"\n\n{_push(peers)}',
        encoding="utf-8",
    )
    with trusted(peers.cert):
        hub = await start_hub(tmp_path / "data", config, demo=False)
        try:
            _add_owner(hub)
            async with logged_in(hub.base, "mario", "mario-pass") as api:
                active = (await api.get("/api/v1/anomalies"))["items"]
                [anomaly] = [a for a in active if a["kind"] == "no_notification_channel"]
                assert anomaly["state"] == "active" and anomaly["subject"] == "household"
                assert anomaly["manual"]["title"] == "Nobody would be told of an alarm"
                system = await api.get("/api/v1/system")
                assert "no_notification_channel" in {a["kind"] for a in system["anomalies"]}
                # Its own messages are written, and not one of them claims to be delivered by SMS.
                rows = (await api.get("/api/v1/notifications"))["items"]
                told = [r for r in rows if r["anomaly"] == anomaly["id"] and r["channel"] == "sms"]
                assert told and all((r["state"], r["last_error"]) == ("dead", "not_configured") for r in told)

                await subscribe_app(api, peers.push)  # Mario's app: push now reaches him

                async def cleared() -> bool:
                    items = (await api.get("/api/v1/anomalies"))["items"]
                    return not any(a["kind"] == "no_notification_channel" for a in items)

                await _poll(cleared)
                history = (await api.get("/api/v1/anomalies?state=all"))["items"]
                [resolved] = [a for a in history if a["kind"] == "no_notification_channel"]
                assert resolved["state"] == "resolved"
                await wait_until(lambda: len(peers.pushes()) >= 1, what="the 'resolved' push")
        finally:
            await hub.stop()


async def _wait_incident(api: Api) -> str:
    async def opened() -> str | None:
        items = (await api.get("/api/v1/incidents"))["items"]
        return items[0]["id"] if items else None

    found: str = await _poll(opened)
    return found


async def _poll(probe: Any, timeout: float = 15.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {probe.__name__}"
        await asyncio.sleep(0.1)
