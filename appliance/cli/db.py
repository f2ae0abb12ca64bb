"""``kiosk db``: integrity check and migrations of the local store."""

from __future__ import annotations

import sys

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.storage.store import SCHEMA_VERSION, Store


@click.group("db", cls=KioskGroup)
def command() -> None:
    """Look after the local SQLite store."""


@command.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def check(as_json: bool) -> None:
    """Run SQLite's integrity check (and foreign keys); exit 1 if anything is wrong."""
    config = load_config()
    with Store(config.db_path) as store:
        rows = store.integrity_check()
        ok = rows == ["ok"]
        report = {
            "path": str(store.path),
            "ok": ok,
            "schema_version": store.schema_version,
            "journal_mode": store.journal_mode(),
            "problems": [] if ok else rows,
        }
    if as_json:
        print_json(report)
    else:
        click.echo(f"{report['path']}: schema {report['schema_version']}, journal {report['journal_mode']}")
        click.echo("integrity: ok" if ok else "integrity: FAILED\n" + "\n".join(f"  {row}" for row in rows))
    sys.exit(0 if ok else 1)


@command.command("migrate")
def migrate() -> None:
    """Bring the schema up to date (also done automatically at start-up)."""
    config = load_config()
    with Store(config.db_path) as store:
        click.echo(f"{store.path}: schema version {store.schema_version} (this software: {SCHEMA_VERSION})")
