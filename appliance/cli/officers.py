"""``kiosk officers``: enrol officers, list them, clear lockouts, disable accounts."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from pathlib import Path

import click

from appliance.cli.common import KioskGroup, ReportingCommand, load_config, print_json
from appliance.config import SecuritySection
from appliance.errors import KioskError
from appliance.storage.officers import ROLES, Officers
from appliance.storage.store import Store
from appliance.workflow import provision


@contextlib.contextmanager
def _officers() -> Iterator[Officers]:
    """The officer accounts of the configured store, closed when the command is done."""
    config = load_config()
    with Store(config.db_path) as store:
        yield Officers(store, config.security)


@click.group("officers", cls=KioskGroup)
def command() -> None:
    """Manage officer accounts."""


@command.command("add")
@click.argument("officer_id")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the officer may do.")
def add(officer_id: str, role: str) -> None:
    """Enrol OFFICER_ID; the PIN is read from the first line of stdin (never from the command line)."""
    if sys.stdin.isatty():
        click.echo("PIN (digits, not echoed): ", nl=False, err=True)
        import getpass

        pin = getpass.getpass("")
    else:
        pin = sys.stdin.readline().strip()
    with _officers() as officers:
        officer = officers.add(officer_id, role, pin)
    click.echo(f"officer {officer.id} added with role {officer.role}")


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List officers with role and lockout state."""
    with _officers() as accounts:
        officers = accounts.list()
    if as_json:
        print_json([o.to_dict() for o in officers])
        return
    for o in officers:
        state = "disabled" if not o.active else (f"locked until {o.locked_until}" if o.locked_until else "active")
        click.echo(f"{o.id:<20} {o.role:<11} {state}")


@command.command("unlock")
@click.argument("officer_id")
def unlock(officer_id: str) -> None:
    """Clear OFFICER_ID's lockout after too many wrong PINs."""
    with _officers() as officers:
        officers.unlock(officer_id)
    click.echo(f"officer {officer_id} unlocked")


@command.command("disable")
@click.argument("officer_id")
def disable(officer_id: str) -> None:
    """Disable OFFICER_ID's account and end their sessions."""
    with _officers() as officers:
        officers.set_active(officer_id, False)
    click.echo(f"officer {officer_id} disabled")


@command.command("enable")
@click.argument("officer_id")
def enable(officer_id: str) -> None:
    """Re-enable OFFICER_ID's account."""
    with _officers() as officers:
        officers.set_active(officer_id, True)
    click.echo(f"officer {officer_id} enabled")


@command.command("pinhash", cls=ReportingCommand)
@click.argument("officer_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (e.g. <boot partition>/kiosk/supervisor.pinhash); default stdout.")
def pinhash(officer_id: str, output: Path | None) -> None:
    """Make the supervisor.pinhash file of a provisioning set on a laptop: OFFICER_ID and the hash of a PIN read from stdin.

    Needs no kiosk config. The PIN (typed twice on a terminal, else the first line of stdin)
    is checked against the default PIN rules and only its scrypt hash is written, so the
    PIN never travels on the card.
    """
    if sys.stdin.isatty():
        import getpass

        pin = getpass.getpass("PIN (digits, not echoed): ")
        if getpass.getpass("The same PIN again: ") != pin:
            raise KioskError("the two PINs differ; nothing was written")
    else:
        pin = sys.stdin.readline().strip()
    text = provision.pinhash_text(officer_id, pin, SecuritySection())
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: copy it into the provisioning folder as {provision.SET_PINHASH}", err=True)
