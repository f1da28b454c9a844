"""`casahub serve`: assembles storage, the hub core, drivers, the dispatcher and the web server.

Start-up order matters: the listen address is bound and the data dir checked before anything
else (a busy address or an unwritable database ends the start in one line), then the web server
answers (health says 503 "starting"), then the alarm state is recovered from the journal, then
drivers start feeding readings, so no reading is applied to a state that is not yet the recovered one.

Exit statuses (deploy/casahub.service relies on them): 0 stopped, 2 invalid configuration or
unusable listen address (restarting cannot help), 3 the data dir or database cannot be written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import ssl
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from alarms.outputs import OutputKind
from alarms.policy import Contact, Escalation
from drivers.base import DriverContext
from drivers.capabilities import CameraControls
from drivers.registry import load_driver
from hub.config import Config, ConfigError, ContactConfig, load_config, parse_listen
from hub.core.channel_watch import check_notification_channels, run_channel_watch
from hub.core.clock import SteadyClock
from hub.core.clock_watch import run_clock_watch
from hub.core.heap import freeze_startup_heap, thaw
from hub.core.outbox import OutboxDispatcher
from hub.core.outputs import OutputDispatcher
from hub.core.pairing import OutputSpec, pair_device
from hub.core.runtime import Hub
from hub.core.scheduler import Scheduler
from hub.core.throttle import hub_code_throttle
from hub.export.metrics import LoopLagMonitor, metrics_handler
from hub.store import accounts as accounts_mod
from hub.store import journal
from hub.store.db import Database, StorageError, open_sync
from hub.store.disk_reserve import DiskReserve
from hub.store.push_subscriptions import PushStore
from hub.system import host_health, sdnotify
from hub.system import led as status_led
from hub.system.data_dir import DataDirError, check_writable, default_data_dir, running_as
from hub.system.discovery import HubAdvertiser, tls_fingerprint
from hub.system.led_state import record_led_state
from hub.system.local_ca import LocalCA, wanted_now
from hub.system.logs import setup_logging
from hub.transports.registry import build as build_transports
from hub.transports.registry import enter_all as enter_transports
from hub.web.app import make_app
from hub.web.context import WebContext
from hub.web.limits import ConnectionGate, Listener, ListenError, WebLimits, bind, fd_limit, open_fds, raise_fd_limit
from hub.web.push import PushWeb

if TYPE_CHECKING:
    from hub.backup.schedule import BackupSchedule

log = logging.getLogger("casahub")

DEMO_DATA_DIR = Path(".casahub-demo")
DEMO_LISTEN = "127.0.0.1:8080"
DEMO_USER, DEMO_PASSWORD, DEMO_CODE = "demo", "demo", "12345"
DEMO_DELAY = 10.0
DEMO_CONTACT = ContactConfig(
    name="Famiglia Demo", phone="+390000000000", email="famiglia@example.invalid", language="it", push=True
)

EXIT_CONFIG = 2  # invalid configuration, or a listen address that cannot be used
EXIT_STORAGE = 3  # the data dir or the database cannot be written


def casahub_version() -> str:
    try:
        return version("casahub")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class ServeOptions:
    config: Path | None = None
    demo: bool = False
    data_dir: Path | None = None
    listen: str | None = None
    log_level: str | None = None  # the CLI's --log-level: wins over [log] level
    reset: bool = False  # --demo --reset: start the demo from nothing (deletes .casahub-demo)


@dataclass(frozen=True)
class Plan:
    """Everything `serve` decided from the options and the config file."""

    config: Config
    data_dir: Path
    host: str
    port: int
    tls: ssl.SSLContext | None
    demo: bool
    config_path: Path | None = None  # what the nightly backup saves beside the database
    local_ca: LocalCA | None = None  # `tls = "auto"`: renews the served certificate while running


def _raw_keys(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def plan(options: ServeOptions) -> tuple[Plan, list[str]]:
    """Resolve config, data dir, listen address and TLS. Raises ConfigError on an invalid config."""
    loaded = load_config(options.config)
    config = loaded.config
    notes = [f"warning: {w}" for w in loaded.warnings]
    raw = _raw_keys(options.config)
    if options.demo:
        alarm_raw = raw.get("alarm", {})
        alarm = config.alarm
        # Demo defaults sit *under* the file: only keys the file does not set get the short delays.
        if "exit_delay" not in alarm_raw:
            alarm = replace_struct(alarm, exit_delay=DEMO_DELAY)
        if "entry_delay" not in alarm_raw:
            alarm = replace_struct(alarm, entry_delay=DEMO_DELAY)
        contacts = config.contacts or (DEMO_CONTACT,)
        drivers = config.drivers
        if not any(d.type == "simulated" for d in drivers):
            drivers = (*drivers, _simulated_driver_config())
        config = replace(config, alarm=alarm, contacts=contacts, drivers=drivers)
    listen = options.listen or (
        config.web.listen if "listen" in raw.get("web", {}) or not options.demo else DEMO_LISTEN
    )
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise SystemExit(f"casahub: --listen: {exc}") from None
    data_dir = options.data_dir or config.hub.data_dir or (DEMO_DATA_DIR if options.demo else default_data_dir())
    tls_mode = "off" if options.demo and "tls" not in raw.get("web", {}) else config.web.tls
    tls: ssl.SSLContext | None = None
    local_ca: LocalCA | None = None
    if tls_mode == "auto":
        # The hub's own CA signs the certificate, so phones can trust it (hub/system/local_ca.py).
        from hub.system.local_ca import serve as serve_local_ca

        try:
            local_ca, tls, tls_notes = serve_local_ca(Path(data_dir) / "certs", config.hub.name, host)
        except OSError as exc:
            raise DataDirError(
                f"cannot write the TLS certificate in {Path(data_dir) / 'certs'}: {exc.strerror or exc};"
                f" fix it with: sudo chown -R {running_as()}: {data_dir}"
            ) from None
        notes.extend(tls_notes)
    elif tls_mode != "off":
        assert not isinstance(tls_mode, str)
        tls = _ssl_context(tls_mode.cert, tls_mode.key)
    return Plan(config, Path(data_dir), host, port, tls, options.demo, options.config, local_ca), notes


def replace_struct(value: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(value, **changes)


def _simulated_driver_config() -> Any:
    from hub.config import DriverConfig

    # The demo kit with its indoor siren and water valve (drivers/simulated.py OUTPUT_KIT), so
    # the demo shows what the hub does in the home.
    return DriverConfig(type="simulated", options={"outputs": True})


def _ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def contacts_of(config: Config) -> list[Contact]:
    return [
        Contact(name=c.name, phone=c.phone, email=c.email, language=c.language, push=c.push, voice=c.voice)
        for c in config.contacts
    ]


class Daemon:
    def __init__(self, the_plan: Plan, *, clock: Callable[[], float] | None = None) -> None:
        self.plan = the_plan
        self.clock: Callable[[], float] = clock or SteadyClock()
        self.stopping = asyncio.Event()
        self.drivers: dict[str, Any] = {}
        self.hub: Hub | None = None
        self.app: web.Application | None = None
        self.url = ""

    async def run(self, ready: Callable[[Daemon], None] | None = None) -> None:
        p = self.plan
        cfg = p.config
        # Before anything holds a thread or a file: these two end the start in one line.
        sockets = bind(p.host, p.port)
        try:
            check_writable(p.data_dir)
            db = Database(p.data_dir / "casahub.db")
            try:
                await db.open()
            except StorageError as exc:
                await db.close()
                raise DataDirError(f"{exc}; the data dir is {p.data_dir}") from None
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        accounts = accounts_mod.Accounts(open_sync(p.data_dir / "casahub.db"))
        push_store = PushStore(open_sync(p.data_dir / "casahub.db"))
        hub_ref: list[Hub] = []

        async def on_centre_link(up: bool) -> None:
            # Link supervision: centre_unreachable after 2 missed intervals, cleared when an ACK comes.
            if hub_ref:
                await hub_ref[0].raise_fault("centre_unreachable", "centre", active=not up)
                if up and hub_ref[0].dispatcher is not None:
                    await hub_ref[0].dispatcher.retry_now(transports.for_channel["centre"])

        def users_for_contact(name: str) -> list[str]:
            contact = next((c for c in cfg.contacts if c.name == name), None)
            wanted = (contact.user if contact is not None and contact.user else name).lower()
            return [u.username for u in accounts.list_users() if u.username.lower() == wanted]

        transports = build_transports(
            cfg,
            data_dir=p.data_dir,
            on_centre_link=on_centre_link,
            users_for_contact=users_for_contact,
            # App push needs no outside account: on unless this is the plain demo (log only).
            push_store=push_store if cfg.push is not None or not p.demo else None,
            clock=self.clock,
            demo=p.demo,
        )

        def has_app(contact: str) -> bool:
            return bool(push_store.for_users(users_for_contact(contact)))

        hub = Hub(
            db,
            settings=cfg.alarm,
            contacts=contacts_of(cfg),
            escalation=Escalation(ack_timeout=cfg.escalation.ack_timeout),
            transports=transports.for_channel,
            timezone=cfg.hub.timezone,
            language=cfg.hub.language,
            clock=self.clock,
            demo=p.demo,
            has_app=has_app,
            reserve=DiskReserve(db.path.parent, cfg.storage.reserve_mb << 20),
        )
        self.hub = hub

        def expected_interval(driver: str, address: str) -> float | None:
            for key, running in self.drivers.items():
                if key.split("#")[0] == driver:
                    interval = running.expected_interval(address)
                    if interval is not None:
                        return float(interval)
            return None

        hub.expected_interval = expected_interval
        hub_ref.append(hub)
        # One alarm-code throttle for the API and MQTT, kept in the database (hub/core/throttle.py).
        codes = hub_code_throttle(hub)
        ctx = WebContext(
            hub=hub,
            accounts=accounts,
            code_throttle=codes,
            drivers=self.drivers,
            demo=p.demo,
            tls=p.tls is not None,
            version=casahub_version(),
            clock=self.clock,
            config=cfg,
            data_dir=p.data_dir,
        )
        limits = WebLimits.of(cfg.web)
        lag = LoopLagMonitor()
        backups = self._backup_schedule(hub)
        app = make_app(
            ctx,
            limits,
            push=PushWeb(store=push_store, public_key=transports.vapid_public_key or ""),
            metrics=metrics_handler(
                lambda: self.hub,
                lag=lag,
                version=ctx.version,
                backup=(lambda: backups.status) if backups is not None else None,
            ),
        )
        self.app = app
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_timeout)
        await runner.setup()
        assert runner.server is not None
        # Our own accept loop (hub/web/limits.py): connection caps and the fd reserve of the alarm path.
        gate = ConnectionGate(limits, fd_limit=fd_limit(), fds_in_use=open_fds())
        listener = Listener(sockets, runner.server, gate, tls=p.tls)
        listener.start()
        log.info(
            "web: at most %d connections, %d per address; %d of %d open files kept for alarm deliveries",
            gate.max_total,
            limits.max_connections_per_address,
            limits.fd_reserve,
            gate.fd_limit,
        )
        scheme = "https" if p.tls else "http"
        self.url = f"{scheme}://{p.host if ':' not in p.host else f'[{p.host}]'}:{p.port}"
        # systemd (deploy/casahub.service): READY=1 once serving, WATCHDOG=1 from the loop, STOPPING=1.
        notifier = sdnotify.Notifier.from_env()
        notifier.status("starting: recovering the alarm state")
        led_task: asyncio.Task[None] | None = None

        def led_pattern() -> status_led.Pattern:
            return status_led.pattern_for(
                hub.state.mode,
                hub.state.incidents.values(),
                hub.state.anomalies.values(),
                network_ok=host_health.network_up(),
                ready=hub.ready,
            )

        if cfg.led is not None:
            led_task = asyncio.create_task(status_led.run_led(cfg.led, led_pattern), name="led")
        # For `casahub doctor`: the pattern, also without a [led]; "starting" from now (hub/system/led_state.py).
        led_state_task = asyncio.create_task(record_led_state(p.data_dir, led_pattern), name="led-state")
        try:
            if p.demo:
                await asyncio.to_thread(_seed_demo_user, accounts)
            # Before recover(): the commands a crash left behind, and those recovering makes
            # (a siren time that ended meanwhile), are its to send once the drivers run.
            hub.outputs = OutputDispatcher(
                db,
                clock=self.clock,
                drivers=self._drivers_of,
                on_failed=hub.output_failed,
                known=lambda output: output in hub.state.outputs,
                deadline=cfg.outputs.deadline,
            )
            await hub.recover()
            await codes.load()  # the code locks a restart must not lift, read before codes are typed
            dispatcher = OutboxDispatcher(
                db,
                transports.by_name,
                clock=self.clock,
                on_change=hub.publish_notification,
                on_dead=lambda channel, reason: hub.raise_fault("channel_failure", channel),
                memory=lambda: hub.degraded.outbox,
                on_trouble=lambda channel, active: hub.raise_fault("channel_failure", channel, active=active),
                troubled={a.subject for a in hub.state.anomalies.values() if a.kind == "channel_failure" and a.subject},
            )
            hub.dispatcher = dispatcher
            async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tasks:
                await enter_transports(stack, transports)
                for driver_cfg in cfg.drivers:
                    await self._start_driver(stack, tasks, hub, driver_cfg)
                # Sirens first: what recover() left to command goes out as soon as drivers run.
                tasks.create_task(hub.outputs.run(), name="outputs")
                # "Started and resumed from the saved state" is told only when there was one: a first
                # start (a new data dir, a reset demo) resumed nothing.
                resumed = await db.fetchone("SELECT 1 FROM events WHERE kind = 'hub_started' LIMIT 1")
                await hub.audit("hub_started", actor="hub", data={"version": ctx.version}, notify=resumed is not None)
                await check_notification_channels(hub)  # no_notification_channel from the first second
                hub.ready = True  # health answers 200 from here: state recovered, drivers feeding
                freeze_startup_heap()  # a full collection no longer walks start-up's objects (issue 19)
                # Announced on the LAN for `casahub pair` (not on loopback: the demo stays private).
                await stack.enter_async_context(
                    HubAdvertiser(
                        data_dir=p.data_dir,
                        name=cfg.hub.name,
                        version=ctx.version,
                        host=p.host,
                        port=p.port,
                        fingerprint=tls_fingerprint(cfg, p.data_dir, p.tls is not None),
                        scheme=scheme,
                    )
                )
                await hub.keep_reserve()  # room for the journal if the disk fills (hub/store/disk_reserve.py)
                tasks.create_task(hub.run_timers(), name="timers")
                tasks.create_task(dispatcher.run(), name="outbox")
                tasks.create_task(hub.run_telemetry_flush(), name="telemetry")
                tasks.create_task(hub.run_storage_probe(), name="storage-probe")
                # Event log retention (hub/store/journal.py): small batches, never an open incident's events.
                retention = journal.run_retention(db, max_events=cfg.storage.max_events, clock=self.clock)
                tasks.create_task(retention, name="retention")
                tasks.create_task(hub.supervision.run(), name="supervision")
                tasks.create_task(run_channel_watch(hub), name="channel-watch")
                tasks.create_task(Scheduler(hub).run(), name="schedules")  # hub/core/scheduler.py
                tasks.create_task(lag.run(), name="loop-lag")
                if p.local_ca is not None and p.tls is not None:  # renewed, and re-issued for new addresses
                    wanted = partial(wanted_now, cfg.hub.name, p.host)
                    tasks.create_task(p.local_ca.keep_fresh(p.tls, wanted), name="certificate")
                tasks.create_task(self._camera_snapshots(hub).run(), name="camera-snapshots")
                if backups is not None:
                    tasks.create_task(backups.run(), name="backup")
                if cfg.mqtt_export is not None:
                    from hub.export.mqtt import MqttExport
                    from hub.system.discovery import hub_id

                    export = MqttExport(
                        hub,
                        accounts,
                        host=cfg.mqtt_export.host,
                        port=cfg.mqtt_export.port,
                        discovery_prefix=cfg.mqtt_export.discovery_prefix,
                        username=cfg.mqtt_export.username,
                        password=cfg.mqtt_export.password,
                        hub_id=hub_id(p.data_dir),
                        hub_name=cfg.hub.name,
                        version=ctx.version,
                        throttle=codes,
                    )
                    await stack.enter_async_context(export)
                    tasks.create_task(export.run(), name="mqtt-export")
                if isinstance(self.clock, SteadyClock):
                    tasks.create_task(run_clock_watch(hub, self.clock.detect_step), name="clock")
                if not p.demo:
                    tasks.create_task(
                        host_health.run_host_health(
                            hub.raise_fault,
                            p.data_dir,
                            is_active=lambda kind, subject: any(
                                a.kind == kind and a.subject == subject for a in hub.state.anomalies.values()
                            ),
                        ),
                        name="host-health",
                    )
                tasks.create_task(
                    sdnotify.run_watchdog(
                        notifier,
                        sdnotify.watchdog_interval(),
                        is_healthy=lambda: hub.ready,
                        status=lambda: (
                            f"{hub.state.mode}; "
                            f"{sum(i.kind != 'duress' for i in hub.state.incidents.values())} open incidents; "
                            f"{len(hub.state.anomalies)} anomalies"
                        ),
                    ),
                    name="watchdog",
                )
                if ready is not None:
                    ready(self)
                notifier.ready(status=f"serving on {self.url}")
                await self.stopping.wait()
                raise _Stop
        except* _Stop:
            pass
        finally:
            notifier.stopping()
            for task in (led_task, led_state_task):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)  # a cancel of our own still propagates
            with contextlib.suppress(Exception):
                await hub.flush_telemetry()
            if hub.outputs is not None:
                with contextlib.suppress(Exception):
                    await hub.outputs.flush()  # confirmations heard just before the stop
            await listener.close()
            await runner.cleanup()
            accounts.conn.close()
            push_store.conn.close()
            await db.close()
            thaw()

    async def _start_driver(
        self, stack: contextlib.AsyncExitStack, tasks: asyncio.TaskGroup, hub: Hub, driver_cfg: Any
    ) -> None:
        name = driver_cfg.type
        options = {k: v for k, v in driver_cfg.options.items() if k != "type"}
        try:
            cls = load_driver(name)

            def paired(n: str = name) -> set[str]:
                return {d.address for d in hub.devices.values() if d.driver == n}

            def bindkey(address: str, n: str = name) -> str | None:
                device = hub.device_by_address(n, address)
                return device.bindkey if device is not None else None

            def output_kind(address: str, n: str = name) -> OutputKind | None:
                device = hub.device_by_address(n, address)
                mine = hub.outputs_of(device.id) if device is not None else []
                return mine[0].kind if mine else None

            context = DriverContext(
                clock=self.clock,
                paired=paired,
                bindkey=bindkey,
                data_dir=self.plan.data_dir,
                output_kind=output_kind,
            )
            driver = await stack.enter_async_context(cls(options, context))
        except Exception as exc:
            # One broken driver must not take the alarm down for every other sensor.
            log.error("driver %s did not start: %s", name, exc)
            return
        # Two [[drivers]] of one type (two UPSes on two NUT servers) both run; the first keeps
        # the plain name the API and the demo use.
        key = name if name not in self.drivers else f"{name}#{sum(k.split('#')[0] == name for k in self.drivers)}"
        self.drivers[key] = driver
        await _pair_fixed_devices(hub, name, driver)
        tasks.create_task(_pump(hub, name, driver), name=f"driver:{name}")

    def _drivers_of(self, driver_type: str) -> list[Any]:
        """The running drivers of a type (a device's `driver`): the first keeps the plain name."""
        return [d for key, d in self.drivers.items() if key.split("#")[0] == driver_type]

    def _backup_schedule(self, hub: Hub) -> BackupSchedule | None:
        """The nightly backup of `[backup]` (hub/backup/schedule.py), or None without one."""
        cfg = self.plan.config
        if cfg.backup is None:
            return None
        # Imported here: the archive code (tarfile, gzip, scrypt, AES-GCM) is megabytes a hub
        # without `[backup]` never needs (issue 15).
        from hub.backup.schedule import BackupSchedule

        if cfg.backup.passphrase is None:
            log.warning("backup: no passphrase_file in [backup]: the nightly backups are not encrypted")
        return BackupSchedule(
            cfg.backup,
            data_dir=self.plan.data_dir,
            hub_name=cfg.hub.name,
            timezone=cfg.hub.timezone,
            config_path=self.plan.config_path,
            raise_fault=hub.raise_fault,
            is_active=lambda: any(
                a.kind == "backup_failed" and a.subject == "backup" for a in hub.state.anomalies.values()
            ),
        )

    def _camera_snapshots(self, hub: Hub) -> Any:
        """Photo verification (hub/cameras/snapshots.py): ring buffers while armed, photos per intrusion."""
        from hub.cameras.catalog import camera_refs
        from hub.cameras.snapshots import DEFAULT_RETENTION_DAYS, SnapshotRecorder

        def retention_days() -> float:
            days = [d.retention_days for d in self.drivers.values() if isinstance(d, CameraControls)]
            return min(days, default=DEFAULT_RETENTION_DAYS)

        return SnapshotRecorder(
            hub,
            lambda: camera_refs(hub, self.drivers),
            self.plan.data_dir,
            retention_days=retention_days,
            clock=self.clock,
        )

    def stop(self) -> None:
        self.stopping.set()


class _Stop(Exception):
    pass


async def _pump(hub: Hub, name: str, driver: Any) -> None:
    """Feed a driver's readings to the hub; a bad reading is logged, never fatal."""
    async for reading in driver.readings():
        try:
            await hub.ingest(name, reading)
        except Exception:
            log.exception("reading from %s could not be applied: %r", name, reading)


async def _pair_fixed_devices(hub: Hub, name: str, driver: Any) -> None:
    # The zone settings the config gives per device (the demo kit, GPIO lines) come with it, and
    # so do its outputs (a GPIO output line, the demo's siren and valve), with their kinds' defaults.
    for fixed in driver.fixed_devices():
        if hub.device_by_address(name, fixed.address) is not None:
            continue
        home = fixed.home
        zones = [(kind, None, fixed.behaviour, home if home is not None else kind == "contact") for kind in fixed.kinds]
        await pair_device(
            hub,
            driver=name,
            address=fixed.address,
            name=fixed.name,
            room=fixed.room,
            model=fixed.model,
            bindkey=None,
            zones=zones,
            by="config",
            outputs=[OutputSpec(kind=kind) for kind in fixed.outputs],
        )


def _seed_demo_user(accounts: accounts_mod.Accounts) -> None:
    if accounts.get_user(DEMO_USER) is None:
        accounts.add_user(DEMO_USER, DEMO_PASSWORD, "owner", code=DEMO_CODE, language="it")


def reset_demo(the_plan: Plan) -> str | None:
    """`serve --demo --reset`: delete the demo's data dir (users, zones, history) before starting.
    Only the demo's own `.casahub-demo`: a real hub's data is never deleted by a flag. Returns why
    not, or None once done."""
    if not the_plan.demo or the_plan.data_dir != DEMO_DATA_DIR:
        return f"--reset only resets the demo's data ({DEMO_DATA_DIR}/): use it with --demo and no --data-dir"
    if DEMO_DATA_DIR.exists():
        shutil.rmtree(DEMO_DATA_DIR)
        print(f"demo reset: {DEMO_DATA_DIR.resolve()} deleted, starting from nothing", flush=True)
    return None


def serve(options: ServeOptions) -> int:
    if options.reset and not options.demo:
        print(f"casahub: --reset only resets the demo's data ({DEMO_DATA_DIR}/): use it with --demo", file=sys.stderr)
        return EXIT_CONFIG
    try:
        the_plan, notes = plan(options)
    except ConfigError as exc:
        print(f"casahub: invalid configuration, not starting:\n{exc}", flush=True)
        return EXIT_CONFIG
    except DataDirError as exc:
        print(f"casahub: {exc}", file=sys.stderr, flush=True)
        return EXIT_STORAGE
    if options.reset:
        refused = reset_demo(the_plan)
        if refused:
            print(f"casahub: {refused}", file=sys.stderr, flush=True)
            return EXIT_CONFIG
    raise_fd_limit()  # the web server's share is bounded below it (hub/web/limits.py)
    setup_logging(the_plan.config.log, level=options.log_level)
    for note in notes:
        log.warning("%s", note) if note.startswith("warning") else log.info("%s", note)
    daemon = Daemon(the_plan)

    def announce(d: Daemon) -> None:
        print(f"casahub is running on {d.url}", flush=True)
        if the_plan.demo:
            print(f"demo login: {DEMO_USER} / {DEMO_PASSWORD}   alarm code: {DEMO_CODE}", flush=True)
            print(f"data: {the_plan.data_dir.resolve()}", flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, daemon.stop)
        await daemon.run(announce)

    try:
        asyncio.run(main())
    except ListenError as exc:
        print(f"casahub: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except (DataDirError, StorageError) as exc:
        # StorageError: the database opened but recovering from it failed (read-only file system).
        print(f"casahub: {exc}", file=sys.stderr, flush=True)
        return EXIT_STORAGE
    return 0
