"""No module over 700 lines (docs/architecture.md): a newcomer reads one in a sitting. The engine
is the one exception, its header being the theory of operation the rest of it implements."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 700
EXEMPT = {"alarms/engine.py"}


def long_modules(root: Path = ROOT) -> dict[str, int]:
    found: dict[str, int] = {}
    for package in ("alarms", "hub", "drivers"):
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LIMIT and name not in EXEMPT:
                found[name] = lines
    return found


def test_no_module_is_over_700_lines() -> None:
    assert long_modules() == {}, "split these into modules named after what they do"


def test_the_check_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "big.py").write_text("x = 1\n" * (LIMIT + 1), encoding="utf-8")
    (tmp_path / "alarms").mkdir()
    (tmp_path / "alarms" / "engine.py").write_text("x = 1\n" * (LIMIT + 1), encoding="utf-8")
    assert long_modules(tmp_path) == {"hub/big.py": LIMIT + 1}
