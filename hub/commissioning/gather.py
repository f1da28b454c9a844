"""Reading the running hub (engine state, device telemetry, config, accounts, the test-message
results) into `Facts`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.commissioning.driver_traits import _standby_power
from hub.commissioning.facts import ChannelTestResult, DeviceFacts, Facts, UserFacts
from hub.store.output_tests import confirmed_tests


async def latest_tests(db: Any) -> dict[str, ChannelTestResult]:
    """The newest test-message result per channel."""
    rows = await db.fetchall(
        "SELECT t.* FROM test_messages t JOIN (SELECT channel, MAX(id) AS id FROM test_messages GROUP BY channel) m"
        " ON t.id = m.id"
    )
    return {
        r["channel"]: ChannelTestResult(
            channel=r["channel"],
            transport=r["transport"],
            recipient=r["recipient"],
            state=r["state"],
            error=r["error"],
            at=r["at"],
        )
        for r in rows
    }


async def gather(
    hub: Any,
    *,
    config: Any,
    data_dir: Path | None,
    drivers: Mapping[str, Any],
    code_throttle: Any,
    version: str,
    tls: bool,
) -> Facts:
    """Read the running hub (`hub.runtime.Hub`) and the web context into Facts."""
    from hub.system.discovery import hub_id, tls_fingerprint

    devices = [
        DeviceFacts(
            id=d.id,
            driver=d.driver,
            name=d.name,
            room=d.room,
            model=d.model,
            battery=d.battery,
            signal=d.signal,
            online=d.online,
            last_seen=d.last_seen,
            expected_interval=hub.expected_interval(d.driver, d.address),
        )
        for d in hub.devices.values()
    ]
    users = [
        UserFacts(
            username=r["username"],
            role=r["role"],
            has_code=bool(r["has_code"]),
            code_grade2=None if r["code_grade2"] is None else bool(r["code_grade2"]),
            has_duress=bool(r["has_duress"]),
            duress_grade2=None if r["duress_grade2"] is None else bool(r["duress_grade2"]),
        )
        for r in await hub.db.fetchall(
            "SELECT username, role, code_hash IS NOT NULL AS has_code, code_grade2,"
            " duress_hash IS NOT NULL AS has_duress, duress_grade2 FROM users ORDER BY username"
        )
    ]
    stored = await hub.db.fetchone("SELECT COUNT(*) FROM events")
    name = config.hub.name if config is not None else "casahub"
    return Facts(
        name=name,
        hub_id=hub_id(data_dir) if data_dir is not None else "",
        version=version,
        tls_fingerprint=tls_fingerprint(config, data_dir, tls) if config is not None and data_dir else "",
        now=hub.clock(),
        timezone=str(hub.tz.key),
        state=hub.state,
        devices=devices,
        contacts=list(hub.contacts),
        transports=dict(hub.transports),
        users=users,
        ack_timeout=hub.escalation.ack_timeout,
        centre=config.centre if config is not None else None,
        wrong_codes=code_throttle.limit,
        lockout=code_throttle.lockout,
        events_kept=None,  # hub/store/journal.py never prunes the event log: it is the audit trail
        events_stored=int(stored[0]) if stored else 0,
        standby_drivers=[k for k in drivers if _standby_power(k)],
        tests=await latest_tests(hub.db),
        output_tests=await confirmed_tests(hub.db),
    )
