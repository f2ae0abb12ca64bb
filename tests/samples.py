"""Sample MRZs and lists shipped with the package, named for what each one exercises."""

from __future__ import annotations

from importlib import resources

from appliance.watchlist import import_csv

_DEMO = resources.files("appliance").joinpath("demo_data")
SPECIMENS = _DEMO.joinpath("specimens.mrz").read_text(encoding="utf-8").strip().split("\n\n")

EXPIRED_ERIKSSON = SPECIMENS[0]  # ICAO specimen, expired 2012
CLEAR_OKAFOR = SPECIMENS[1]
PERSON_HIT_DOE = SPECIMENS[2]  # on the demo persons list (P-0001)
STOLEN_DOC_MARTIN = SPECIMENS[3]  # TD1, document on the demo documents list


def import_demo_lists(store) -> None:
    for kind in ("persons", "documents"):
        with resources.as_file(_DEMO.joinpath(f"{kind}.csv")) as path:
            import_csv(store, kind, path, actor="test")


def with_bad_check_digit(mrz: str) -> str:
    """The same MRZ with the document number's check digit changed (TD3: line 2, column 10)."""
    lines = mrz.split("\n")
    digit = lines[1][9]
    lines[1] = lines[1][:9] + str((int(digit) + 1) % 10) + lines[1][10:]
    return "\n".join(lines)
