"""`casahub restore` shows what it changes (issue 14, section 6).

An unencrypted backup's checksums prove that it is intact, not who made it: whoever held the
file can add an owner, a token or a contact, or point the centre elsewhere, fix the manifest,
and the restore would go through. So restoring one shows the users, tokens, contacts and
centre it would install and asks on a terminal, or needs `--yes`; without either it is
refused in one line. An encrypted backup is authenticated (AES-256-GCM, key from the
passphrase by scrypt): the restore says so, and a changed byte is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import select
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from hub.backup.archive import create_backup
from hub.backup.layout import BackupError
from hub.backup.restore import restore_backup
from hub.backup.restore_plan import RestorePlan
from hub.backup.schedule import BackupSchedule
from hub.config import BackupConfig, Secret
from hub.store.accounts import Accounts
from tests.integration.test_backup import FAST, PASSPHRASE, casahub, make_hub_dir, tree_digest

ROOT = Path(__file__).resolve().parents[2]
CENTRE = '\n[centre]\nprotocol = "dc09"\nhost = "ricevitore.vigilanza.example"\nport = 5001\naccount = "1234"\n'
EVIL_CENTRE = '\n[centre]\nprotocol = "webhook"\nurl = "https://evil.example/alarms"\nsecret = "x"\n'


def hub_with_centre(root: Path) -> tuple[Path, Path]:
    data, config, _ = make_hub_dir(root)
    config.write_text(config.read_text() + CENTRE)
    return data, config


def edit_backup(src: Path, dest: Path, *, owner: str, centre: str) -> None:
    """What someone holding an unencrypted backup can do: add an owner (with a token) to the
    database, swap the centre in the config, and write a manifest whose hashes match again."""
    members: dict[str, bytes] = {}
    with tarfile.open(src, "r:gz") as tar:
        for info in tar:
            fh = tar.extractfile(info)
            assert fh is not None
            members[info.name] = fh.read()
    work = dest.parent / "edit.db"
    work.write_bytes(members["casahub.db"])
    accounts = Accounts(sqlite3.connect(work, isolation_level=None))
    accounts.add_user(owner, "mallory-password", "owner")
    accounts.create_token("owner", label="remote access", username=owner)
    accounts.conn.close()
    members["casahub.db"] = work.read_bytes()
    config = members["casahub.toml"].decode()
    members["casahub.toml"] = (config.split("\n[centre]")[0] + centre).encode()
    manifest = json.loads(members.pop("manifest.json"))
    for name, data in members.items():
        manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(out.getvalue())


def on_terminal(args: list[str], answer: str, timeout: float = 60) -> tuple[int, str]:
    """Run `casahub ARGS` with a terminal as stdin and stdout; answer its [y/N] question."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CASAHUB_BACKUP_PASSPHRASE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env
    )
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not answered and b"[y/N]" in output:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, output.decode(errors="replace").replace("\r\n", "\n")


def test_an_edited_unencrypted_backup_shows_the_extra_owner_and_the_other_centre(tmp_path: Path) -> None:
    data, config = hub_with_centre(tmp_path)
    good = create_backup(data, tmp_path / "good.chb", config_path=config).path
    edited = tmp_path / "edited.chb"
    edit_backup(good, edited, owner="mallory", centre=EVIL_CENTRE)

    # The checksums match: nothing but a person can tell. The review sees what it would install.
    plans: list[RestorePlan] = []
    with pytest.raises(BackupError, match="cancelled"):
        restore_backup(edited, tmp_path / "in-process", review=lambda plan: plans.append(plan) is not None)
    [plan] = plans
    assert not plan.authenticated
    assert {"username": "mallory", "role": "owner"} in plan.users
    assert any(t["user"] == "mallory" and t["label"] == "remote access" for t in plan.tokens)
    assert plan.centre == "webhook https://evil.example/alarms"
    assert not (tmp_path / "in-process" / "casahub.db").exists()

    # On a terminal: the list, then the question; "n" changes nothing.
    target = tmp_path / "restored"
    args = ["restore", str(edited), "--data-dir", str(target)]
    code, out = on_terminal(args, "n")
    assert code == 1, out
    assert "NOT encrypted" in out and "nothing proves who made it" in out
    assert "mallory  owner" in out and "anna  owner" in out
    assert '"remote access"' in out and "for mallory" in out
    assert "Anna: +393331234567, anna@example.org" in out
    assert "assistance centre: webhook https://evil.example/alarms" in out
    assert out.index("mallory  owner") < out.index("[y/N]")
    assert "restore cancelled: nothing was changed" in out
    assert not (target / "casahub.db").exists()

    # The genuine backup shows the real centre; "y" installs it.
    code, out = on_terminal(["restore", str(good), "--data-dir", str(target)], "y")
    assert code == 0, out
    assert "assistance centre: DC-09 to ricevitore.vigilanza.example:5001, account 1234" in out
    assert "mallory" not in out
    assert "restored the backup of" in out
    users = [r[0] for r in sqlite3.connect(target / "casahub.db").execute("SELECT username FROM users")]
    assert users == ["anna"]


