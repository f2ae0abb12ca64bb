"""``kiosk crossings``: record, list, show and resolve crossings through the same workflow as the API."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.domain import clock
from appliance.domain.models import Crossing
from appliance.errors import KioskError
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.workflow import crossings as workflow
from appliance.workflow import export as export_workflow


@click.group("crossings", cls=KioskGroup)
def command() -> None:
    """Record and read crossings."""


def _summary(crossing: Crossing) -> str:
    document = crossing.document
    name = f"{document.surname}, {document.given_names}".strip(", ")
    hits = len(crossing.screening.hits)
    outcome = f" -> {crossing.outcome}" if crossing.outcome else ""
    training = " [training]" if crossing.training else ""
    return (f"#{crossing.seq} {crossing.recorded_at} {crossing.direction:<5} {crossing.decision}{outcome}"
            f" {document.issuing_state} {document.document_number} {name} hits={hits}{training} {crossing.id}")


@command.command("record")
@click.option("--direction", type=click.Choice(workflow.DIRECTIONS), required=True, help="Entry or exit.")
@click.option("--mrz-file", type=click.Path(dir_okay=False, allow_dash=True), required=True,
              help="File holding the MRZ lines ('-' for stdin).")
@click.option("--officer", "officer_id", required=True, help="Officer recording the crossing.")
@click.option("--decision", type=click.Choice(workflow.DECISIONS),
              help="Officer's decision (default: cleared, or referred on a hit or document problem).")
@click.option("--note", default="", help="Officer's note.")
@click.option("--purpose", help="Purpose of travel: one of the config's [crossings] purposes.")
@click.option("--visa-number", help="A visa holder's visa number (an MRV document gives its own).")
@click.option("--visa-type", help="The visa's type as its MRZ prints it (V, VC...).")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded crossing as JSON.")
def record(direction: str, mrz_file: str, officer_id: str, decision: str | None, note: str, purpose: str | None,
           visa_number: str | None, visa_type: str | None, as_json: bool) -> None:
    """Screen and record one crossing from an MRZ file."""
    config = load_config()
    try:
        text = sys.stdin.read() if mrz_file == "-" else Path(mrz_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KioskError(f"cannot read MRZ file {mrz_file}: {exc}") from None
    with Store(config.db_path) as store:
        officer = Officers(store, config.security).get(officer_id)
        if not officer.active:
            raise KioskError(f"officer {officer_id} is disabled")
        recorded = workflow.record(
            store, config, officer,
            workflow.CrossingRequest(direction=direction, mrz=text, decision=decision, note=note, purpose=purpose,
                                     visa_number=visa_number, visa_type=visa_type),
        )
    if as_json:
        print_json(recorded.to_dict())
    else:
        crossing = recorded.crossing
        click.echo(f"recorded {_summary(crossing)}")
        click.echo(f"  decision: {crossing.decision} ({recorded.decision_reason})")
        for hit in crossing.screening.hits:
            click.echo(f"  HIT {hit.list}/{hit.entry_id} score {hit.score:.2f}: {hit.explanation}")


@command.command("list")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Only this post-local day.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_(day: str | None, limit: int, as_json: bool) -> None:
    """List crossings, newest first."""
    config = load_config()
    since = until = None
    if day is not None:
        since, until = clock.day_bounds(_day(day), config.kiosk.timezone)
    with Store(config.db_path) as store:
        items = workflow.list_crossings(store, since=since, until=until, limit=limit)
    if as_json:
        print_json([item.to_dict() for item in items])
    else:
        for crossing in items:
            click.echo(_summary(crossing))
        if not items:
            click.echo(f"no crossings on {day}" if day is not None else "no crossings")


def _day(text: str) -> date:
    """A --date value; KioskError (``error: ...``, exit 1) for anything but a real YYYY-MM-DD."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise KioskError(f"--date {text!r} is not a date YYYY-MM-DD") from None


@command.command("show")
@click.argument("crossing_id")
def show(crossing_id: str) -> None:
    """Print one crossing as JSON."""
    with Store(load_config().db_path) as store:
        crossing = workflow.get(store, crossing_id)
    print_json(crossing.to_dict())


@command.command("resolve")
@click.argument("crossing_id")
@click.option("--supervisor", "supervisor_id", required=True, help="Supervisor recording the outcome.")
@click.option("--outcome", type=click.Choice(workflow.OUTCOMES), required=True, help="Outcome of secondary inspection.")
@click.option("--reason", metavar="REASON",
              help="Why, as the touchscreen's decision form asks: " + ", ".join(workflow.OUTCOME_REASONS)
              + " (other needs a --note).")
@click.option("--note", default="", help="Supervisor's note.")
def resolve(crossing_id: str, supervisor_id: str, outcome: str, reason: str | None, note: str) -> None:
    """Record a supervisor's outcome for a referred crossing, with its reason; the PIN is read from stdin.

    The touchscreen's rules: a reason is needed, and under four eyes (security.four_eyes)
    the officer who recorded the crossing cannot decide it.
    """
    config = load_config()
    # Refused before the PIN is read and checked, as on the touchscreen: a decision that
    # cannot be recorded costs the supervisor no try towards a lockout, and changes nothing.
    workflow.check_outcome(outcome, reason, note)
    with Store(config.db_path) as store:
        workflow.check_four_eyes(workflow.get(store, crossing_id), supervisor_id, config.security.four_eyes)
        pin = sys.stdin.readline().strip()
        officers = Officers(store, config.security)
        # The same PIN check and lockout as at the screen; the session is only for this command.
        session = officers.login(supervisor_id, pin)
        try:
            crossing = workflow.resolve(store, session.officer, crossing_id, outcome, note, reason=reason,
                                        four_eyes=config.security.four_eyes)
        finally:
            officers.logout(session.token)
    click.echo(f"resolved {_summary(crossing)}")


@command.command("export")
@click.option("--supervisor", "supervisor_id", required=True, help="Supervisor exporting (PIN on stdin).")
@click.option("--from", "first", required=True, metavar="YYYY-MM-DD", help="First post-local day.")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="Last day (default: the first).")
@click.option("--format", "fmt", type=click.Choice(export_workflow.FORMATS), default="csv", show_default=True,
              help="CSV (one row per crossing) or a JSON array of the full records.")
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="File to write ('-' for stdout); created mode 0600.")
def export(supervisor_id: str, first: str, last: str | None, fmt: str, output: str) -> None:
    """Export crossings with their personal data: a supervisor's PIN on stdin, and an audit entry."""
    config = load_config()
    first_day = _day(first)
    last_day = _day(last) if last else first_day
    pin = sys.stdin.readline().strip()
    with Store(config.db_path) as store:
        officers = Officers(store, config.security)
        # The same PIN check and lockout as at the screen; the session is only for this command.
        session = officers.login(supervisor_id, pin)
        try:
            items = export_workflow.export_crossings(store, session.officer, first_day, last_day,
                                                     config.kiosk.timezone, fmt)
        finally:
            officers.logout(session.token)
    text = export_workflow.to_csv(items) if fmt == "csv" else json.dumps(items, ensure_ascii=False, indent=1) + "\n"
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise KioskError(f"cannot write {output}: {exc}") from None
    click.echo(f"exported {len(items)} crossing(s) of {first_day}..{last_day} to {output}", err=True)
