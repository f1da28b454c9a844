"""`GET /metrics` (hub/export/metrics.py): Prometheus text that the official parser reads, values that
follow the hub (an alarm, arming, a fault, a device going offline), and who may read it.

The route is mounted here on an app of its own that shares the running hub's WebContext (the
daemon wires it into the main app); access rules are also checked on the handler directly with
a remote peer address, since everything a test can connect from is loopback.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client.parser import text_string_to_metric_families

from hub.export.metrics import CONTENT_TYPE, LoopLagMonitor, is_loopback, metrics_handler, render_metrics
from hub.web.context import CONTEXT, WebContext
from tests.conftest import Api, RunningHub
from tests.peers import free_port, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """(family name -> type, (sample name, sorted labels) -> value), through prometheus_client's parser."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in types, f"family {family.name} twice"
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, f"sample {key} twice"
            samples[key] = sample.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


def ctx_of(running: RunningHub) -> WebContext:
    app = running.daemon.app
    assert app is not None
    return app[CONTEXT]


async def scrape(running: RunningHub, **kwargs: Any) -> tuple[dict[str, str], Samples, str]:
    hub = running.hub
    text = await render_metrics(hub, drivers=running.daemon.drivers, dispatcher=hub.dispatcher, loop_lag=0.0, **kwargs)
    types, samples = parse(text)
    return types, samples, text


