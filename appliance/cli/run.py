"""``kiosk run``: the appliance service."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance.cli.common import KioskCommand, check_port_free, config_path, load_config
from appliance.errors import ConfigError
from appliance.service import daemon as service


@click.command("run", cls=KioskCommand)
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Logging threshold.")
@click.option("--fallback-screen", is_flag=True,
              help="When the config is missing or invalid, serve a screen that says why (and the last "
                   "provisioning refusal) instead of exiting; exit 75 once the config changes. The image's "
                   "kiosk.service uses it so a refused first boot shows on the touchscreen.")
@click.option("--fallback-host", default="127.0.0.1", show_default=True,
              help="Address the fallback screen listens on (the config's [api] host is unknown without a config).")
@click.option("--fallback-port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the fallback screen.")
@click.option("--fallback-status-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Provisioning status file to show (default: provision.json in the config's data_dir, "
                   "else in /var/lib/kiosk).")
def command(log_level: str, fallback_screen: bool, fallback_host: str, fallback_port: int,
            fallback_status_file: Path | None) -> None:
    """Run the kiosk: API and touchscreen UI, devices, watchdog (systemd runs this)."""
    service.setup_logging(log_level)
    try:
        config = load_config()
    except ConfigError as exc:
        if not fallback_screen:
            raise
        from appliance.service import unprovisioned

        sys.exit(unprovisioned.serve(config_path(), str(exc), host=fallback_host, port=fallback_port,
                                     status_file=fallback_status_file))
    # Before anything starts: a second kiosk on the same port says so and exits 1.
    check_port_free(config.api.host, config.api.port)
    service.run(config)
