"""Photo verification delivered, on the demo hub (its camera draws its own pictures) with real peers:
the alarm e-mail of an armed intrusion carries the frames from before the trigger and a follow-up
e-mail the ones after it (aiosmtpd, STARTTLS + AUTH); a webhook centre gets one signed POST with the
frames (an aiohttp receiver that checks the signature like a centre). The owner's privacy setting
`record_when_disarmed`: off, a disarmed panic alarm stores nothing; on, it gets photos; only the
owner may change it, the change is audited, and it survives a restart. A restored backup keeps the
cameras' event tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from alarms.model import Incident
from alarms.policy import Contact, plan_photos
from drivers.camera.feed import CameraFeed
from hub.backup.archive import create_backup
from hub.backup.restore import restore_backup
from hub.cameras.snapshots import AFTER, BEFORE
from hub.config import EmailConfig, Secret
from hub.transports.base import Delivered, OutgoingMessage
from hub.transports.email import SmtpEmail
from hub.web.context import CONTEXT
from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_camera_live import CAMERA as CONFIG_CAMERA
from tests.integration.test_camera_live import camera_config
from tests.peers import free_port, wait_until
from tests.peers.smtp import PASSWORD, USER, Server, serve_smtp
from tests.peers.tls import self_signed_cert, trusted

CAMERA = "simulated-sim-camera-1"
DOOR = "simulated-sim-contact-1"
SECRET = "centre-s3cret"
CODE = "12345"


class WebhookReceiver:
    """A centre's webhook endpoint: refuses a bad signature, keeps the JSON of the rest."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Casahub-Signature", "")):
            return web.json_response({"error": "bad signature"}, status=401)
        self.received.append(json.loads(body))
        return web.json_response({"ok": True})

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r.get("type") == kind]


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver()
    app = web.Application(client_max_size=16 << 20)
    app.router.add_post("/centre", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield receiver, f"http://127.0.0.1:{port}/centre"
    await runner.cleanup()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Server]:
    cert = self_signed_cert(tmp_path / "tls")
    with trusted(cert), serve_smtp(cert) as server:
        yield server


