"""``kiosk mrz``: parse and check a machine readable zone from the command line."""

from __future__ import annotations

import sys
from datetime import date, datetime

import click

from appliance.cli.common import KioskGroup, print_json
from appliance.domain import clock
from appliance.domain import mrz as mrz_module
from appliance.errors import MRZError

# Exit codes HQ scripts rely on.
EXIT_VALID = 0
EXIT_CHECK_FAILED = 1
EXIT_NOT_AN_MRZ = 2


@click.group("mrz", cls=KioskGroup)
def command() -> None:
    """Machine readable zones of passports, ID cards and visas (ICAO 9303)."""


@command.command("parse")
@click.argument("source", required=False, default="-", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every decoded field and check.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]),
              help="Resolve two-digit years and expiry as of this day, YYYY-MM-DD (default: today, UTC).")
def parse(source: str, as_json: bool, today: datetime | None) -> None:
    """Parse the MRZ in SOURCE (default: stdin) and check every check digit.

    Needs no configuration. Exits 0 when the MRZ is valid, 1 when it was read but a check
    failed, 2 when the input is not an MRZ (the reason goes to stderr).
    """
    day = today.date() if today else clock.utcnow().date()
    try:
        with click.open_file(source, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        click.echo(f"error: cannot read {source}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_NOT_AN_MRZ)
    # Undecodable bytes become U+FFFD, which the parser then reports with its position.
    text = data.decode("utf-8", errors="replace")
    try:
        result = mrz_module.parse(text, today=day)
    except MRZError as exc:
        click.echo(f"error: not an MRZ: {exc}", err=True)
        sys.exit(EXIT_NOT_AN_MRZ)

    if as_json:
        print_json(result.to_dict())
    else:
        _print_summary(result, day)
    sys.exit(EXIT_VALID if result.valid else EXIT_CHECK_FAILED)


def _print_summary(result: mrz_module.MRZResult, today: date) -> None:
    data = result.to_dict()
    expiry = data["expiry_date"] or "unreadable"
    if result.is_expired(today):
        expiry += " (expired)"
    name = ", ".join(part for part in (data["surname"], data["given_names"]) if part)
    click.echo(f"{result.format} document {data['document_code']} issued by {data['issuing_state']}")
    click.echo(f"  number:      {data['document_number']}")
    click.echo(f"  name:        {name}")
    click.echo(f"  nationality: {data['nationality']}")
    click.echo(f"  born:        {data['birth_date'] or 'unreadable'}   sex: {data['sex']}")
    click.echo(f"  expires:     {expiry}")
    for key in ("optional_data", "optional_data_2"):
        if data.get(key):
            click.echo(f"  {key.replace('_', ' ')}: {data[key]}")
    if result.valid:
        click.echo("checks: all passed")
    else:
        click.echo(f"checks failed: {', '.join(result.failed_checks)}")
        for message in result.messages:
            click.echo(f"  - {message}")
