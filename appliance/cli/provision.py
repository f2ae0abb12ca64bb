"""``kiosk provision DIR``: install a technician's provisioning set (first boot runs it on the boot partition's kiosk/)."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import KioskCommand, config_path, print_json
from appliance.workflow import provision


@click.command("provision", cls=KioskCommand)
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True,
              help="Overwrite a provisioned kiosk's config, certificates or supervisor PIN with a different set.")
@click.option("--owner", default=provision.KIOSK_USER, show_default=True,
              help="User who owns the installed files when run as root (the one kiosk.service runs as).")
@click.option("--status-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the outcome for the touchscreen (default: <data_dir>/provision.json).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def command(folder: Path, force: bool, owner: str, status_file: Path | None, as_json: bool) -> None:
    """Check every file of the set in FOLDER, then install them all or nothing.

    FOLDER holds kiosk.toml, the certificate files it names and optionally
    supervisor.pinhash (see docs/provisioning.md). The config goes to --config's path,
    certificates beside it in tls/; the kiosk's signing key is made when missing, the
    supervisor enrolled, and the secrets removed from FOLDER. Running it again with the
    same set changes nothing; a different set on a provisioned kiosk needs --force.
    Exit 0 applied or unchanged, 1 refused (nothing changed).
    """
    target = config_path()
    outcome = provision.provision(folder, target, force=force, status_file=status_file, user=owner)
    if as_json:
        print_json({"state": outcome.state, "config": str(outcome.config_path), "post_id": outcome.post_id,
                    "kiosk_id": outcome.kiosk_id, "public_key": outcome.public_key, "steps": outcome.steps,
                    "warnings": outcome.warnings})
        return
    for step in outcome.steps:
        click.echo(step)
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    if outcome.state == "applied":
        click.echo("restart the kiosk (systemctl restart kiosk) if it is running, for the new config to take effect")
    click.echo(f"enrol at HQ with: kiosk-hq enrol {outcome.post_id} {outcome.kiosk_id} {outcome.public_key}")
