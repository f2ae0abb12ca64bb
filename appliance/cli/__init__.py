"""The ``kiosk`` command: one click group, one module per command group.

Every command accepts ``--config PATH`` (also accepted before the command name); without
it ``$KIOSK_CONFIG`` or ``/etc/kiosk/kiosk.toml`` is used. An expected failure
(``KioskError``) prints ``error: ...`` on stderr and exits 1; usage errors exit 2.
"""

from __future__ import annotations

import click

from appliance import __version__
from appliance.cli.common import KioskGroup, config_option


@click.group(cls=KioskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk")
@config_option
def cli() -> None:
    """Border kiosk firmware: records, screens and uplinks border crossings."""


# Imported after ``cli`` exists: the command modules import only ``.common``, never this
# module's names, so there is no import cycle.
from appliance.cli import (
    audit,
    bench,
    config_cmd,
    crossings,
    db,
    demo,
    faces,
    lists,
    models,
    mrz,
    officers,
    provision,
    retention,
    run,
    screen,
    selftest,
    stats,
    stick,
    time_cmd,
    uplink,
    watchlist,
)  # noqa: E402,E501

for _module in (run, demo, config_cmd, db, audit, officers, mrz, crossings, watchlist, lists, screen, faces, models,
                stats, uplink, bench, selftest, provision, retention, time_cmd):
    cli.add_command(_module.command)
cli.add_command(stick.export_command)
cli.add_command(stick.receipt_command)


def main() -> None:
    cli(prog_name="kiosk")
