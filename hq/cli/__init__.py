"""``kiosk-hq``: the HQ end's command line.

Every command takes ``--config F`` (default ``$KIOSK_HQ_CONFIG``, then
``/etc/kiosk-hq/hq.toml``). An expected failure prints ``error: ...`` and exits 1.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from hq import __version__
from hq.cli.common import HQGroup, load, open_db, per_kiosk, print_json
from hq.cli.lists import command as lists_command
from hq.cli.demo import command as demo_command
from hq.cli.web import users_group, web


@click.group(cls=HQGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk-hq")
def cli() -> None:
    """HQ end of the kiosk fleet: ingest crossings, watch the fleet, publish lists."""


@cli.command("ingest")
@click.option("--log-level", default="INFO", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              help="Logging threshold (logs go to stderr).")
def ingest(config_path: str | None, log_level: str) -> None:
    """Receive crossings, alerts, captures, status and health; store them; send receipts."""
    from hq.ingest import Ingest

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load(config_path)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with open_db(config) as db:
        Ingest(config, db).run(stop)


@cli.command("crossings")
@per_kiosk
def crossings(config_path: str | None, post_id: str | None, kiosk_id: str | None, as_json: bool) -> None:
    """Crossings HQ holds, per kiosk in the kiosk's order."""
    from hq import reanchor

    with open_db(load(config_path)) as db:
        rows = reanchor.with_times(db, db.crossings(post_id, kiosk_id), post_id, kiosk_id)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        # A time HQ re-anchored is shown instead of the kiosk's untrusted one, marked with a ~.
        at = f"~{row['reanchored_at']}" if row.get("reanchored_at") else f" {row['recorded_at']}"
        click.echo(f"{row['post_id']}/{row['kiosk_id']} #{row['seq']:<6}{at} "
                   f"{row['direction']:<5} {row['decision']:<9} {row.get('surname', '')}")
    click.echo(f"{len(rows)} crossing(s)", err=True)


@cli.command("reanchor")
@per_kiosk
def reanchor_command(config_path: str | None, post_id: str | None, kiosk_id: str | None, as_json: bool) -> None:
    """Recompute the true times of crossings recorded under an untrusted clock, per kiosk."""
    from hq import reanchor

    with open_db(load(config_path)) as db:
        rows = reanchor.rebuild(db, post_id, kiosk_id)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['post_id']}/{row['kiosk_id']}: {row['crossings']} crossing(s), {row['untrusted']} under "
                   f"an untrusted clock, {row['reanchored']} re-anchored, {row['as_sent']} left as sent")


@cli.command("fleet")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def fleet(config_path: str | None, as_json: bool) -> None:
    """Each enrolled kiosk: online/offline, last seen, battery, outbox depth, list age."""
    from hq.fleet import fleet_rows, render_table

    config = load(config_path)
    with open_db(config) as db:
        rows = fleet_rows(db, config.hq.offline_after_s)
    if as_json:
        print_json(rows)
    else:
        click.echo(render_table(rows))


@cli.command("keygen")
@click.option("--stick", is_flag=True,
              help="Create HQ's X25519 stick key (hq.stick_key_file) that USB-stick exports are encrypted for.")
def keygen(config_path: str | None, stick: bool) -> None:
    """Create HQ's Ed25519 signing key (hq.signing_key_file); prints the public key for kiosk configs."""
    from appliance.errors import ConfigError
    from appliance.uplink import protocol
    from appliance.uplink import stick as stick_format

    config = load(config_path)
    if stick:
        if config.hq.stick_key_file is None:
            raise ConfigError("set hq.stick_key_file (where the key goes) in the HQ config first")
        public = stick_format.generate_key_file(config.hq.stick_key_file)
        click.echo(f"wrote {config.hq.stick_key_file}; set uplink.hq_stick_key on every kiosk to:", err=True)
    else:
        public = protocol.generate_key_file(config.hq.signing_key_file)
        click.echo(f"wrote {config.hq.signing_key_file}; set uplink.hq_public_key on every kiosk to:", err=True)
    click.echo(public)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--receipt-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the signed receipt file (default: beside FILE, suffix .receipt).")
@click.option("--list-bundle", "list_bundles", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A list bundle (from `kiosk-hq lists publish`) to carry back: copied into lists/ beside the "
              "receipt, in the order given. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_export(config_path: str | None, file: Path, receipt_out: Path | None, list_bundles: tuple[Path, ...],
                  as_json: bool) -> None:
    """Ingest a kiosk's USB-stick export FILE exactly once and write its signed receipt file."""
    from hq.stick_import import import_file

    config = load(config_path)
    with open_db(config) as db:
        result = import_file(config, db, file, receipt_out, list_bundles)
    if as_json:
        print_json(result)
        return
    click.echo(f"imported export #{result['export_seq']} of {result['post_id']}/{result['kiosk_id']}: "
               f"{result['crossings']} crossing(s), {result['new_crossings']} new "
               f"({result['crossings'] - result['new_crossings']} already held), {result['captures']} capture(s)")
    click.echo(f"receipt written to {result['receipt']}")
    for path in result["lists"]:
        click.echo(f"list bundle written to {path}")


@cli.command("enrol")
@click.argument("post_id")
@click.argument("kiosk_id")
@click.argument("public_key")
def enrol(config_path: str | None, post_id: str, kiosk_id: str, public_key: str) -> None:
    """Trust a kiosk's public key (from `kiosk uplink keygen`); replaces an earlier one."""
    from appliance.uplink import protocol

    protocol.load_public_key(public_key)  # refuse a malformed key before storing it
    with open_db(load(config_path)) as db:
        db.enrol(post_id, kiosk_id, public_key)
    click.echo(f"enrolled {post_id}/{kiosk_id}")


@cli.command("command")
@click.argument("post_id")
@click.argument("kiosk_id")
@click.argument("name", type=click.Choice(["health", "rebirth"]))
@click.option("--ttl", default=600, show_default=True, type=click.IntRange(10, 7 * 24 * 3600),
              help="Seconds the command stays valid (it waits at the broker while the kiosk is offline).")
def command(config_path: str | None, post_id: str, kiosk_id: str, name: str, ttl: int) -> None:
    """Ask a kiosk for its health now, or to announce itself again (signed, time-limited)."""
    from hq.ingest import send_command

    send_command(load(config_path), post_id, kiosk_id, name, ttl)
    click.echo(f"sent {name} to {post_id}/{kiosk_id}")


cli.add_command(lists_command)
cli.add_command(web)
cli.add_command(users_group)
cli.add_command(demo_command)


def main() -> None:
    cli(prog_name="kiosk-hq")

