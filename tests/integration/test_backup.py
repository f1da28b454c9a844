"""`casahub backup` / `casahub restore`: a consistent copy while the hub writes, encryption,
and a restore that checks everything before it touches anything."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import aiohttp
import pytest

from hub.backup.archive import create_backup
from hub.backup.layout import BackupError
from hub.backup.restore import restore_backup
from hub.store.accounts import Accounts
from hub.store.db import MIGRATIONS, open_sync
from hub.system.certs import ensure_self_signed
from hub.transports.vapid import load_or_create
from tests.conftest import Api, start_hub

FAST = 14  # scrypt cost for in-process round trips; the CLI uses the real default
PASSPHRASE = "correct horse battery staple"
SMTP_PASSWORD = "smtp-Pa55w0rd-b4ckup-9f2c"
TWILIO_TOKEN = "7b1e5ecre70ffee1234dead5ec7e7c0d"


def casahub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "CASAHUB_BACKUP_PASSPHRASE"}
    full_env |= env or {}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=full_env,
    )


def make_hub_dir(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """A data dir with every kind of file, a config with channel credentials; returns the secrets in them."""
    data = root / "data"
    accounts = Accounts(open_sync(data / "casahub.db"))
    accounts.add_user("anna", "anna-password-1", "owner", code="24680")
    accounts.create_token("installer", label="backup test", username="anna")
    password_hash = accounts.conn.execute("SELECT password_hash FROM users WHERE username='anna'").fetchone()[0]
    token_hash = accounts.conn.execute("SELECT hash FROM tokens").fetchone()[0]
    accounts.conn.close()
    ensure_self_signed(data / "certs", "Casa Rossi")
    keys = load_or_create(None, data)
    (data / "centre.seq").write_text("0042\n")
    config = root / "casahub.toml"
    config.write_text(
        '[hub]\nname = "Casa Rossi"\n\n'
        '[[contacts]]\nname = "Anna"\nphone = "+393331234567"\nemail = "anna@example.org"\n\n'
        f'[sms]\naccount_sid = "AC{"0123456789abcdef" * 2}"\nauth_token = "{TWILIO_TOKEN}"\nfrom = "+15005550006"\n\n'
        f'[email]\nhost = "smtp.example.org"\nusername = "hub"\npassword = "{SMTP_PASSWORD}"\n'
        'from = "hub@example.org"\n'
    )
    hub_key_body = "".join(
        line for line in (data / "certs" / "hub.key").read_text().splitlines() if not line.startswith("-----")
    )
    vapid_body = "".join(line for line in keys.private_pem.splitlines() if not line.startswith("-----"))
    secrets = {
        "smtp password": SMTP_PASSWORD,
        "twilio token": TWILIO_TOKEN,
        "password hash": password_hash,
        "tls key": hub_key_body[:40],
        "vapid key": vapid_body[:40],
        "api token hash": token_hash,
    }
    return data, config, secrets


def tree_digest(*paths: Path) -> dict[str, str]:
    """Every file under the paths with its SHA-256 (and mode): to prove nothing was touched."""
    out: dict[str, str] = {}
    for base in paths:
        if not base.exists():
            continue
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
    return out


def events(db: Path) -> dict[int, tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return {row[0]: tuple(row) for row in conn.execute("SELECT * FROM events")}
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# ---------------------------------------------------------------- consistency under load


async def test_backup_during_an_alarm_storm_holds_every_committed_event(tmp_path: Path) -> None:
    data = tmp_path / "data"
    running = await start_hub(data)
    stop, warmed_up = asyncio.Event(), asyncio.Event()
    triggers = 0
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            zones = [await api.zone_id(kind) for kind in ("water", "smoke", "contact", "motion")]

            async def storm() -> None:
                nonlocal triggers
                active = True
                while not stop.is_set():
                    for zone in zones:
                        await api.trigger(zone, active)
                        triggers += 1
                    if triggers >= 40:
                        warmed_up.set()
                    active = not active

            storm_task = asyncio.create_task(storm())
            await asyncio.wait_for(warmed_up.wait(), 30)
            checks = []
            for i in range(4):
                committed = max(events(data / "casahub.db"))  # everything committed before the backup starts
                info = await asyncio.to_thread(create_backup, data, tmp_path / f"storm{i}.casahub-backup")
                after = max(events(data / "casahub.db"))
                checks.append((info, committed, after))
                await asyncio.sleep(0.05)
            stop.set()
            await storm_task
    finally:
        stop.set()
        await running.stop()

    live = events(data / "casahub.db")
    assert sum(after - committed for _, committed, after in checks) > 0, "no write overlapped a backup"
    for i, (info, committed, _after) in enumerate(checks):
        assert info.members[0] == "casahub.db" and not info.encrypted
        target = tmp_path / f"restored{i}"
        result = restore_backup(info.path, target)
        db = target / "casahub.db"
        assert db in result.restored
        assert integrity(db) == "ok"
        restored = events(db)
        # Every event committed before the backup began is there, identical; nothing invented.
        assert all(restored.get(row_id) == row for row_id, row in live.items() if row_id <= committed)
        assert all(live[row_id] == row for row_id, row in restored.items())
        # One consistent state: the engine snapshot points at an event the copy holds.
        conn = sqlite3.connect(db)
        last_event = conn.execute("SELECT last_event FROM engine_state").fetchone()[0]
        conn.close()
        assert last_event in restored and last_event <= max(restored)

    # The restored directory runs as a hub.
    again = await start_hub(tmp_path / "restored3")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(again.base, session)
            await api.login()
            listed = await api.get("/api/v1/events")
            assert listed["items"]
    finally:
        await again.stop()


# ---------------------------------------------------------------- round trips


def test_plain_round_trip_restores_every_file(tmp_path: Path) -> None:
    data, config, _ = make_hub_dir(tmp_path)
    info = create_backup(data, tmp_path / "b.tgz", config_path=config)
    assert info.members == [
        "casahub.db",
        "casahub.toml",
        "certs/hub.crt",
        "certs/hub.key",
        "vapid_private.pem",
        "centre.seq",
    ]
    assert info.hub_name == "Casa Rossi" and info.schema_version == len(MIGRATIONS)
    assert (tmp_path / "b.tgz").stat().st_mode & 0o777 == 0o600
    assert info.bytes == (tmp_path / "b.tgz").stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".casahub-backup-")]

    with tarfile.open(tmp_path / "b.tgz", "r:gz") as tar:
        assert tar.getnames()[0] == "manifest.json"
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["format"] == "casahub-backup" and manifest["format_version"] == 1
    assert manifest["encrypted"] is False and manifest["hub_name"] == "Casa Rossi"
    assert set(manifest["members"]) == set(info.members)
    for name in ("casahub.toml", "certs/hub.key", "vapid_private.pem", "centre.seq", "certs/hub.crt"):
        source = config if name == "casahub.toml" else data / name
        assert manifest["members"][name]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()

    target = tmp_path / "new"
    result = restore_backup(tmp_path / "b.tgz", target)
    assert sorted(p.relative_to(target).as_posix() for p in result.restored) == sorted(info.members)
    for name in ("certs/hub.crt", "certs/hub.key", "vapid_private.pem", "centre.seq"):
        assert (target / name).read_bytes() == (data / name).read_bytes()
    assert (target / "casahub.toml").read_bytes() == config.read_bytes()
    assert (target / "certs" / "hub.key").stat().st_mode & 0o777 == 0o600
    accounts = Accounts(open_sync(target / "casahub.db"))
    assert accounts.check_password("anna", "anna-password-1") is not None
    accounts.conn.close()
    assert not [p for p in target.iterdir() if p.name.startswith(".casahub-restore-")]


def test_encrypted_round_trip_and_config_destination(tmp_path: Path) -> None:
    data, config, _ = make_hub_dir(tmp_path)
    info = create_backup(data, tmp_path / "b.enc", config_path=config, passphrase=PASSPHRASE, scrypt_log2_n=FAST)
    assert info.encrypted
    raw = (tmp_path / "b.enc").read_bytes()
    assert raw.startswith(b"CASAHUB-BACKUP-1")
    config_dest = tmp_path / "etc" / "casahub" / "casahub.toml"
    result = restore_backup(tmp_path / "b.enc", tmp_path / "new", config_dest=config_dest, passphrase=PASSPHRASE)
    assert config_dest in result.restored and config_dest.read_bytes() == config.read_bytes()
    assert not (tmp_path / "new" / "casahub.toml").exists()
    assert result.manifest["encrypted"] is True and result.manifest["hub_name"] == "Casa Rossi"
    assert integrity(tmp_path / "new" / "casahub.db") == "ok"
    assert (tmp_path / "new" / "vapid_private.pem").read_bytes() == (data / "vapid_private.pem").read_bytes()


def test_encrypted_backup_holds_no_secret_in_clear(tmp_path: Path) -> None:
    data, config, secrets = make_hub_dir(tmp_path)
    plain = create_backup(data, tmp_path / "plain", config_path=config)
    encrypted = create_backup(data, tmp_path / "enc", config_path=config, passphrase=PASSPHRASE, scrypt_log2_n=FAST)

    # The plain one is a readable archive that holds the config's credentials and the keys.
    with tarfile.open(plain.path, "r:gz") as tar:
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers())  # type: ignore[union-attr]
    for what, secret in secrets.items():
        assert secret.encode() in blob, what

    raw = encrypted.path.read_bytes()
    for what, secret in secrets.items():
        assert secret.encode() not in raw, what
    for needle in (b"casahub.toml", b"manifest.json", b"Casa Rossi", b"SQLite format 3"):
        assert needle not in raw[16:], needle
    # Not a gzip stream behind the header (two bytes anywhere in random ciphertext would be chance).
    assert raw.startswith(b"CASAHUB-BACKUP-1") and not raw[16:].startswith(b"\x1f\x8b")
    with pytest.raises((tarfile.TarError, OSError)):
        tarfile.open(encrypted.path, "r:*").getmembers()


def test_wrong_or_missing_passphrase_writes_nothing(tmp_path: Path) -> None:
    data, config, _ = make_hub_dir(tmp_path)
    backup = create_backup(data, tmp_path / "b", config_path=config, passphrase=PASSPHRASE, scrypt_log2_n=FAST).path
    target = tmp_path / "new"
    with pytest.raises(BackupError, match="wrong passphrase"):
        restore_backup(backup, target, passphrase="Correct horse battery staple")
    with pytest.raises(BackupError, match="encrypted"):
        restore_backup(backup, target)
    assert not target.exists()

    # Over an existing hub (with --force): untouched.
    before = tree_digest(data)
    with pytest.raises(BackupError, match="wrong passphrase"):
        restore_backup(backup, data, passphrase="nope", force=True)
    assert tree_digest(data) == before
    assert sorted(p.name for p in data.iterdir()) == ["casahub.db", "centre.seq", "certs", "vapid_private.pem"]


# ---------------------------------------------------------------- damaged and foreign files


def _inflates_to_the_same(content: bytes, original: bytes) -> bool:
    try:
        return gzip.decompress(content) == gzip.decompress(original)
    except (OSError, EOFError, zlib.error):
        return False


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_damaged_or_truncated_backup_is_refused_and_nothing_touched(tmp_path: Path, encrypted: bool) -> None:
    data, config, _ = make_hub_dir(tmp_path)
    passphrase = PASSPHRASE if encrypted else None
    good = create_backup(data, tmp_path / "good", config_path=config, passphrase=passphrase, scrypt_log2_n=FAST).path
    raw = good.read_bytes()
    victims = tmp_path / "victim"
    restore_backup(good, victims, passphrase=passphrase)
    before = tree_digest(victims)

    variants: dict[str, bytes] = {}
    for where in (len(raw) // 3, len(raw) // 2, len(raw) - 20, len(raw) - 1):
        damaged = bytearray(raw)
        damaged[where] ^= 0x01
        variants[f"flip@{where}"] = bytes(damaged)
    for cut in (10, 60, 100, len(raw) // 2, len(raw) - 1):
        variants[f"cut@{cut}"] = raw[:cut]
    variants["appended"] = raw + b"trailing garbage" * 4
    if encrypted:
        variants["header salt"] = raw[:30] + bytes([raw[30] ^ 1]) + raw[31:]

    for label, content in variants.items():
        bad = tmp_path / "bad"
        bad.write_bytes(content)
        if not encrypted and label.startswith("flip@") and _inflates_to_the_same(content, raw):
            # The flipped bit sat in an unused entry of a deflate block's Huffman table: gzip's
            # CRC and the manifest see the very same archive. Nothing is damaged, so the restore
            # must succeed and give the same files (1 run in ~12 hit this and wrongly failed).
            same = tmp_path / f"same-{label}"
            restore_backup(bad, same, passphrase=None)
            fresh_digest = {k.removeprefix(str(victims)): v for k, v in before.items()}
            assert {k.removeprefix(str(same)): v for k, v in tree_digest(same).items()} == fresh_digest, label
            continue
        with pytest.raises(BackupError) as excinfo:
            restore_backup(bad, victims, passphrase=passphrase, force=True)
        message = str(excinfo.value)
        assert "\n" not in message and message, label
        assert any(
            word in message
            for word in ("damaged", "truncated", "not a casahub backup", "passphrase", "does not match the manifest")
        ), (
            label,
            message,
        )
        assert tree_digest(victims) == before, label
        fresh = tmp_path / "fresh"
        with pytest.raises(BackupError):
            restore_backup(bad, fresh, passphrase=passphrase)
        assert not fresh.exists(), label
    assert sorted(p.name for p in victims.iterdir() if p.name.startswith(".")) == []


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "new"
    foreign: dict[str, bytes] = {
        "random": os.urandom(4096),
        "empty": b"",
        "text": b"# casahub config\n[hub]\nname = 'x'\n",
        "sqlite": b"SQLite format 3\x00" + bytes(4080),
        "magic only": b"CASAHUB-BACKUP-1",
        "gzip text": gzip.compress(b"hello world\n" * 100),
    }
    # A tar.gz that is not ours: no manifest first.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("etc/passwd")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"root\n"))
    foreign["other tar.gz"] = buf.getvalue()
    # A manifest of another program.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        body = json.dumps({"format": "something-else"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    foreign["other manifest"] = buf.getvalue()
    for label, content in foreign.items():
        path = tmp_path / "foreign"
        path.write_bytes(content)
        with pytest.raises(BackupError) as excinfo:
            restore_backup(path, target, passphrase=PASSPHRASE)
        assert "\n" not in str(excinfo.value), label
        assert not target.exists(), label


def _rewrite(src: Path, dest: Path, change: dict[str, bytes], manifest_change: dict[str, object] | None = None) -> None:
    """Re-pack a plain backup with members replaced (the manifest kept unless told)."""
    with tarfile.open(src, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(dest, "w:gz") as out:
        for info, body in members:
            if info.name == "manifest.json" and manifest_change:
                body = json.dumps(json.loads(body) | manifest_change).encode()
            body = change.get(info.name, body)
            info.size = len(body)
            out.addfile(info, io.BytesIO(body))


def test_member_not_matching_the_manifest_is_refused(tmp_path: Path) -> None:
    data, config, _ = make_hub_dir(tmp_path)
    good = create_backup(data, tmp_path / "good", config_path=config).path
    _rewrite(good, tmp_path / "bad", {"centre.seq": b"0043\n"})
    with pytest.raises(BackupError, match=r"centre\.seq .*SHA-256"):
        restore_backup(tmp_path / "bad", tmp_path / "new")
    assert not (tmp_path / "new").exists()
    _rewrite(good, tmp_path / "bad2", {}, {"format_version": 2})
    with pytest.raises(BackupError, match="newer casahub"):
        restore_backup(tmp_path / "bad2", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_database_failing_checks_is_refused(tmp_path: Path) -> None:
    # A schema newer than this build's migrations.
    data = tmp_path / "data"
    open_sync(data / "casahub.db").close()
    conn = sqlite3.connect(data / "casahub.db")
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    newer = create_backup(data, tmp_path / "newer").path
    with pytest.raises(BackupError, match="newer than this casahub"):
        restore_backup(newer, tmp_path / "new")
    assert not (tmp_path / "new").exists()

    # A database that is not one, with a manifest that matches it (made by hand).
    bogus = b"SQLite format 3\x00" + os.urandom(8192)
    good = create_backup(data, tmp_path / "good").path
    with tarfile.open(good, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    manifest["members"]["casahub.db"] = {"sha256": hashlib.sha256(bogus).hexdigest(), "bytes": len(bogus)}
    _rewrite(good, tmp_path / "bogus", {"casahub.db": bogus, "manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(BackupError, match="database in the backup"):
        restore_backup(tmp_path / "bogus", tmp_path / "new")
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- replacing an existing hub


def test_restore_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    data, config, _ = make_hub_dir(tmp_path)
    backup = create_backup(data, tmp_path / "b", config_path=config).path
    target = tmp_path / "other"
    accounts = Accounts(open_sync(target / "casahub.db"))
    accounts.add_user("bruno", "bruno-password", "owner")
    accounts.conn.close()
    (target / "casahub.toml").write_text("# the other hub's config\n")
    before = tree_digest(target)

    with pytest.raises(BackupError, match="--force"):
        restore_backup(backup, target)
    asked: list[str] = []
    with pytest.raises(BackupError, match="--force"):
        restore_backup(backup, target, confirm=lambda q: asked.append(q) is not None)
    assert asked and "casahub.db" in asked[0]
    assert tree_digest(target) == before

    result = restore_backup(backup, target, confirm=lambda q: True)
    assert (target / "casahub.toml").read_bytes() == config.read_bytes()
    kept = {p.name for p in result.kept}
    assert {"casahub.db.before-restore", "casahub.toml.before-restore"} <= kept
    assert (target / "casahub.toml.before-restore").read_text() == "# the other hub's config\n"
    # The kept database stands alone (its WAL folded in) and still holds the other hub's user.
    old = Accounts(sqlite3.connect(target / "casahub.db.before-restore"))
    assert old.conn.execute("SELECT username FROM users").fetchall() == [("bruno",)]
    old.conn.close()
    new = Accounts(open_sync(target / "casahub.db"))
    assert [r[0] for r in new.conn.execute("SELECT username FROM users")] == ["anna"]
    new.conn.close()

    # Once more with --force: a single generation of *.before-restore, now the previous restore's files.
    restore_backup(backup, target, force=True)
    assert (target / "casahub.toml.before-restore").read_bytes() == config.read_bytes()
    assert not list(target.glob("*.before-restore.before-restore"))


async def test_restore_refuses_while_the_hub_runs(tmp_path: Path) -> None:
    data, _, _ = make_hub_dir(tmp_path)
    backup = create_backup(data, tmp_path / "b").path
    live = tmp_path / "live"
    running = await start_hub(live)
    try:
        before = tree_digest(live / "casahub.db")
        with pytest.raises(BackupError, match="in use"):
            await asyncio.to_thread(restore_backup, backup, live, force=True)
        assert tree_digest(live / "casahub.db") == before
        assert not list(live.glob("*.before-restore"))
        assert (await running.hub.db.fetchone("SELECT 1"))[0] == 1
    finally:
        await running.stop()


# ---------------------------------------------------------------- the command line


def test_cli_backup_and_restore_end_to_end(tmp_path: Path) -> None:
    data, config, secrets = make_hub_dir(tmp_path)
    passfile = tmp_path / "pass"
    passfile.write_text(PASSPHRASE + "\n")

    plain = tmp_path / "plain.casahub"
    r = casahub("backup", str(plain), "--data-dir", str(data), "--config", str(config), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {
        "file": str(plain),
        "bytes": plain.stat().st_size,
        "encrypted": False,
        "members": ["casahub.db", "casahub.toml", "certs/hub.crt", "certs/hub.key", "vapid_private.pem", "centre.seq"],
    }
    assert "not encrypted" in r.stderr and "secrets" in r.stderr and "--passphrase-file" in r.stderr
    assert "CASAHUB_BACKUP_PASSPHRASE" in r.stderr
    for secret in secrets.values():
        assert secret not in r.stdout + r.stderr

    enc = tmp_path / "enc.casahub"
    r = casahub(
        "backup", str(enc), "--data-dir", str(data), "--config", str(config), "--passphrase-file", str(passfile)
    )
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr and "encrypted" in r.stdout
    assert enc.read_bytes().startswith(b"CASAHUB-BACKUP-1")
    assert enc.stat().st_mode & 0o777 == 0o600

    # --encrypt without a terminal: the passphrase from the environment, or a clear error.
    r = casahub("backup", str(tmp_path / "x"), "--data-dir", str(data), "--encrypt")
    assert r.returncode != 0 and "CASAHUB_BACKUP_PASSPHRASE" in r.stderr and not (tmp_path / "x").exists()
    env_enc = tmp_path / "env.casahub"
    r = casahub(
        "backup", str(env_enc), "--data-dir", str(data), "--encrypt", env={"CASAHUB_BACKUP_PASSPHRASE": PASSPHRASE}
    )
    assert r.returncode == 0, r.stderr
    assert env_enc.read_bytes().startswith(b"CASAHUB-BACKUP-1")

    # Restore: wrong passphrase, missing passphrase, then right.
    target = tmp_path / "restored"
    conf_dest = tmp_path / "etc" / "casahub.toml"
    common = ["--data-dir", str(target), "--config", str(conf_dest)]
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    r = casahub("restore", str(enc), *common, "--passphrase-file", str(wrong))
    assert r.returncode == 1 and r.stderr.startswith("casahub: ") and "wrong passphrase" in r.stderr
    assert r.stderr.count("\n") == 1 and not target.exists() and not conf_dest.exists()
    r = casahub("restore", str(enc), *common)
    assert r.returncode == 1 and "is encrypted" in r.stderr and not target.exists()
    r = casahub("restore", str(enc), *common, "--passphrase-file", str(passfile), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["authenticated"] is True and [u["username"] for u in out["users"]] == ["anna"]
    restored = out["restored"]
    assert str(target / "casahub.db") in restored and str(conf_dest) in restored
    assert conf_dest.read_bytes() == config.read_bytes()
    assert (target / "certs" / "hub.key").read_bytes() == (data / "certs" / "hub.key").read_bytes()

    # A second restore needs --force; an unencrypted one without a terminal needs --yes (which replaces too).
    r = casahub("restore", str(env_enc), *common, env={"CASAHUB_BACKUP_PASSPHRASE": PASSPHRASE})
    assert r.returncode == 1 and "--force" in r.stderr and r.stderr.count("\n") == 1
    for flags in ((), ("--force",)):
        r = casahub("restore", str(plain), *common, *flags)
        assert r.returncode == 1 and "not encrypted" in r.stderr and "--yes" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
    r = casahub("restore", str(plain), *common, "--yes")
    assert r.returncode == 0, r.stderr
    assert "before-restore" in r.stdout and "NOT encrypted" in r.stdout and "anna  owner" in r.stdout
    assert (target / "casahub.db.before-restore").exists()

    # Damaged and foreign files: one-line errors.
    damaged = tmp_path / "damaged"
    blob = bytearray(enc.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    for bad in (damaged, passfile):
        r = casahub("restore", str(bad), "--data-dir", str(tmp_path / "nope"), "--passphrase-file", str(passfile))
        assert r.returncode == 1 and r.stderr.startswith("casahub: ") and r.stderr.count("\n") == 1, r.stderr
        assert not (tmp_path / "nope").exists()

    # Users in the restored database work with the local commands.
    r = casahub("user", "list", "--json", "--data-dir", str(target))
    assert [u["user"] for u in json.loads(r.stdout)] == ["anna"]


def test_cli_backup_errors_are_one_line(tmp_path: Path) -> None:
    r = casahub("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "empty"))
    assert r.returncode == 1 and r.stderr.startswith("casahub: no database") and r.stderr.count("\n") == 1
    assert not (tmp_path / "b").exists() and not (tmp_path / "empty").exists()
