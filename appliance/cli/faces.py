"""``kiosk faces``: write the reference face models, embed a photo with the configured ones."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.errors import InferenceError, KioskError
from appliance.inference import face_pipeline, reference_models


@click.group("faces", cls=KioskGroup)
def command() -> None:
    """Face models: reference models for tests and benches, embeddings of photos."""


@command.command("models")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite model files that already exist.")
def models(directory: Path, force: bool) -> None:
    """Write the reference embedder and detector (.tflite) into DIRECTORY.

    They run on the real LiteRT interpreter but are NOT a face recogniser or detector:
    a crude image embedding and a toy detector, for tests and benches (docs/faces.md).
    """
    written = reference_models.write(directory, force=force)
    for role, path in written.items():
        click.echo(f"wrote {role}: {path}")
    click.echo("to use them, in the config's [screening] section:")
    click.echo(f'  face_embedder_model = "{written["embedder"].resolve()}"')
    click.echo(f'  face_detector_model = "{written["detector"].resolve()}"')
    click.echo("they are not a face recogniser: a deployment configures a trained face model")


@command.command("embed")
@click.argument("photo", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: dim, embedding, face_box (null for the centre crop), model SHA-256s.")
def embed(photo: Path, as_json: bool) -> None:
    """Print the embedding of a JPEG/PNG PHOTO with the configured face models; exit 1 on a bad photo or no face."""
    config = load_config()
    try:
        data = photo.read_bytes()
    except OSError as exc:
        raise KioskError(f"cannot read photo {photo}: {exc.strerror or exc}") from None
    embedder = face_pipeline.for_settings(config.screening)
    if embedder is None:
        raise InferenceError("no face model is installed: set screening.face_pack (`kiosk models build DIR` builds "
                             "one) or screening.face_embedder_model")
    result = embedder.embed(data)
    box = result.rounded_box()
    if as_json:
        print_json({"dim": int(result.vector.shape[0]), "embedding": [float(v) for v in result.vector],
                    "face_box": box, "model": embedder.model_ids})
        return
    where = (f"face box {box} (score {result.score:.2f})" if box is not None else "centre crop (no detector)")
    click.echo(f"{result.vector.shape[0]}-d embedding of {photo}: {where}")
    click.echo(f"embedder sha256 {embedder.embedder_sha256}")
    if embedder.detector_sha256:
        click.echo(f"detector sha256 {embedder.detector_sha256}")
    click.echo(" ".join(f"{v:.4f}" for v in result.vector))
