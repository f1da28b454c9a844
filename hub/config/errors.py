"""Where the config's problems are collected: each issue names the file, the dotted key and the reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    key: str  # dotted: "alarm.entry_delay", "contacts[1].language"; "" for the whole file
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}" if self.key else f"{self.file}: {self.reason}"


class ConfigError(Exception):
    """The config is invalid; `.issues` lists every error (file, key, reason), `.warnings` the warnings."""

    def __init__(self, issues: list[ConfigIssue], warnings: list[ConfigIssue] | None = None) -> None:
        self.issues = issues
        self.warnings = warnings or []
        super().__init__("\n".join(str(issue) for issue in issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class _Context:
    """One load's file, directory and environment, and the errors and warnings found so far."""

    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []

    def error(self, key: str, reason: str) -> None:
        self.errors.append(ConfigIssue(self.file, key, reason))

    def warn(self, key: str, reason: str) -> None:
        self.warnings.append(ConfigIssue(self.file, key, reason))

    def env_value(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value else None

    def resolve(self, text: str, key: str = "") -> Path:
        try:
            if "\x00" in text:
                raise ValueError("embedded NUL character")
            path = Path(text).expanduser()
        except (RuntimeError, ValueError) as exc:  # "~nosuchuser/...", NUL bytes
            self.error(key, f"invalid path {text!r}: {exc}")
            return self.base_dir
        return path if path.is_absolute() else self.base_dir / path
