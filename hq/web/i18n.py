"""The console's translation catalogue: English source strings, French from ``locale/fr/LC_MESSAGES/messages.po``.

The same scheme as the kiosk's touchscreen (read with Babel from the .po itself, no
compiled .mo that could go stale), with the console's own catalogue: HQ's words are not
the officer's.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Callable

from babel.messages.pofile import read_po

LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT = "en"


def N_(text: str) -> str:
    """Marks ``text`` for the catalogue; it is translated where it is shown."""
    return text


@functools.cache
def _table(lang: str) -> dict[str, str]:
    if lang == DEFAULT:
        return {}
    with resources.files("hq.web").joinpath(f"locale/{lang}/LC_MESSAGES/messages.po").open("rb") as handle:
        return {m.id: m.string for m in read_po(handle, locale=lang)
                if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string and not m.fuzzy}


def translator(lang: str) -> Callable[..., str]:
    """``_(text, **values)`` in ``lang`` (English for an unknown language or an untranslated text)."""
    table = _table(lang if lang in LANGUAGES else DEFAULT)

    def gettext(text: str, **values: object) -> str:
        found = table.get(text, text)
        return found.format(**values) if values else found

    return gettext


def choose(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT
