"""What every ``kiosk-hq`` command shares: the --config option, config loading, the database, JSON output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from appliance.cli.common import ReportingCommand

if TYPE_CHECKING:
    from hq.config import HQConfig
    from hq.db import HQDatabase

DEFAULT_CONFIG = Path("/etc/kiosk-hq/hq.toml")


class HQCommand(ReportingCommand):
    """A reporting command (``error: ...``, exit 1) that also accepts --config."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="HQ config file (default: $KIOSK_HQ_CONFIG or /etc/kiosk-hq/hq.toml).")(self)


class HQGroup(click.Group):
    command_class = HQCommand


HQGroup.group_class = HQGroup


def load(config_path: str | None) -> HQConfig:
    """The HQ config named by --config, else $KIOSK_HQ_CONFIG, else DEFAULT_CONFIG."""
    from hq.config import load as load_config

    return load_config(config_path or os.environ.get("KIOSK_HQ_CONFIG") or DEFAULT_CONFIG)


def open_db(config: HQConfig) -> HQDatabase:
    """HQ's database of ``config`` (use it as ``with open_db(config) as db:``)."""
    from hq.db import HQDatabase

    return HQDatabase(config.hq.database)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def per_kiosk(command: Any) -> Any:
    """``--post``, ``--kiosk`` (narrowing to one post or kiosk) and ``--json``, as the per-kiosk commands take them."""
    for option in reversed((
        click.option("--post", "post_id", help="Only this post."),
        click.option("--kiosk", "kiosk_id", help="Only this kiosk."),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON array."),
    )):
        command = option(command)
    return command
