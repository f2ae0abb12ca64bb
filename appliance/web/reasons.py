"""Reasons (codes with parameters, ``appliance.domain.reasons``) in the officer's language.

The English template of a code is the catalogue's msgid, so one French entry per template
translates it wherever it comes from; parameters that are terms are translated too, the rest
(names, dates, numbers, a list's own words) are shown as they are. A record stored before
the codes existed has only its English text, which is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from appliance.domain.reasons import REASONS, TERMS, Reason
from appliance.web.i18n import N_

Translate = Callable[..., str]

# The lists the kiosk ships with are named by their kind; a list HQ names otherwise keeps its name.
LIST_TEXT = {"persons": N_("persons"), "documents": N_("documents")}


def render(_: Translate, item: Reason | dict[str, Any]) -> str:
    """One reason in the officer's language; an unknown code (from a newer kiosk) shows its English text."""
    data = item.to_dict() if isinstance(item, Reason) else item
    template = REASONS.get(data.get("code", ""))
    if template is None:
        return str(data.get("text", ""))
    params = dict(data.get("params") or {})
    for name in template.terms:
        if params.get(name) in TERMS:
            params[name] = _(params[name])
    # Formatted here, not by ``_``: a parameter may be called ``text``, like ``_``'s own argument.
    return _(template.text).format(**params)


def render_all(_: Translate, items: Iterable[Reason | dict[str, Any]], separator: str = "; ") -> str:
    return separator.join(render(_, item) for item in items)


def list_name(_: Translate, name: str) -> str:
    """A watchlist's name as the officer reads it."""
    return _(LIST_TEXT[name]) if name in LIST_TEXT else name
