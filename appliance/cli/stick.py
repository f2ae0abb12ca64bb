"""``kiosk export`` and ``kiosk import-receipt``: crossings to HQ and HQ's receipt back, by USB stick."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import KioskCommand, load_config, print_json
from appliance.storage.store import Store
from appliance.workflow import stick


@click.command("export", cls=KioskCommand)
@click.option("--to", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the export file into (the mounted stick, /media/kiosk-usb on the image).")
@click.option("--photos", is_flag=True, help="Include the photos and fingerprint templates HQ does not have yet.")
@click.option("--max-photo-mib", default=stick.DEFAULT_PHOTO_BYTES // (1024 * 1024), show_default=True,
              type=click.IntRange(1, 700), help="Most MiB of photos in one export; the rest wait for the next one.")
@click.option("--actor", default="cli", show_default=True, help="Who exports, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export_command(directory: Path, photos: bool, max_photo_mib: int, actor: str, as_json: bool) -> None:
    """Write every crossing HQ has not receipted as one signed, encrypted file for `kiosk-hq import`.

    Nothing leaves the outbox until HQ's receipt file is applied with `kiosk import-receipt`.
    """
    config = load_config()
    with Store(config.db_path) as store:
        result = stick.export(store, config, directory, photos=photos, max_photo_bytes=max_photo_mib * 1024 * 1024,
                              actor=actor)
    if as_json:
        print_json(result)
        return
    click.echo(f"wrote {result['file']}: export #{result['export_seq']}, {result['crossings']} crossing(s), "
               f"{result['items']} item(s), {result['captures']} capture(s), {result['bytes']} bytes")
    if result["captures_left"]:
        click.echo(f"{result['captures_left']} capture(s) did not fit in --max-photo-mib and wait for the next export")


@click.command("import-receipt", cls=KioskCommand)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-lists", is_flag=True, help="Do not apply the list bundles in the lists/ folder beside FILE.")
@click.option("--actor", default="cli", show_default=True, help="Who applies, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def receipt_command(file: Path, no_lists: bool, actor: str, as_json: bool) -> None:
    """Apply HQ's receipt FILE (from `kiosk-hq import`) like an MQTT receipt, then the list bundles beside it.

    Exit 1 if the receipt is refused (nothing changes) or a list bundle was refused.
    """
    config = load_config()
    with Store(config.db_path) as store:
        result = stick.apply_receipt(store, config, file, actor=actor, lists=not no_lists)
    if as_json:
        print_json(result)
    else:
        click.echo(f"receipt of export #{result['export_seq']} applied: {result['released']} of {result['named']} "
                   "item(s) released from the outbox")
        for item in result["lists"]:
            click.echo(f"{item['file']}: {item.get('error') or item['message']}")
    if any("error" in item for item in result["lists"]):
        raise SystemExit(1)