def test_without_a_terminal_an_unencrypted_restore_needs_yes(tmp_path: Path) -> None:
    data, config = hub_with_centre(tmp_path)
    good = create_backup(data, tmp_path / "good.chb", config_path=config).path
    target = tmp_path / "restored"

    r = casahub("restore", str(good), "--data-dir", str(target))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("casahub: ")
    assert "not encrypted" in r.stderr and "--yes" in r.stderr and "terminal" in r.stderr
    assert not (target / "casahub.db").exists() and not list(tmp_path.glob("restored/.casahub-restore-*"))

    r = casahub("restore", str(good), "--data-dir", str(target), "--yes")
    assert r.returncode == 0, r.stderr
    assert "NOT encrypted" in r.stdout and "anna  owner" in r.stdout and "DC-09 to ricevitore" in r.stdout
    r = casahub("restore", str(good), "--data-dir", str(target), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["authenticated"] is False and out["users"] == [{"username": "anna", "role": "owner"}]
    assert out["centre"] == "DC-09 to ricevitore.vigilanza.example:5001, account 1234"
    assert out["contacts"] == [
        {"name": "Anna", "phone": "+393331234567", "email": "anna@example.org", "source": "config"}
    ]
    assert [t["role"] for t in out["tokens"]] == ["installer"] and str(target / "casahub.db") in out["replaces"]


def test_an_encrypted_backup_is_authenticated_and_a_changed_byte_refused(tmp_path: Path) -> None:
    data, config = hub_with_centre(tmp_path)
    enc = create_backup(data, tmp_path / "enc.chb", config_path=config, passphrase=PASSPHRASE, scrypt_log2_n=FAST).path
    passfile = tmp_path / "pass"
    passfile.write_text(PASSPHRASE + "\n")
    target = tmp_path / "restored"

    # No terminal, no --yes: an authenticated backup needs neither.
    r = casahub("restore", str(enc), "--data-dir", str(target), "--passphrase-file", str(passfile))
    assert r.returncode == 0, r.stderr
    assert "authenticated: encrypted with this passphrase, not changed since" in r.stdout
    assert "anna  owner" in r.stdout and "DC-09 to ricevitore" in r.stdout

    blob = bytearray(enc.read_bytes())
    for where in (len(blob) // 2, len(blob) - 1, 100):  # a chunk, the last tag, the header's MAC region
        tampered = tmp_path / f"tampered-{where}.chb"
        changed = bytearray(blob)
        changed[where] ^= 0x01
        tampered.write_bytes(bytes(changed))
        fresh = tmp_path / f"fresh-{where}"
        before = tree_digest(target)
        for dest in (fresh, target):
            r = casahub("restore", str(tampered), "--data-dir", str(dest), "--passphrase-file", str(passfile), "--yes")
            assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
            assert "damaged" in r.stderr or "wrong passphrase" in r.stderr, r.stderr
        assert not fresh.exists() and tree_digest(target) == before


async def test_the_nightly_backup_is_encrypted_when_a_passphrase_is_set(tmp_path: Path) -> None:
    data, config = hub_with_centre(tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    plans: list[RestorePlan] = []
    for passphrase in (PASSPHRASE, None):
        folder = stick / ("encrypted" if passphrase else "plain")
        folder.mkdir()
        nightly = BackupSchedule(
            BackupConfig(dir=folder, keep=3, passphrase=Secret(passphrase) if passphrase else None),
            data_dir=data,
            hub_name="Casa Rossi",
            timezone="Europe/Rome",
            config_path=config,
            raise_fault=_no_fault,
            scrypt_log2_n=FAST,
        )
        assert await nightly.run_once()
        [made] = list(folder.iterdir())
        head = made.read_bytes()[:16]
        assert (head == b"CASAHUB-BACKUP-1") is (passphrase is not None), head
        target = tmp_path / f"restored-{folder.name}"
        restore_backup(made, target, passphrase=passphrase, review=lambda plan: plans.append(plan) is None)
        assert (target / "casahub.db").exists()
    assert [p.authenticated for p in plans] == [True, False]


async def _no_fault(kind: str, subject: str | None, active: bool = True) -> None:
    raise AssertionError(f"backup failed: {kind} {subject}")
