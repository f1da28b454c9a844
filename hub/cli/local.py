"""What the local commands (`user`, `token`, `backup`, `restore`, `doctor`) share: where the
data dir is, and how a result is printed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def resolve_data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return Path(args.data_dir)
    if args.config:
        from hub.config import ConfigError, load_config

        try:
            loaded = load_config(args.config)
        except ConfigError as exc:
            raise SystemExit(f"casahub: invalid configuration:\n{exc}") from None
        if loaded.config.hub.data_dir:
            return loaded.config.hub.data_dir
    from hub.system.data_dir import default_data_dir

    return default_data_dir()


def show(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)
