"""``kiosk bench``: benchmarks that print figures beside a named peer measured in the same run.

Each benchmark's command is its own module (``bench_uplink``, ``bench_screening``) over
the measuring code in ``appliance.bench``; this group only gathers them. Figures are ratios against the peer because
the machine that runs them is rarely the board that ships.
"""

from __future__ import annotations

import click

from appliance.cli import (
    bench_face,
    bench_footprint,
    bench_outage,
    bench_powercut,
    bench_screening,
    bench_soak,
    bench_uplink,
)
from appliance.cli.common import KioskGroup


@click.group("bench", cls=KioskGroup)
def command() -> None:
    """Benchmarks, each against a named peer in the same run."""


command.add_command(bench_uplink.command)
command.add_command(bench_screening.command)
command.add_command(bench_footprint.command)
command.add_command(bench_face.command)
command.add_command(bench_powercut.command)
command.add_command(bench_outage.command)
command.add_command(bench_soak.command)
