"""ICAO document fields as lists, screening and typed documents check them: codes, numbers, sex, aliases."""

from __future__ import annotations

import re

SEXES = ("M", "F", "X")

# fullmatch with explicit ASCII classes: "$" would take a final newline.
_STATE_CODE = re.compile(r"[A-Z]{1,3}")
_DOCUMENT_TYPE = re.compile(r"[A-Z]{1,2}")
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]+")
_DOCUMENT_NUMBER_NOISE = re.compile(r"[<\s/-]+")


def normalise_document_number(text: str | None) -> str:
    """Upper case, without the '<', space, '-' and '/' that MRZs and forms put in; never raises."""
    return _DOCUMENT_NUMBER_NOISE.sub("", (text or "").upper())


def is_state_code(text: str) -> bool:
    """True for an ICAO state/organisation code: 1 to 3 letters A-Z ("D", "UTO", "XXA")."""
    return bool(_STATE_CODE.fullmatch(text))


def is_document_type(text: str) -> bool:
    """True for an ICAO document code: 1 or 2 letters A-Z ("P", "I", "ID")."""
    return bool(_DOCUMENT_TYPE.fullmatch(text))


def is_document_number(text: str) -> bool:
    """True for a normalised document number: letters A-Z and digits only."""
    return bool(_DOCUMENT_NUMBER.fullmatch(text))


def parse_aliases(text: str) -> list[tuple[str, str]]:
    """[(surname, given names)] of an aliases field (``SURNAME, Given Names`` separated by ``|``).

    Raises ValueError naming the bad alias.
    """
    if not text:
        return []
    aliases = []
    for position, alias in enumerate(text.split("|"), start=1):
        surname, comma, given = alias.partition(",")
        if not alias.strip():
            raise ValueError(f"alias {position} is empty (aliases are separated by '|')")
        if not comma or "," in given:
            raise ValueError(f"alias {position} {alias.strip()!r} is not written 'SURNAME, Given Names'")
        if not surname.strip():
            raise ValueError(f"alias {position} {alias.strip()!r} has no surname before the comma")
        aliases.append((surname.strip(), given.strip()))
    return aliases