@pytest.fixture
async def metrics_url(running_hub: RunningHub) -> AsyncIterator[str]:
    """`/metrics` served over HTTP on loopback, as the daemon wires it."""
    lag = LoopLagMonitor(interval=0.05)
    lag_task = asyncio.create_task(lag.run())
    app = web.Application()
    app[CONTEXT] = ctx_of(running_hub)
    app.router.add_get("/metrics", metrics_handler(lambda: running_hub.hub, lag=lag, version="test"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await wait_until(lambda: lag.samples > 0, what="a loop-lag sample")
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        lag_task.cancel()
        await runner.cleanup()


async def test_metrics_over_http_parse_as_prometheus_text(metrics_url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(metrics_url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE
        text = await response.text()
    types, samples = parse(text)
    assert types["casahub_events"] == "counter"  # the parser names counters without `_total`
    for name in (
        "casahub_mode",
        "casahub_incidents",
        "casahub_anomalies_active",
        "casahub_notifications",
        "casahub_outbox_depth",
        "casahub_centre_link_up",
        "casahub_devices",
        "casahub_device_battery_min_percent",
        "casahub_event_loop_lag_seconds",
        "casahub_db_size_bytes",
        "process_resident_memory_bytes",
        "casahub_uptime_seconds",
    ):
        assert types[name] == "gauge", name
    assert value(samples, "casahub_build_info", version="test") == 1
    assert value(samples, "casahub_mode", mode="disarmed") == 1
    assert sum(v for (n, _), v in samples.items() if n == "casahub_mode") == 1
    assert value(samples, "casahub_ready") == 1
    assert value(samples, "casahub_db_size_bytes") > 0
    assert value(samples, "process_resident_memory_bytes") > 1_000_000
    assert 0 <= value(samples, "casahub_event_loop_lag_seconds") < 5
    assert value(samples, "casahub_centre_link_up", transport="log") == 1
    assert value(samples, "casahub_devices", driver="simulated", state="online") == 9  # the kit, a siren, a valve
    assert value(samples, "casahub_driver_running", driver="simulated") == 1
    assert value(samples, "casahub_metrics_storage_ok") == 1


async def test_values_follow_an_alarm(api: Api, running_hub: RunningHub) -> None:
    _, before, _ = await scrape(running_hub)
    assert value(before, "casahub_incidents", kind="water", state="active") == 0
    opened_before = before.get(("casahub_events_total", (("kind", "incident_opened"),)), 0.0)

    water = await api.zone_id("water")
    await api.trigger(water)
    _, after, _ = await scrape(running_hub)
    assert value(after, "casahub_incidents", kind="water", state="active") == 1
    assert value(after, "casahub_events_total", kind="incident_opened") == opened_before + 1
    assert value(after, "casahub_zones", kind="water", condition="active") == 1
    # The alarm's messages are in the outbox, counted by channel and state.
    rows = await running_hub.hub.db.fetchall("SELECT channel, state, COUNT(*) AS n FROM outbox GROUP BY channel, state")
    for row in rows:
        assert value(after, "casahub_notifications", channel=row["channel"], state=row["state"]) == row["n"]
    assert sum(value(after, "casahub_notifications", channel="sms", state=s) for s in ("pending", "sent")) >= 1
    waiting = sum(
        v
        for (n, labels), v in after.items()
        if n == "casahub_notifications" and labels[1][1] in ("pending", "scheduled")
    )
    assert value(after, "casahub_outbox_depth") == waiting

    # The counter only grows, by the rows added since the last scrape.
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345", "force": True})
    assert status == 200, body
    _, armed, _ = await scrape(running_hub)
    assert value(armed, "casahub_mode", mode="arming_away") == 1
    assert value(armed, "casahub_mode", mode="disarmed") == 0
    assert value(armed, "casahub_events_total", kind="arm_request") == 1
    for (name, labels), v in after.items():
        if name == "casahub_events_total":
            assert armed[name, labels] >= v


async def test_faults_and_driver_health(api: Api, running_hub: RunningHub) -> None:
    hub = running_hub.hub
    await hub.raise_fault("centre_unreachable", "centre")
    simulated = running_hub.daemon.drivers["simulated"]
    device = next(d for d in hub.devices.values() if d.driver == "simulated")
    await simulated.set_battery(device.address, 7)
    await simulated.set_online(device.address, False)
    await wait_until(lambda: not device.online and device.battery == 7, what="the device's health")
    _, samples, _ = await scrape(running_hub)
    assert value(samples, "casahub_centre_link_up", transport="log") == 0
    assert value(samples, "casahub_anomalies_active", kind="centre_unreachable") == 1
    assert value(samples, "casahub_devices", driver="simulated", state="offline") == 1
    assert value(samples, "casahub_devices", driver="simulated", state="online") == 8
    assert value(samples, "casahub_device_battery_min_percent", driver="simulated") == 7
    await hub.raise_fault("centre_unreachable", "centre", active=False)
    _, samples, _ = await scrape(running_hub)
    assert value(samples, "casahub_centre_link_up", transport="log") == 1


async def test_centre_round_trip_time_when_the_transport_knows_it(running_hub: RunningHub) -> None:
    hub = running_hub.hub
    drivers = running_hub.daemon.drivers
    timed = SimpleNamespace(channels={"log": SimpleNamespace(last_rtt=0.25)})
    text = await render_metrics(hub, drivers=drivers, dispatcher=timed, loop_lag=0.0)
    assert value(parse(text)[1], "casahub_centre_rtt_seconds", transport="log") == 0.25
    text = await render_metrics(hub, drivers=drivers, dispatcher=hub.dispatcher, loop_lag=0.0)
    assert "casahub_centre_rtt_seconds" not in text  # unknown: omitted, never a made-up 0


async def test_a_duress_code_leaves_no_trace_in_the_metrics(api: Api, running_hub: RunningHub) -> None:
    accounts = ctx_of(running_hub).accounts
    await asyncio.to_thread(accounts.add_user, "anna", "password", "owner", code="24680", duress_code="86420")
    _, before, _ = await scrape(running_hub)
    status, body = await api.post("/api/v1/system/disarm", {"code": "86420"})
    assert status == 200, body
    duress = await running_hub.hub.db.fetchall("SELECT id FROM incidents WHERE kind = 'duress'")
    assert duress, "the duress code raised its (silent) incident"
    _, after, text = await scrape(running_hub)
    assert "duress" not in text
    opened = ("casahub_events_total", (("kind", "incident_opened"),))
    assert after.get(opened, 0) == before.get(opened, 0)
    assert value(after, "casahub_notifications", channel="centre", state="pending") + value(
        after, "casahub_notifications", channel="centre", state="sent"
    ) == value(before, "casahub_notifications", channel="centre", state="pending") + value(
        before, "casahub_notifications", channel="centre", state="sent"
    )


async def test_a_failing_database_still_gives_the_in_memory_metrics(running_hub: RunningHub) -> None:
    hub = running_hub.hub

    async def broken(*_: Any, **__: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    with mock.patch.object(hub.db, "fetchall", broken), mock.patch.object(hub.db, "fetchone", broken):
        _, samples, _ = await scrape(running_hub)
    assert value(samples, "casahub_metrics_storage_ok") == 0
    assert value(samples, "casahub_mode", mode="disarmed") == 1
    assert value(samples, "casahub_devices", driver="simulated", state="online") == 9  # the kit, a siren, a valve


async def test_loop_lag_monitor_sees_a_blocked_loop() -> None:
    monitor = LoopLagMonitor(interval=0.05)
    task = asyncio.create_task(monitor.run())
    try:
        await wait_until(lambda: monitor.samples >= 1, what="a first sample")
        await asyncio.sleep(0.01)
        time.sleep(0.3)  # a synchronous call blocking the loop  # noqa: ASYNC251
        await wait_until(lambda: monitor.max >= 0.2, what="the lag to show")
    finally:
        task.cancel()


# --------------------------------------------------------------------------- access


def _request(app: web.Application, peer: str, headers: dict[str, str] | None = None) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 40000) if name == "peername" else default
    return make_mocked_request("GET", "/metrics", headers=headers or {}, app=app, transport=transport)


@pytest.fixture
async def app(running_hub: RunningHub) -> web.Application:
    application = web.Application()
    application[CONTEXT] = ctx_of(running_hub)
    return application


async def test_access_from_this_machine_or_with_a_token(running_hub: RunningHub, app: web.Application) -> None:
    handler = metrics_handler(lambda: running_hub.hub)
    accounts = ctx_of(running_hub).accounts
    _, token = await asyncio.to_thread(accounts.create_token, "member")
    bearer = {"Authorization": f"Bearer {token}"}

    for peer in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        response = await handler(_request(app, peer))
        assert response.status == 200, peer

    for peer, headers in (
        ("192.168.1.20", {}),
        ("203.0.113.9", {"Authorization": "Bearer chb_00000000_notatoken"}),
        ("2001:db8::1", {"Authorization": "Bearer "}),
        ("203.0.113.9", {"Cookie": "casahub_session=forged"}),
        # Through a reverse proxy on the hub itself: the peer is loopback, the client is not.
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}),
    ):
        response = await handler(_request(app, peer, headers))
        assert response.status == 401, (peer, headers)
        assert isinstance(response, web.Response) and isinstance(response.body, bytes)
        assert response.content_type == "application/json"
        assert b'"error": "unauthorized"' in response.body

    for peer, headers in (("203.0.113.9", bearer), ("127.0.0.1", {**bearer, "X-Forwarded-For": "203.0.113.9"})):
        response = await handler(_request(app, peer, headers))
        assert response.status == 200, (peer, headers)
        assert isinstance(response, web.Response) and isinstance(response.body, bytes)
        parse(response.body.decode())

    # A revoked token is no credential.
    token_id = token.split("_")[1]
    await asyncio.to_thread(accounts.revoke_token, token_id)
    assert (await handler(_request(app, "203.0.113.9", bearer))).status == 401


async def test_while_the_hub_is_not_built_yet(app: web.Application) -> None:
    response = await metrics_handler(lambda: None)(_request(app, "127.0.0.1"))
    assert response.status == 503


async def test_is_loopback_refuses_what_is_not_an_address() -> None:
    application = web.Application()
    assert not is_loopback(_request(application, "not-an-ip"))
    assert not is_loopback(_request(application, ""))
    assert is_loopback(_request(application, "127.0.0.1"))
