"""``kiosk config``: show the effective configuration."""

from __future__ import annotations

import click

from appliance import config as config_module
from appliance.cli.common import KioskGroup, load_config, print_json


@click.group("config", cls=KioskGroup)
def command() -> None:
    """Inspect the configuration."""


@command.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
def show(as_json: bool) -> None:
    """Print the effective config (file + environment), secrets masked."""
    config = load_config()
    data = config_module.masked(config)
    if as_json:
        print_json({"source": str(config.source), **data})
    else:
        click.echo(f"# effective config from {config.source} (secrets masked)")
        click.echo(config_module.to_toml(data), nl=False)
