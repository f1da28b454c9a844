"""The layers hold, and their contracts bite.

pyproject.toml's `[tool.importlinter]` contracts (run by `make lint` as `lint-imports`):
alarms is the pure domain (no hub, no drivers, no I/O library, not even asyncio), drivers
import nothing from the hub, and the hub's modules import each other without a cycle.
They must be kept by the real tree; and each must be broken by a copy of the tree with
one deliberately bad import in it, else the contract would be a comment that runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("alarms", "drivers", "hub")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the tree at `root`, importing its packages, not the installed ones."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--no-cache",
            "--no-logo",
            str(root / "pyproject.toml"),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_tree(to: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, to / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")
    return to


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("alarms/engine.py", "import hub.core.runtime", "alarms is the pure domain"),
        ("alarms/engine.py", "import drivers.base", "alarms is the pure domain"),
        ("alarms/engine.py", "import asyncio", "alarms is the pure domain"),
        ("alarms/policy.py", "def later() -> None:\n    import aiohttp", "alarms is the pure domain"),
        ("alarms/model.py", "import socket", "alarms is the pure domain"),
        ("alarms/dc09.py", "import serial_asyncio_fast", "alarms is the pure domain"),
        ("drivers/camera/feed.py", "from hub.core.clock import wait_set", "drivers bring readings in"),
        ("drivers/simulated.py", "import hub.cameras.snapshots", "drivers bring readings in"),
        ("hub/web/report_api.py", "def later() -> None:\n    from hub.web.app import make_app", "no import cycle"),
        ("hub/store/db.py", "import hub.core.runtime", "no import cycle"),
    ],
)
def test_a_bad_import_breaks_its_contract(tmp_path: Path, module: str, bad_import: str, contract: str) -> None:
    tree = copy_tree(tmp_path)
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + bad_import + "\n", encoding="utf-8")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert len(broken) == 1, result.stdout
    assert broken[0].startswith(contract), result.stdout
