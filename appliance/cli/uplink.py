"""``kiosk uplink``: the MQTT link to HQ: state, keys, telemetry on demand."""

from __future__ import annotations

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.storage.store import Store
from appliance.uplink import protocol, status, telemetry
from appliance.uplink.client import signing_key_path


@click.group("uplink", cls=KioskGroup)
def command() -> None:
    """The MQTT uplink to HQ."""


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def show_status(as_json: bool) -> None:
    """Connected or not, crossings waiting for HQ's receipt, last receipt."""
    config = load_config()
    with Store(config.db_path) as store:
        report = status.snapshot(store)
    report["broker_url"] = config.uplink.broker_url or None
    if as_json:
        print_json(report)
        return
    if not config.uplink.broker_url:
        click.echo("uplink: not configured (crossings stay queued)")
    else:
        state = "connected" if report["connected"] else ("running, not connected" if report["running"]
                                                         else "not running")
        click.echo(f"uplink: {state} ({config.uplink.broker_url})")
    click.echo(f"pending crossings: {report['pending']} (all queued messages: {report['queued']})")
    click.echo(f"oldest pending: {report['oldest_pending_at'] or '-'}")
    click.echo(f"last receipt: {report['last_receipt_at'] or 'never'}")
    if report["last_error"]:
        click.echo(f"last error: {report['last_error']}")


@command.command("keygen")
def keygen() -> None:
    """Create this kiosk's Ed25519 signing key; prints the public key to enrol at HQ."""
    config = load_config()
    path = signing_key_path(config)
    public = protocol.generate_key_file(path)
    click.echo(f"wrote {path}", err=True)
    click.echo(f"enrol at HQ with: kiosk-hq enrol {config.kiosk.post_id} {config.kiosk.kiosk_id} {public}", err=True)
    click.echo(public)


@command.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (as sent to HQ).")
def health(as_json: bool) -> None:
    """Collect the health telemetry now, as HQ would receive it."""
    config = load_config()
    with Store(config.db_path) as store:
        report = telemetry.collect(store, config)
    if as_json:
        print_json(report)
    else:
        for key, value in report.items():
            click.echo(f"{key}: {value}")
