"""`casahub pair report` and its API against a running hub, through the real entry point.

The demo hub covers the three formats, the walk-test results (a walk test through its API,
zones opened through the demo driver), `--send-tests` over the `log` transport (which the
report calls a demo: it proves no channel), bad input and role limits. A hub configured with
the household peers (Twilio double, aiosmtpd, the push service, the pysiaalarm receiver) shows
that the test messages really arrive.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.store.accounts import Role
from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_pair_cli import ROOT, Cli, _env, _token, one_line_error
from tests.peers import wait_until
from tests.peers.household import CONTACT, Household, household, logged_in, subscribe_app
from tests.peers.nut import NutServer, require_nut
from tests.peers.sia import kind_of, require_pysiaalarm
from tests.peers.tls import trusted

CHECKLIST = ["entry", "siren", "codes", "lockout", "log", "supervision", "power", "walk", "tests", "warning"]


class ReportCli:
    """`python -m hub.cli pair report ...` with a token, in a directory of the test's own."""

    def __init__(self, hub: RunningHub, token: str, home: Path, cwd: Path) -> None:
        self.common = ["--hub", hub.base, "--token", token]
        self.env = {**_env(home), "PYTHONPATH": str(ROOT)}
        self.cwd = cwd
        cwd.mkdir(parents=True, exist_ok=True)

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "hub.cli", "pair", "report", *args, *self.common]
        return await asyncio.to_thread(
            subprocess.run,
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
        )

    async def json(self, *args: str) -> dict[str, Any]:
        r = await self.run(*args, "--json")
        assert r.returncode == 0, r.stderr
        data: dict[str, Any] = json.loads(r.stdout)
        return data

    async def error(self, *args: str) -> str:
        r = await self.run(*args)
        return one_line_error(r.returncode, r.stderr)


def _cli(hub: RunningHub, tmp_path: Path, role: Role = "installer") -> ReportCli:
    return ReportCli(hub, _token(hub, role), tmp_path / "xdg", tmp_path / f"work-{role}")


def _checks(report: dict[str, Any]) -> dict[str, bool]:
    return {c["id"]: c["pass"] for c in report["checklist"]}


async def test_report_in_every_format_with_walk_test_results(running_hub: RunningHub, api: Api, tmp_path: Path) -> None:
    cli = _cli(running_hub, tmp_path)
    report = await cli.json()
    assert [c["id"] for c in report["checklist"]] == CHECKLIST
    assert all({"item", "value", "pass"} <= set(c) for c in report["checklist"])
    hub_id = (running_hub.data_dir / "hub.id").read_text().strip()
    assert report["hub"]["id"] == hub_id and report["hub"]["name"] == "casahub"
    assert report["hub"]["tls_fingerprint"] is None  # the demo runs without TLS
    assert report["language"] == "it" and report["delays"]["entry_delay"] == 10
    assert len(report["zones"]) == 7 and not any(z["walk_test_pass"] for z in report["zones"])
    checks = _checks(report)
    # The demo kit: short codes are not the problem, a missing UPS and untested zones are.
    assert checks["entry"] and checks["siren"] and checks["codes"] and checks["lockout"] and checks["log"]
    assert checks["supervision"] and not checks["power"] and not checks["walk"] and not checks["tests"]
    again = await cli.json("--format", "json")  # --json is the same as --format json
    assert (again["checklist"], again["zones"], again["hub"]["id"]) == (report["checklist"], report["zones"], hub_id)

    # A real walk test through its API, every zone opened through the demo driver.
    status, body = await api.post("/api/v1/pairing/walktest", {"minutes": 10})
    assert status in (200, 201), body
    zones = [z["id"] for z in (await api.get("/api/v1/zones"))["items"]]
    for zone in zones:
        await api.trigger(zone, True)
        await api.trigger(zone, False)

    await wait_until(lambda: all(z.walk_tested_at is not None for z in running_hub.hub.state.zones.values()))
    status, body = await api.request("DELETE", "/api/v1/pairing/walktest")
    assert status == 200, body
    assert (await api.get("/api/v1/incidents"))["items"] == []  # a walk test alarms nobody
    report = await cli.json("--lang", "en")
    assert report["language"] == "en"
    assert all(z["walk_test_pass"] and z["walk_tested_at"] for z in report["zones"])
    line = next(c for c in report["checklist"] if c["id"] == "walk")
    assert line == {"id": "walk", "item": "Every zone walk-tested", "value": "7 of 7 zones tested", "pass": True}

    r = await cli.run("--format", "md", "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Commissioning report: casahub")
    assert "| Every zone walk-tested | 7 of 7 zones tested | PASS |" in r.stdout
    assert "| Standby power (UPS via NUT) |" in r.stdout and "| FAIL |" in r.stdout

    output = tmp_path / "report.md"
    r = await cli.run("--output", str(output))
    assert r.returncode == 0, r.stderr
    assert str(output) in r.stdout and output.read_text(encoding="utf-8").startswith("# Verbale di collaudo")

    r = await cli.run("--format", "html")  # no --output: a file in the current directory, and we are told where
    assert r.returncode == 0, r.stderr
    [page] = list(cli.cwd.glob("commissioning-casahub-*.html"))
    assert page.name == f"commissioning-casahub-{report['generated_at'][:10]}.html"
    assert str(page) in r.stdout
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "Verbale di collaudo" in html


async def test_send_tests_on_the_demo_log_transport(running_hub: RunningHub, api: Api, tmp_path: Path) -> None:
    cli = _cli(running_hub, tmp_path)
    assert _checks(await cli.json())["tests"] is False
    report = await cli.json("--send-tests", "--timeout", "5")
    tests = {t["channel"]: t for t in report["test_messages"]}
    assert sorted(tests) == ["centre", "email", "push", "sms"]
    assert all((t["transport"], t["state"], t["error"]) == ("log", "sent", None) for t in tests.values())
    assert tests["sms"]["recipient"] == "Famiglia Demo (+39 ••• ••• 0000)"
    assert tests["email"]["recipient"] == "Famiglia Demo (f•••@example.invalid)"
    # Written to the log is what the demo does, and it proves no channel: the line says so.
    line = next(c for c in report["checklist"] if c["id"] == "tests")
    value = line["value"]  # the channels in Italian words (issue 18)
    assert line["pass"] is False and value.startswith("demo, solo nel registro: SMS, email, notifiche app, centrale")
    channels = {c["channel"]: c for c in report["channels"]}
    assert channels["sms"]["configured"] is False and channels["sms"]["demo"] is True
    assert channels["sms"]["last_test"]["state"] == "sent"
    events = (await api.get("/api/v1/events?kind=test_messages_sent"))["items"]
    assert len(events) == 1 and events[0]["actor"].startswith("token:")
    # Nothing went through the outbox: a test is not a notification of the household.
    assert all(n["template"] != "test" for n in (await api.get("/api/v1/notifications"))["items"])


async def test_terminal_shows_the_tests_and_renders_the_markdown(running_hub: RunningHub, tmp_path: Path) -> None:
    cli = Cli(running_hub, _token(running_hub), tmp_path / "xdg")
    code, out = await asyncio.to_thread(
        cli.terminal, "pair", "report", "--send-tests", "--timeout", "5", "--lang", "en"
    )
    assert code == 0, out
    assert "Test messages" in out and "CHANNEL" in out and "+39 ••• ••• 0000" in out
    # rich renders the markdown: headings and tables without their markup
    assert "Commissioning report: casahub" in out and "# Commissioning" not in out
    assert "EN 50131 grade 2 checklist" in out and "|---|" not in out


async def test_api_formats_headers_and_validation(api: Api, anon: Api) -> None:
    status, text = await api.request("GET", "/api/v1/pairing/report?format=md&lang=en")
    assert status == 200 and api.last_headers["Content-Type"].startswith("text/markdown")
    assert text.startswith("# Commissioning report")
    status, page = await api.request("GET", "/api/v1/pairing/report?format=html")
    assert status == 200 and api.last_headers["Content-Type"].startswith("text/html")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and page.count("<style>") == 1
    csp = api.last_headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "style-src 'sha256-" in csp and api.last_headers["X-Content-Type-Options"] == "nosniff"
    status, body = await api.request("GET", "/api/v1/pairing/report?format=pdf")
    assert (status, body["field"]) == (400, "format")
    status, body = await api.request("GET", "/api/v1/pairing/report?lang=fr")
    assert (status, body["field"]) == (400, "lang")
    for bad, field in (({"timeout": 0}, "timeout"), ({"timeout": 121}, "timeout"), ({"to": "x"}, "to")):
        status, body = await api.post("/api/v1/pairing/test-messages", bad)
        assert status == 400 and body["error"] == f"invalid_field:{field}", body
    status, body = await api.request("POST", "/api/v1/pairing/test-messages", raw=b"{nope")
    assert (status, body["error"]) == (400, "malformed_json")
    for method, path in (("GET", "/api/v1/pairing/report"), ("POST", "/api/v1/pairing/test-messages")):
        status, body = await anon.request(method, path, {})
        assert (status, body["error"]) == (401, "unauthorized")


async def test_members_may_not_see_the_report(running_hub: RunningHub, tmp_path: Path) -> None:
    member = _cli(running_hub, tmp_path, "member")
    line = await member.error()
    assert "the member role may not do this (HTTP 403)" in line
    line = await member.error("--send-tests")
    assert "the member role may not do this (HTTP 403)" in line
    owner = _cli(running_hub, tmp_path, "owner")
    assert (await owner.json())["report"] == "commissioning"


