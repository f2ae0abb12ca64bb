"""``kiosk-hq lists``: create the list signing key and publish signed full/delta list bundles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from appliance.cli.common import ReportingCommand
from appliance.lists import bundle as bundle_format
from hq import lists
from hq.cli.common import load, open_db


@click.group("lists")
def command() -> None:
    """Publish signed watchlist bundles (full or delta) for the kiosks."""


@command.command("keygen", cls=ReportingCommand)
@click.option("--private-key", "private_key", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the private signing key (PEM, mode 0600); keep it off the network.")
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the public key the kiosks trust (screening.trusted_key).")
def keygen(private_key: Path, public_key: Path) -> None:
    """Create the Ed25519 key pair that signs list bundles; never overwrites a key."""
    key_id = lists.keygen(private_key, public_key)
    click.echo(f"list signing key {key_id}: private {private_key}, public {public_key}")


@command.command("publish", cls=ReportingCommand)
@click.argument("export", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["persons", "documents"]), required=True, help="What the export lists.")
@click.option("--list", "list_name", required=True, help="List name on the kiosks (e.g. national, sltd).")
@click.option("--version", "version", required=True, help="Version of the new list (e.g. 2026.11.23).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), envvar=lists.ENV_KEY_FILE,
              help=f"Private signing key file (or ${lists.ENV_KEY_FILE}); there is no default.")
@click.option("--base", "base_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The previous export the kiosks hold: publish a delta from it (needs --base-version).")
@click.option("--base-version", help="Version of the --base export, which a delta applies to.")
@click.option("--face-model", "face_model_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The embedder .tflite that computed the export's faces (persons only): its SHA-256 goes into "
              "the signed header, and kiosks running another model skip these faces with a warning.")
@click.option("--photos", "photos", type=click.Path(file_okay=False, path_type=Path),
              help="Listed persons' photos named by entry id (P-001.jpg): embedded with --face-pack, the kiosks' "
              "pipeline, into the records' faces; a photo failing a quality gate is refused with its reason.")
@click.option("--face-pack", "face_pack", type=click.Path(file_okay=False, path_type=Path),
              help="The face model pack the kiosks run (`kiosk models build DIR`); needed with --photos.")
@click.option("--face-embedder", "face_embedder", help="Which of the pack's embedders (default: the manifest's).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Bundle file to write (copy it to a USB stick, or push it over MQTT).")
@click.option("--json", "as_json", is_flag=True, help="Print the bundle summary as JSON.")
def publish(export: Path, kind: str, list_name: str, version: str, key_path: str | None, base_path: Path | None,
            base_version: str | None, face_model_path: Path | None, photos: Path | None, face_pack: Path | None,
            face_embedder: str | None, output: Path, as_json: bool) -> None:
    """Sign EXPORT (CSV or NDJSON) as a full bundle, or as a delta from --base."""
    if (base_path is None) != (base_version is None):
        raise click.UsageError("a delta needs both --base FILE and --base-version V")
    if face_model_path is not None and kind == "documents":
        raise click.UsageError("--face-model is for persons lists: documents carry no faces")
    if photos is not None and kind == "documents":
        raise click.UsageError("--photos is for persons lists: documents carry no faces")
    if (photos is None) != (face_pack is None):
        raise click.UsageError("--photos and --face-pack go together: the photos are embedded with the pack")
    if photos is not None and face_model_path is not None:
        raise click.UsageError("--face-model is implied by --face-pack: give one or the other")
    face_model = lists.face_model_id(face_model_path) if face_model_path is not None else None
    key = lists.load_private_key(key_path)
    records = lists.read_export(kind, export)
    base_records = lists.read_export(kind, base_path) if base_path is not None else None
    if photos is not None and face_pack is not None:
        from hq import faces

        records, face_model = faces.enrol(records, photos, face_pack, face_embedder)
        if base_records is not None:
            # The base as the kiosks hold it: its persons' faces from the same photos and model.
            base_records, _ = faces.enrol(base_records, photos, face_pack, face_embedder)
    if base_records is not None:
        records = lists.diff(kind, base_records, records)
    data = lists.publish(kind, list_name, version, records, key, base_version=base_version, face_model=face_model)
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    summary = {"list": list_name, "kind": kind, "type": "delta" if base_version else "full", "version": version,
               "base_version": base_version, "records": len(records), "bytes": len(data), "output": str(output)}
    if face_model is not None:
        summary["face_model"] = face_model
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    base = f" from {base_version}" if base_version else ""
    model = f", faces of model {bundle_format.short_model(face_model)}" if face_model else ""
    click.echo(f"{summary['type']} bundle {list_name} {version}{base}: {len(records)} record(s){model}, "
               f"{len(data)} bytes -> {output}")


@command.command("push", cls=ReportingCommand)
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="HQ config file (default: $KIOSK_HQ_CONFIG or /etc/kiosk-hq/hq.toml): broker and HQ key.")
@click.option("--kiosk", "kiosks", multiple=True, metavar="POST/KIOSK",
              help="Only this kiosk (repeatable); default: every enrolled kiosk.")
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
def push(bundle: Path, config_path: str | None, kiosks: tuple[str, ...], as_json: bool) -> None:
    """Send a published bundle to the kiosks over MQTT (retained: offline kiosks get it on reconnect)."""
    from hq.list_push import push as push_bundle

    targets = None
    if kiosks:
        targets = []
        for item in kiosks:
            post_id, _, kiosk_id = item.partition("/")
            if not post_id or not kiosk_id:
                raise click.BadParameter(f"{item!r} is not POST/KIOSK", param_hint="--kiosk")
            targets.append((post_id, kiosk_id))
    config = load(config_path)
    with open_db(config) as db:
        sent = push_bundle(config, db, bundle.read_bytes(), targets)
    if as_json:
        click.echo(json.dumps(sent, indent=2))
    else:
        click.echo(f"pushed {sent['list']} {sent['version']} ({sent['bytes']} bytes, {sent['chunks']} chunk(s)) "
                   f"to {len(sent['kiosks'])} kiosk(s)")