def peers_config(tmp_path: Path, smtp: Server, webhook_url: str) -> Path:
    path = tmp_path / "casahub.toml"
    path.write_text(
        f"""\
[alarm]
exit_delay = 0
entry_delay = 0

[escalation]
ack_timeout = 3600

[[contacts]]
name = "Anna Rossi"
email = "anna@casa.example"
language = "en"
push = false

[email]
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
username = {json.dumps(USER)}
password = {json.dumps(PASSWORD)}
from = "Casa Rossi <hub@casa.example>"

[centre]
protocol = "webhook"
url = "{webhook_url}"
secret = "{SECRET}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client


def demo_feed(running: RunningHub) -> CameraFeed:
    feed: CameraFeed = running.daemon.drivers["simulated"].cameras()[0]
    return feed


def jpegs(message: EmailMessage) -> list[tuple[str, bytes]]:
    found = []
    for part in message.iter_attachments():
        assert part.get_content_type() == "image/jpeg"
        data = part.get_content()
        assert isinstance(data, bytes)
        found.append((str(part.get_filename()), data))
    return found


def decodes(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format == "JPEG" and image.width > 0


def taken_at(name: str) -> float:
    return int(name.removesuffix(".jpg").rpartition("-")[2]) / 1000


async def armed_with_frames(api: Api, running: RunningHub) -> None:
    feed = demo_feed(running)
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200 and body["mode"] == "armed_away", body
    await wait_until(lambda: "snapshots" in feed.needs, what="the ring buffer to start")
    first = feed.latest.seq if feed.latest else 0
    await wait_until(lambda: feed.latest is not None and feed.latest.seq >= first + 5, what="a few armed frames")


async def test_an_intrusion_mails_its_photos_and_posts_them_to_the_webhook_centre(
    tmp_path: Path, smtp: Server, webhook: tuple[WebhookReceiver, str], session: aiohttp.ClientSession
) -> None:
    receiver, url = webhook
    running = await start_hub(tmp_path / "data", peers_config(tmp_path, smtp, url))
    try:
        api = Api(running.base, session)
        await api.login()
        await armed_with_frames(api, running)
        await api.trigger(DOOR)
        await wait_until(lambda: bool(running.hub.state.incidents), what="the intrusion")
        incident = next(iter(running.hub.state.incidents.values()))
        assert incident.kind == "intrusion"

        # The alarm e-mail, sent at once, carries frames from before the trigger.
        await wait_until(lambda: smtp.mailbox.messages(), timeout=15, what="the alarm e-mail")
        alarm = smtp.mailbox.messages()[0].message
        assert "alarm" in str(alarm["Subject"]).lower() and "photos" not in str(alarm["Subject"]).lower()
        before = jpegs(alarm)
        assert 1 <= len(before) <= 3 and sum(len(d) for _, d in before) <= 1 << 20
        assert all(decodes(data) for _, data in before)
        assert all(incident.opened_at - BEFORE - 1 <= taken_at(n) <= incident.opened_at for n, _ in before)
        assert alarm["Content-Language"] == "en"

        # Then the follow-up with the frames after it, to the same address.
        await wait_until(lambda: len(smtp.mailbox.messages()) >= 2, timeout=20, what="the photos e-mail")
        follow = smtp.mailbox.messages()[1]
        assert follow.rcpt_tos == ["anna@casa.example"]
        assert str(follow.message["Subject"]).startswith("Photos after the")
        assert incident.id in follow.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        after = jpegs(follow.message)
        assert 1 <= len(after) <= 3 and all(decodes(data) for _, data in after)
        assert all(incident.opened_at < taken_at(n) <= incident.opened_at + AFTER + 1 for n, _ in after)

        # The webhook centre: the alarm report, then one signed POST with the snapshots.
        await wait_until(lambda: receiver.of_type("snapshots"), timeout=15, what="the snapshots POST")
        assert "burglary" in [r["report"]["code"] for r in receiver.of_type("report")]
        [posted] = receiver.of_type("snapshots")
        assert posted["incident"] == incident.id and "report" not in posted
        shots = posted["snapshots"]
        assert shots and all(s["camera"] == CAMERA and s["content_type"] == "image/jpeg" for s in shots)
        assert all(decodes(base64.b64decode(s["data"])) for s in shots)
        times = [datetime.fromisoformat(s["at"]).timestamp() for s in shots]
        assert all(incident.opened_at < t <= incident.opened_at + AFTER + 1 for t in times)

        # Both follow-ups are outbox rows of the incident, sent; the rows hold paths, not pictures.
        sent: list[str] = []
        for _ in range(200):  # the peers have them; the hub records the results right after
            rows = (await api.get(f"/api/v1/notifications?incident={incident.id}"))["items"]
            sent = [r["channel"] for r in rows if r["state"] == "sent"]
            if sent.count("email") == 2 and sent.count("centre") >= 2:
                break
            await asyncio.sleep(0.05)
        assert sent.count("email") == 2 and sent.count("centre") >= 2, sent
        stored = await running.hub.db.fetchall("SELECT payload FROM outbox WHERE payload LIKE '%photos%'")
        assert len(stored) == 3 and all(len(r["payload"]) < 4096 for r in stored)
    finally:
        await running.stop()


async def test_a_missing_or_foreign_photo_file_is_skipped_not_a_failed_email(tmp_path: Path, smtp: Server) -> None:
    folder = tmp_path / "data" / "snapshots" / "inc-7"
    folder.mkdir(parents=True)
    kept = folder / f"{CAMERA}-1700000000000.jpg"
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, format="JPEG")
    kept.write_bytes(picture.getvalue())
    config = EmailConfig(
        host="127.0.0.1",
        port=smtp.port,
        username=USER,
        password=Secret(PASSWORD),
        from_="Casa Rossi <hub@casa.example>",
    )
    message = OutgoingMessage(
        id=7,
        channel="email",
        recipient="Anna Rossi",
        address="anna@casa.example",
        language="en",
        subject="ALARM intrusion",
        body="Alarm.",
        short="ALARM",
        incident="inc-7",
        payload={
            "photos": [
                str(folder / f"{CAMERA}-1700000001000.jpg"),  # gone (retention, a restore)
                str(tmp_path / "casahub.db"),  # not a snapshot: never attached
                str(kept),
            ]
        },
    )
    outcome = await SmtpEmail(config).send(message)
    assert isinstance(outcome, Delivered), outcome
    [received] = smtp.mailbox.messages()
    assert [name for name, _ in jpegs(received.message)] == [kept.name]
    assert received.message["Content-Language"] == "en"


@pytest.fixture
async def quick_hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 0\nentry_delay = 0\n")
    running = await start_hub(tmp_path / "data", config)
    try:
        yield running
    finally:
        await running.stop()


async def test_record_when_disarmed_is_the_owners_choice(
    tmp_path: Path, quick_hub: RunningHub, session: aiohttp.ClientSession
) -> None:
    owner = Api(quick_hub.base, session)
    await owner.login()
    feed = demo_feed(quick_hub)
    assert await owner.get("/api/v1/cameras/settings") == {"record_when_disarmed": False}
    panic = await owner.zone_id("panic")

    # Off (the default): a disarmed panic alarm stores no picture.
    await owner.trigger(panic)
    await wait_until(lambda: bool(quick_hub.hub.state.incidents), what="the panic incident")
    first = next(iter(quick_hub.hub.state.incidents.values()))
    seq = feed.latest.seq if feed.latest else 0
    async with session.get(f"{owner.base}/api/v1/cameras/{CAMERA}/stream") as stream:  # frames flow
        assert stream.status == 200
        await wait_until(lambda: feed.latest is not None and feed.latest.seq >= seq + 3, what="frames")
    assert "snapshots" not in feed.needs
    assert (await owner.get(f"/api/v1/incidents/{first.id}"))["snapshots"] == []
    assert not (quick_hub.data_dir / "snapshots").exists()
    await owner.trigger(panic, active=False)
    status, body = await owner.post(f"/api/v1/incidents/{first.id}/resolve", {})
    assert status == 200, body

    # A member may read the setting but not change it; bad bodies name the field.
    app = quick_hub.daemon.app
    assert app is not None
    accounts = app[CONTEXT].accounts
    _, token = await asyncio.to_thread(accounts.create_token, "member")
    member = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{owner.base}/api/v1/cameras/settings", headers=member) as response:
        assert response.status == 200
    async with session.patch(
        f"{owner.base}/api/v1/cameras/settings", json={"record_when_disarmed": True}, headers=member
    ) as response:
        assert response.status == 403
    status, body = await owner.request("PATCH", "/api/v1/cameras/settings", {"record_when_disarmed": "yes"})
    assert status == 400 and body["field"] == "record_when_disarmed", body
    status, body = await owner.request("PATCH", "/api/v1/cameras/settings", {"record": True})
    assert status == 400, body
    assert await owner.get("/api/v1/cameras/settings") == {"record_when_disarmed": False}

    # On: the ring buffer runs while disarmed, and the next panic alarm gets photos.
    status, body = await owner.request("PATCH", "/api/v1/cameras/settings", {"record_when_disarmed": True})
    assert status == 200 and body == {"record_when_disarmed": True}
    changed = (await owner.get("/api/v1/events?kind=camera_settings_changed"))["items"]
    assert changed[0]["actor"] == "demo" and changed[0]["data"] == {"record_when_disarmed": True}
    assert quick_hub.hub.state.mode == "disarmed"
    await wait_until(lambda: "snapshots" in feed.needs, what="the ring buffer while disarmed")
    seq = feed.latest.seq if feed.latest else 0
    await wait_until(lambda: feed.latest is not None and feed.latest.seq >= seq + 4, what="buffered frames")
    await owner.trigger(panic)
    await wait_until(
        lambda: any(i.id != first.id for i in quick_hub.hub.state.incidents.values()), what="a second panic"
    )
    second = next(i for i in quick_hub.hub.state.incidents.values() if i.id != first.id)
    assert second.kind == "panic"
    folder = quick_hub.data_dir / "snapshots" / second.id
    await wait_until(lambda: folder.is_dir() and any(folder.iterdir()), what="the panic's photos")
    shots = (await owner.get(f"/api/v1/incidents/{second.id}"))["snapshots"]
    assert shots and {s["camera"] for s in shots} == {CAMERA}

    # The setting survives a restart.
    await quick_hub.stop()
    again = await start_hub(quick_hub.data_dir, tmp_path / "casahub.toml")
    try:
        api = Api(again.base, session)
        await api.login()
        assert await api.get("/api/v1/cameras/settings") == {"record_when_disarmed": True}
        await wait_until(lambda: "snapshots" in demo_feed(again).needs, what="the ring buffer after the restart")
    finally:
        await again.stop()


async def test_a_restored_hub_accepts_the_old_camera_token(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    config = camera_config(tmp_path, "http://127.0.0.1:9/", motion="camera")
    running = await start_hub(tmp_path / "data", config)
    try:
        api = Api(running.base, session)
        await api.login()
        status, body = await api.post(f"/api/v1/cameras/{CONFIG_CAMERA}/token", {})
        assert status == 201, body
        token = body["token"]
        info = create_backup(running.data_dir, tmp_path / "hub.backup", config_path=config)
        assert "camera-tokens.json" in info.members
    finally:
        await running.stop()
    restored = tmp_path / "restored"
    restore_backup(tmp_path / "hub.backup", restored)
    assert (restored / "camera-tokens.json").stat().st_mode & 0o777 == 0o600
    again = await start_hub(restored, restored / "casahub.toml")
    try:
        path = f"/api/v1/cameras/{CONFIG_CAMERA}/events"
        async with aiohttp.ClientSession() as camera:
            async with camera.post(f"{again.base}{path}?token={token}", json={"motion": True}) as response:
                assert response.status == 200, await response.text()
            async with camera.post(f"{again.base}{path}?token=chc_wrong", json={"motion": True}) as response:
                assert response.status == 401
    finally:
        await again.stop()


def test_the_photos_follow_up_goes_where_the_alarm_went() -> None:
    contacts = [
        Contact(name="Anna", email="anna@casa.example", language="en"),
        Contact(name="Luca", phone="+393331234567"),  # no e-mail: no photos
    ]
    intrusion = Incident(id="inc-1", kind="intrusion", state="active", opened_at=1_700_000_000.0)
    plan = plan_photos(intrusion, 4, contacts, centre=True)
    assert [(m.channel, m.recipient, m.address) for m in plan] == [
        ("email", "Anna", "anna@casa.example"),
        ("centre", "centre", None),
    ]
    assert all(m.template == "incident.photos" and m.incident == "inc-1" for m in plan)
    assert [m.channel for m in plan_photos(intrusion, 4, contacts, centre=False)] == ["email"]
    # Whoever typed a duress code may be next to the intruder: the pictures go to the centre only.
    duress = Incident(id="inc-2", kind="duress", state="active", opened_at=1_700_000_000.0)
    assert [m.channel for m in plan_photos(duress, 4, contacts, centre=True)] == ["centre"]
    assert plan_photos(duress, 4, contacts, centre=False) == []