async def test_bad_cli_input_gives_one_line_errors(running_hub: RunningHub, tmp_path: Path) -> None:
    cli = _cli(running_hub, tmp_path)
    assert "--timeout: between 1 and 120 seconds" in await cli.error("--send-tests", "--timeout", "500")
    assert "--json and --format md disagree" in await cli.error("--json", "--format", "md")
    line = await cli.error("--output", str(tmp_path / "no-such-dir" / "r.md"))
    assert "--output: cannot write" in line


# --------------------------------------------------------------------------- real peers


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


async def test_send_tests_reach_the_real_peers(tmp_path: Path, peers: Household) -> None:
    config = peers.write_config(tmp_path / "casahub.toml", language="en")
    with trusted(peers.cert):
        hub = await start_hub(tmp_path / "data", config)
        try:
            async with logged_in(hub.base) as api:
                cli = _cli(hub, tmp_path)
                before = await cli.json("--send-tests", "--timeout", "20")
                await subscribe_app(api, peers.push)  # the demo user's app, as the dashboard subscribes it
                report = await cli.json("--send-tests", "--timeout", "20")
        finally:
            await hub.stop()

    # Without an app on any phone a push test proves nothing: it fails and says why.
    push = next(t for t in before["test_messages"] if t["channel"] == "push")
    assert (push["state"], push["error"]) == ("failed", "no app subscribed for Anna Rossi"), push
    assert _checks(before)["tests"] is False

    tests = {t["channel"]: t for t in report["test_messages"]}
    assert {ch: (t["transport"], t["state"]) for ch, t in tests.items()} == {
        "sms": ("twilio", "sent"),
        "email": ("smtp", "sent"),
        "push": ("webpush", "sent"),
        "centre": ("dc09", "sent"),
    }, tests
    assert _checks(report)["tests"] is True
    assert tests["sms"]["recipient"] == "Anna Rossi (+39 ••• ••• 4567)"
    assert tests["email"]["recipient"] == "Anna Rossi (a•••@casa.example)"
    # What the peers received: the test text, to the contact, and a periodic test at the centre.
    sms = peers.twilio.sms()
    assert len(sms) == 2 and all(s["To"] == CONTACT["phone"] and "casahub: test message" in s["Body"] for s in sms)
    mails = peers.emails()
    assert len(mails) == 2
    assert all(m.rcpt_tos == [CONTACT["email"]] and m.message["Subject"] == "casahub: test message" for m in mails)
    assert len(peers.pushes()) == 1
    centre = peers.centre.reports()
    assert len(centre) == 2 and all(kind_of(c) in ("ADM-CID", "SIA-DCS") and c.code in ("602", "RP") for c in centre)
    # The report itself never carries the number, the address or the centre key.
    dumped = json.dumps(report, ensure_ascii=False)
    assert CONTACT["phone"] not in dumped and CONTACT["email"] not in dumped
    assert report["centre"]["encrypted"] is True and "key" not in report["centre"]


async def test_standby_power_passes_with_an_online_ups_from_nut(tmp_path: Path) -> None:
    require_nut()
    nut = NutServer(tmp_path / "nut")
    await nut.start()
    config = tmp_path / "casahub.toml"
    config.write_text(
        f'[[drivers]]\ntype = "nut"\nhost = "127.0.0.1"\nport = {nut.port}\nups = "{nut.ups}"\n'
        f'username = "{nut.username}"\npassword = "{nut.password}"\ndebounce = 1\npoll = 0.3\n'
    )
    hub = await start_hub(tmp_path / "data", config)
    try:
        async with logged_in(hub.base) as api:

            async def power() -> dict[str, Any]:
                report = await api.get("/api/v1/pairing/report?lang=en")
                return next(c for c in report["checklist"] if c["id"] == "power")

            await wait_until(lambda: any(d.driver == "nut" for d in hub.hub.devices.values()), what="the UPS")
            line = await power()
            assert line["pass"] is True and line["value"].endswith("online"), line
            await nut.stop_driver()  # upsd answers DRIVER-NOT-CONNECTED: the UPS is lost
            await wait_until(
                lambda: not any(d.online for d in hub.hub.devices.values() if d.driver == "nut"), what="UPS offline"
            )
            line = await power()
            assert line["pass"] is False and line["value"].endswith("offline"), line
    finally:
        await hub.stop()
        await nut.stop()


async def test_the_report_names_the_hub_and_its_tls_certificate(tmp_path: Path) -> None:
    from hub.system.certs import fingerprint

    config = tmp_path / "casahub.toml"
    config.write_text('[hub]\nname = "Casa Rossi"\nlanguage = "en"\n\n[web]\ntls = "auto"\n')
    hub = await start_hub(tmp_path / "data", config)
    try:
        base = hub.base.replace("http://", "https://")
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False), cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as session:
            api = Api(base, session)
            await api.login()
            report = await api.get("/api/v1/pairing/report")
    finally:
        await hub.stop()
    assert report["hub"]["name"] == "Casa Rossi" and report["language"] == "en"  # [hub] language is the default
    assert report["hub"]["tls_fingerprint"] == fingerprint(tmp_path / "data" / "certs" / "hub.crt")
