"""``kiosk lists``: apply a signed HQ list bundle (e.g. from a USB stick) and show the lists in force."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.errors import BundleError
from appliance.lists.apply import apply_bundle
from appliance.lists.bundle import short_model
from appliance.lists.status import list_status
from appliance.storage.store import Store


@click.group("lists", cls=KioskGroup)
def command() -> None:
    """Signed list bundles from HQ: apply one, show versions and ages."""


@command.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Who applies, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def apply(file: Path, actor: str, as_json: bool) -> None:
    """Verify FILE (signature, version chain, hashes) and apply it atomically; a bad bundle changes nothing."""
    config = load_config()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read bundle {file}: {exc.strerror or exc}") from None
    with Store(config.db_path) as store:
        result = apply_bundle(store, config, data, actor=actor)
    if as_json:
        print_json(result)
        return
    click.echo(result["message"])


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Each list in force: version, age, stale flag, entries, where it came from, the model of its faces."""
    config = load_config()
    with Store(config.db_path) as store:
        lists = list_status(store, max_age_hours=config.screening.max_list_age_hours)
    if as_json:
        print_json({"lists": lists, "max_age_hours": config.screening.max_list_age_hours,
                    "stale_policy": config.screening.stale_policy})
        return
    if not lists:
        click.echo("no lists in force")
        return
    click.echo(f"{'list':<16} {'kind':<9} {'version':<20} {'source':<7} {'age':>8} {'entries':>11}  {'face model':<12}")
    for item in lists:
        flag = f"  STALE ({config.screening.stale_policy})" if item["stale"] else ""
        # Short, as people compare it with `kiosk faces embed --json`; the JSON has all 64 digits.
        model = short_model(item["face_model"]) if item["face_model"] else "-"
        click.echo(f"{item['name']:<16} {item['kind']:<9} {item['version']:<20} {item['source']:<7} "
                   f"{item['age']:>8} {item['entries']:>11}  {model:<12}{flag}")
