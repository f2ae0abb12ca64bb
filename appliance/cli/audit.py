"""``kiosk audit``: verify the hash-chained audit log, show its tail."""

from __future__ import annotations

import json
import sys

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.storage import audit as audit_log
from appliance.storage.store import Store


@click.group("audit", cls=KioskGroup)
def command() -> None:
    """Check and read the audit log."""


@command.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def verify(as_json: bool) -> None:
    """Check every link of the chain; name each changed or deleted row; exit 1 if any."""
    with Store(load_config().db_path) as store:
        checked, problems = audit_log.verify(store)
    if as_json:
        print_json({"rows": checked, "ok": not problems,
                    "problems": [{"seq": p.seq, "message": p.message} for p in problems]})
    elif problems:
        click.echo(f"audit log: {len(problems)} problem(s) in {checked} rows", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
    else:
        click.echo(f"audit log: ok ({checked} rows, chain intact)")
    sys.exit(1 if problems else 0)


@command.command("tail")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(1, 10_000), help="How many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tail(count: int, as_json: bool) -> None:
    """Show the newest audit entries."""
    with Store(load_config().db_path) as store, store.lock:
        rows = list(store.db.query("SELECT seq, at, actor, action, subject, details FROM audit ORDER BY seq DESC LIMIT ?", [count]))
    rows.reverse()
    if as_json:
        print_json([{**row, "details": json.loads(row["details"])} for row in rows])
        return
    for row in rows:
        click.echo(f"{row['seq']:>6} {row['at']} {row['actor']:<12} {row['action']:<18} {row['subject']} {row['details']}")
