"""Name normalisation shared by list import and screening, so both sides build the same keys."""

from __future__ import annotations

import re
import unicodedata

# Latin letters that NFKD does not decompose into a base letter plus accents; without this
# table they would turn into spaces ("BJØRN" -> "BJ RN"). Values follow the ICAO 9303
# part 3 transliteration of these letters, which is what a passport's MRZ carries.
_UNDECOMPOSED = str.maketrans({
    "ß": "SS", "ẞ": "SS",
    "Æ": "AE", "æ": "AE",
    "Œ": "OE", "œ": "OE",
    "Ø": "OE", "ø": "OE",
    "Þ": "TH", "þ": "TH",
    "Ð": "D", "ð": "D", "Đ": "D", "đ": "D",
    "Ł": "L", "ł": "L",
    "Ħ": "H", "ħ": "H",
    "Ŧ": "T", "ŧ": "T",
    "Ŋ": "N", "ŋ": "N",
    "ı": "I",
    "ĸ": "K",
})

# ICAO 9303 omits apostrophes in the MRZ (D'ARTAGNAN -> DARTAGNAN) rather than turning
# them into a separator as it does hyphens; a space here would make O'Brien never match
# the OBRIEN read from the passport.
_APOSTROPHES = re.compile("['\u2019\u02bc\u2018`\u00b4]")
_NOT_A_TO_Z = re.compile(r"[^A-Z]+")

KEY_SEPARATOR = "|"


def normalise(text: str | None) -> str:
    """A name in the form both lists and MRZs reduce to: A-Z words separated by one space.

    Unicode NFKD with accents dropped, ICAO letters transliterated, apostrophes removed,
    upper case, every other non A-Z character (hyphen, '<' filler, digits, other scripts)
    a separator. "Anna-María" and the MRZ's "ANNA<MARIA" both give "ANNA MARIA". A name
    written only in a non-Latin script gives "" (matching it needs transliteration, which
    is the fuzzy engine's job). Never raises.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    latin = _APOSTROPHES.sub("", stripped.translate(_UNDECOMPOSED)).upper()
    return _NOT_A_TO_Z.sub(" ", latin).strip()


def fold(text: str | None) -> str:
    """``normalise`` for any script: what ``normalise`` leaves of Latin letters, and every
    other script (Cyrillic, Greek, Arabic, Han...) transliterated to A-Z by anyascii first.

    "Иванов" gives "IVANOV", "Νικολαΐδης" gives "NIKOLAIDIS"; Latin text gives exactly what
    ``normalise`` gives, so ICAO's own transliterations (Ø -> OE, ß -> SS) still win. The
    fuzzy name index compares names in this form. Never raises.
    """
    if not text:
        return ""
    from anyascii import anyascii  # imported here: only the name index needs it

    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return normalise(anyascii(stripped))


def name_key(surname: str | None, given_names: str | None) -> str:
    """The lookup key of a name: "SURNAME|GIVEN NAMES", both parts normalised; never raises.

    Returns "" when the surname normalises to nothing: such a name cannot be looked up.
    """
    surname_part = normalise(surname)
    if not surname_part:
        return ""
    return f"{surname_part}{KEY_SEPARATOR}{normalise(given_names)}"


def split_key(key: str) -> tuple[str, str]:
    """(surname, given names) of a key made by ``name_key``."""
    surname, _, given = key.partition(KEY_SEPARATOR)
    return surname, given


def display_key(key: str) -> str:
    """A key as an officer reads it: "DOE, JOHN" (or "DOE" without given names)."""
    surname, given = split_key(key)
    return f"{surname}, {given}" if given else surname
