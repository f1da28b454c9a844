"""`make run` for a new user (issue 18, part 3): `casahub serve --demo --reset` starts the demo from
nothing and deletes only the demo's own `.casahub-demo`; a first start tells nobody that the hub
"resumed from its saved state" (there was none), a restart does."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli.main import main
from hub.daemon import DEMO_DATA_DIR, ServeOptions, plan, reset_demo
from tests.conftest import start_hub

STARTED = "SELECT COUNT(*) FROM outbox WHERE template = 'event.hub_started'"


async def test_only_a_restart_says_the_hub_resumed(tmp_path: Path) -> None:
    running = await start_hub(tmp_path / "data")
    try:
        first = await running.hub.db.fetchone(STARTED)
        events = await running.hub.db.fetchone("SELECT COUNT(*) FROM events WHERE kind = 'hub_started'")
    finally:
        await running.stop()
    assert first is not None and first[0] == 0, "a first start resumed nothing: no message says it did"
    assert events is not None and events[0] == 1, "the start is in the event log all the same"
    running = await start_hub(tmp_path / "data")
    try:
        again = await running.hub.db.fetchone(STARTED)
    finally:
        await running.stop()
    assert again is not None and again[0] > 0, "a restart is told: it may have been a power cut"


def test_reset_deletes_the_demo_data_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEMO_DATA_DIR).mkdir()
    (tmp_path / DEMO_DATA_DIR / "casahub.db").write_bytes(b"old demo")
    assert reset_demo(plan(ServeOptions(demo=True))[0]) is None
    assert not (tmp_path / DEMO_DATA_DIR).exists()
    assert reset_demo(plan(ServeOptions(demo=True))[0]) is None  # nothing to delete: fine

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "casahub.db").write_bytes(b"a hub's data")
    refused = reset_demo(plan(ServeOptions(demo=True, data_dir=mine))[0])
    assert refused is not None and "--reset only resets the demo" in refused
    assert (mine / "casahub.db").read_bytes() == b"a hub's data"


def test_reset_without_demo_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--reset", "--data-dir", str(tmp_path)]) == 2
    assert "use it with --demo" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
