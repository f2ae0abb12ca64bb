"""``kiosk-hq``: the HQ end's command line."""

from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk-hq")
def cli() -> None:
    """HQ end of the kiosk fleet: ingest crossings, watch the fleet, publish lists."""


def main() -> None:
    cli(prog_name="kiosk-hq")
