"""``kiosk time``: where the kiosk's time comes from, and a supervisor setting it when nothing else can."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.errors import KioskError
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.workflow import timekeeping


@click.group("time", cls=KioskGroup)
def command() -> None:
    """The kiosk's time: its trusted source, and setting it by a supervisor."""


@command.command("status")
def status() -> None:
    """Print the time a crossing would be recorded with now, its source and uncertainty, as JSON."""
    config = load_config()
    with Store(config.db_path) as store:
        print_json(timekeeping.status(store, config))


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise KioskError(f"{text!r} is not a time YYYY-MM-DDTHH:MM[:SS]Z") from None
    if when.tzinfo is None:
        raise KioskError(f"{text!r} does not say its zone: end it with Z (UTC) or +HH:MM")
    return when


@command.command("set")
@click.argument("when", metavar="YYYY-MM-DDTHH:MM:SSZ")
@click.option("--supervisor", "supervisor_id", required=True, help="Supervisor setting the time (PIN on stdin).")
def set_time(when: str, supervisor_id: str) -> None:
    """Set the kiosk's time from a watch or a phone (audited); crossings then carry it forward.

    The system clock itself is left alone: the kiosk runs unprivileged."""
    config = load_config()
    moment = _when(when)
    pin = sys.stdin.readline().strip()
    with Store(config.db_path) as store:
        officers = Officers(store, config.security)
        # The same PIN check and lockout as at the screen; the session is only for this command.
        session = officers.login(supervisor_id, pin)
        try:
            anchor = timekeeping.set_by_supervisor(store, config, session.officer, moment)
        finally:
            officers.logout(session.token)
    click.echo(f"time set to {anchor.utc} by {supervisor_id} (uncertainty {anchor.uncertainty_s:g} s)")
