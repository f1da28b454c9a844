"""`casahub doctor --groups`: the groups the configured drivers need, checked against /etc/group."""

from __future__ import annotations

import grp
import pwd
from typing import Any

import pytest

from hub.cli import doctor
from hub.config import Config
from hub.config.model import DriverConfig, GsmConfig

HUB = pwd.struct_passwd(("casahub", "x", 990, 990, "", "/var/lib/casahub", "/usr/sbin/nologin"))


def group(name: str, gid: int, members: list[str]) -> Any:
    return grp.struct_group((name, "x", gid, members))


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = [group("casahub", 990, []), group("bluetooth", 112, ["casahub"]), group("gpio", 997, [])]
    groups.append(group("dialout", 20, []))
    monkeypatch.setattr(doctor.grp, "getgrall", lambda: groups)
    monkeypatch.setattr(doctor.grp, "getgrgid", lambda gid: next(g for g in groups if g.gr_gid == gid))
    monkeypatch.setattr(doctor.pwd, "getpwuid", lambda uid: HUB)


def test_each_configured_driver_names_the_group_it_needs(system: None) -> None:
    config = Config(
        drivers=(DriverConfig("bthome"), DriverConfig("gpio", {"chip": "/nonexistent/gpiochip9"})),
        gsm=GsmConfig(device="/nonexistent/ttyUSB9"),
    )
    checks = doctor.groups_check(config, uid=990)
    by_group = {line.split("group ")[1].split()[0].rstrip(",:"): (ok, line) for ok, line in checks}
    assert by_group["bluetooth"][0] is True
    assert by_group["gpio"][0] is False and "sudo usermod -aG gpio casahub" in by_group["gpio"][1]
    assert by_group["dialout"][0] is False and "[gsm]" in by_group["dialout"][1]


def test_nothing_configured_needs_no_group(system: None) -> None:
    assert doctor.groups_check(Config(), uid=990) == []
