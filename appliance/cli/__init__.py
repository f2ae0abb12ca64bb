"""The ``kiosk`` command: one click group, one module per command group.

Every command accepts ``--config PATH`` (also accepted before the command name); without
it ``$KIOSK_CONFIG`` or ``/etc/kiosk/kiosk.toml`` is used. An expected failure
(``KioskError``) prints ``error: ...`` on stderr and exits 1; usage errors exit 2.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import KioskGroup, config_option


@click.group(cls=KioskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk")
@config_option
def cli() -> None:
    """Border kiosk firmware: records, screens and uplinks border crossings."""


def _register() -> None:
    # Imported here, not at module top, so each command module can import ``common``
    # without a cycle through this package's __init__.
    from . import audit, config_cmd, crossings, db, demo, mrz, officers, run, stats, watchlist

    for module in (config_cmd, db, audit, mrz, officers, crossings, watchlist, stats, run, demo):
        cli.add_command(module.command)


def main() -> None:
    _register()
    cli(prog_name="kiosk")
