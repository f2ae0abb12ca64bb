"""``kiosk retention``: apply the [retention] policy now (housekeeping also applies it every round)."""

from __future__ import annotations

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.storage.store import Store
from appliance.workflow import retention


@click.group("retention", cls=KioskGroup)
def command() -> None:
    """Remove personal data of crossings HQ holds, after the configured days."""


@command.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--actor", default="cli", show_default=True, help="Who purges, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object of counts.")
def purge(dry_run: bool, actor: str, as_json: bool) -> None:
    """Purge now: photos and fingerprints after biometrics_days, names and numbers after personal_data_days."""
    config = load_config()
    section = config.retention
    with Store(config.db_path) as store:
        done = retention.purge(store, config, actor=actor, dry_run=dry_run)
    if as_json:
        print_json({**done, "dry_run": dry_run, "biometrics_days": section.biometrics_days,
                    "personal_data_days": section.personal_data_days})
        return
    if section.biometrics_days is None and section.personal_data_days is None:
        click.echo("no retention policy: [retention] biometrics_days and personal_data_days are unset")
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} the biometrics of {done['biometrics']} crossing(s) ({done['captures']} capture(s)) and the "
               f"personal data of {done['personal_data']} crossing(s)")
