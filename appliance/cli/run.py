"""``kiosk run``: the appliance service."""

from __future__ import annotations

import click

from appliance.cli.common import KioskCommand, check_port_free, load_config
from appliance.service import daemon as service


@click.command("run", cls=KioskCommand)
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Logging threshold.")
def command(log_level: str) -> None:
    """Run the kiosk: API and touchscreen UI, devices, watchdog (systemd runs this)."""
    config = load_config()
    check_port_free(config.api.host, config.api.port)
    service.setup_logging(log_level)
    service.run(config)
