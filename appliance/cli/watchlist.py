"""``kiosk watchlist``: import HQ's list exports (CSV) and show the lists in force."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.lists import indexes
from appliance.lists.csv_format import KINDS
from appliance.lists.csv_import import import_csv
from appliance.lists.status import list_status
from appliance.storage.store import Store


@click.group("watchlist", cls=KioskGroup)
def command() -> None:
    """Import and inspect watchlists (persons and stolen/lost documents)."""


@command.command("import")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the file lists.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--list", "list_name", help="List to replace (default: the kind, 'persons' or 'documents').")
@click.option("--version", "version", help="Version of the list (default: the UTC import time, e.g. 20261123T190300Z).")
@click.option("--actor", default="cli", show_default=True, help="Who imports, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the import summary as JSON.")
def import_(kind: str, file: Path, list_name: str | None, version: str | None, actor: str, as_json: bool) -> None:
    """Replace a list with the entries of FILE (CSV); a file with any error changes nothing."""
    config = load_config()
    with Store(config.db_path) as store:
        result = import_csv(store, kind, file, list_name=list_name, version=version, actor=actor,
                            index_root=indexes.root_for(config))
    if as_json:
        print_json(result.to_dict())
        return
    replaced = f"replaced version {result.replaced_version}" if result.replaced_version else "new list"
    click.echo(f"imported {result.kind} list {result.list} version {result.version}: {result.entries} entries "
               f"({replaced}; sha256 {result.sha256[:16]}...)")


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Show each list in force: kind, version, import time, age and entries."""
    with Store(load_config().db_path) as store:
        lists = list_status(store)
    if as_json:
        print_json(lists)
        return
    if not lists:
        click.echo("no lists imported")
        return
    click.echo(f"{'list':<16} {'kind':<9} {'version':<20} {'imported at':<27} {'age':>7} {'entries':>9}")
    for item in lists:
        click.echo(f"{item['name']:<16} {item['kind']:<9} {item['version']:<20} {item['imported_at']:<27} "
                   f"{item['age']:>7} {item['entries']:>9}")
