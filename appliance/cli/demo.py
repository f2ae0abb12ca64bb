"""``kiosk demo``: a throw-away kiosk with an officer and sample lists, running in one command."""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

import click

from appliance import config as config_module
from appliance.cli.common import KioskCommand, check_port_free
from appliance.errors import KioskError
from appliance.lists.csv_import import import_csv
from appliance.service import daemon as service
from appliance.storage.officers import InvalidPin, Officers, validate_pin
from appliance.storage.store import Store


def _random_pin(config: config_module.Config) -> str:
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(config.security.pin_min_length))
        try:
            validate_pin(pin, config.security)
            return pin
        except InvalidPin:
            continue


@click.command("demo", cls=KioskCommand)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the demo config and data (default: a new temporary directory).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--training/--no-training", default=False, help="Start in training mode.")
@click.option("--setup-only", is_flag=True, help="Create the demo kiosk but do not start the service.")
@click.option("--face-pack", "face_pack", type=click.Path(file_okay=False, path_type=Path),
              help="Screen faces with this model pack (built into it first when it holds none: downloads the pinned "
              "packages once); the camera then shows a listed person and a stranger in turn.")
def command(directory: Path | None, host: str, port: int, training: bool, setup_only: bool,
            face_pack: Path | None) -> None:
    """Create a demo kiosk (config, officer with a random PIN, sample watchlists) and run it.

    A temporary folder (no --dir) holds the demo's biometric key in plain text: it is
    removed when the demo stops, unless --setup-only asked for a kiosk to start later.
    """
    if directory is not None and (directory / "kiosk.toml").exists():
        raise KioskError(f"{directory / 'kiosk.toml'} already exists: give an empty --dir or none for a new temporary one")
    if not setup_only:
        # Before a PIN is printed: a second demo on the same port must not hand one out.
        check_port_free(host, port)
    temporary = directory is None
    directory = directory or Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    try:
        _create_and_run(directory, host, port, training, setup_only, temporary, face_pack)
    finally:
        if temporary and not setup_only:
            shutil.rmtree(directory, ignore_errors=True)
            click.echo(f"Demo stopped: removed {directory}", err=True)


def _create_and_run(directory: Path, host: str, port: int, training: bool, setup_only: bool,
                    temporary: bool, face_pack: Path | None = None) -> None:
    config_path = directory / "kiosk.toml"
    directory.mkdir(parents=True, exist_ok=True)
    raw = {
        "kiosk": {"post_id": "DEMO-POST", "kiosk_id": "K1", "data_dir": str(directory / "data"), "training": training},
        "api": {"host": host, "port": port},
        # A throw-away key: the demo's photos and fingerprints are encrypted like a real kiosk's.
        "security": {"biometric_key": secrets.token_hex(32)},
    }
    faces = None
    if face_pack is not None:
        from appliance.cli import demo_faces

        faces = demo_faces.prepare(face_pack, directory, lambda line: click.echo(line, err=True))
        raw.update(faces["sections"])
    config_path.write_text(config_module.to_toml(raw), encoding="utf-8")
    config = config_module.load(config_path)

    pin = _random_pin(config)
    samples = resources.files("appliance").joinpath("demo_data")
    with Store(config.db_path) as store:
        Officers(store, config.security).add("demo", "supervisor", pin, actor="demo")
        for kind in ("persons", "documents"):
            with resources.as_file(samples.joinpath(f"{kind}.csv")) as path:
                import_csv(store, kind, path, actor="demo")
        if faces is not None:
            demo_faces.enrol(store, config, faces)
    with resources.as_file(samples.joinpath("specimens.mrz")) as path:
        specimen = path.read_text(encoding="utf-8").strip().split("\n\n")[1]

    # Under scripts/dev the command lives in .venv/bin, which may not be on PATH.
    installed = Path(sys.executable).parent / "kiosk"
    kiosk = str(installed) if installed.exists() else "kiosk"
    click.echo(f"""
Demo kiosk created in {directory}{" (removed when the demo stops)" if temporary and not setup_only else ""}
  config:   {config_path}
  UI/API:   http://{host}:{port}/   (API docs: http://{host}:{port}/docs)
  officer:  demo (supervisor)   PIN: {pin}

Record a crossing from another terminal:
  printf '{specimen.replace(chr(10), chr(92) + 'n')}\\n' > /tmp/mrz.txt
  {kiosk} crossings record --config {config_path} --direction entry --mrz-file /tmp/mrz.txt --officer demo
  {kiosk} crossings list --config {config_path} --json
""")
    if faces is not None:
        click.echo(f"Faces are screened with the pack in {face_pack}: the camera shows a listed person "
                   f"({demo_faces.LISTED}, list demo-faces), then someone else, in turn.")
    else:
        click.echo("Faces are not screened (no model pack): `kiosk demo --face-pack DIR` builds and uses one.")
    if setup_only:
        return
    service.setup_logging("INFO")
    service.run(config)
