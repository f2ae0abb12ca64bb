"""``kiosk screen``: screen one traveller against the lists in force, without recording anything."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from appliance.cli.common import KioskCommand, load_config, print_json
from appliance.domain.dates import parse_partial_date
from appliance.domain.fields import SEXES, is_document_number, is_state_code, normalise_document_number
from appliance.domain.models import Traveller
from appliance.errors import WorkflowError
from appliance.storage.store import Store
from appliance.workflow.screening import screen


def _birth_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_partial_date(value.strip())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value.strip()


def _state_code(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not is_state_code(code):
        raise click.BadParameter(f"{value!r} is not an ICAO code of 1-3 letters (such as UTO or D)")
    return code


def _sex(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    sex = value.strip().upper()
    if sex not in SEXES:
        raise click.BadParameter(f"{value!r} is not M, F or X")
    return sex


def _document(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    issuer, colon, number = value.partition(":")
    issuer, number = issuer.strip().upper(), normalise_document_number(number)
    if not colon or not is_state_code(issuer) or not is_document_number(number):
        raise click.BadParameter(f"{value!r} is not ISSUER:NUMBER (e.g. UTO:L898902C3; issuer 1-3 letters, "
                                 "number letters and digits)")
    return issuer, number


@click.command("screen", cls=KioskCommand)
@click.option("--surname", help="Surname, as written or as in the MRZ.")
@click.option("--given-names", help="Given names.")
@click.option("--birth-date", callback=_birth_date, help="Birth date: YYYY-MM-DD, YYYY-MM or YYYY.")
@click.option("--nationality", callback=_state_code, help="ICAO nationality code (e.g. UTO).")
@click.option("--sex", callback=_sex, metavar="M|F|X", help="Sex as in the MRZ: M, F or X.")
@click.option("--document", callback=_document, metavar="ISSUER:NUMBER", help="Travel document, e.g. UTO:L898902C3.")
@click.option("--face", "face_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Face embedding to screen: a .npy vector, or a text file of numbers.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Report hits scoring at least this (0-1); default: screening.threshold from the config.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: hits best first, and the list versions.")
def command(surname: str | None, given_names: str | None, birth_date: str | None, nationality: str | None,
            sex: str | None, document: tuple[str, str] | None, face_file: Path | None, threshold: float | None,
            as_json: bool) -> None:
    """Screen one traveller (by name, document and/or face) against the lists in force; exits 0 with or without hits."""
    # Only a name, a document or a face can match a list entry; screening by birth date or
    # nationality alone would report "no hit" without having looked at anything.
    if not (surname and surname.strip()) and document is None and face_file is None:
        raise click.UsageError("nothing to screen by: give --surname (with any other details), --document "
                               "and/or --face")
    issuer, number = document or (None, None)
    traveller = Traveller(surname=surname, given_names=given_names, birth_date=birth_date, nationality=nationality,
                          sex=sex, document_issuer=issuer, document_number=number)
    embedding = _read_face(face_file) if face_file else None
    config = load_config()
    with Store(config.db_path) as store:
        result = screen(store, traveller, threshold=threshold, face_embedding=embedding, settings=config.screening)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    hits = [{"list": h.list, "entry_id": h.entry_id, "score": h.score, "explanation": h.explanation}
            for h in result.hits]
    if as_json:
        print_json({"hits": hits, "lists": result.lists})
        return
    versions = ", ".join(f"{name} {version}" for name, version in result.lists.items()) or "none"
    if not hits:
        click.echo(f"no hit (lists consulted: {versions})")
    for hit in hits:
        click.echo(f"HIT {hit['list']}/{hit['entry_id']} score {hit['score']:.2f}: {hit['explanation']}")
    if hits:
        click.echo(f"lists consulted: {versions}")


def _read_face(path: Path) -> np.ndarray:
    """An embedding from a .npy file or a text file of numbers; WorkflowError if it is neither."""
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        return np.array(path.read_text(encoding="utf-8").replace(",", " ").split(), dtype=np.float32)
    except OSError as exc:
        raise WorkflowError(f"cannot read face embedding {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise WorkflowError(f"face embedding {path} is not a vector of numbers: {exc}") from None
