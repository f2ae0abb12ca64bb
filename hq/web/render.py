"""What every console page shares: the templates, the user's language, the words for codes, time and age formats."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from appliance.domain import clock
from hq import users
from hq.web.deps import LANGUAGE_COOKIE
from hq.web.i18n import LANGUAGES, N_, choose, translator

Translate = Callable[..., str]

STATE_TEXT = {"online": N_("online"), "offline": N_("offline"), "silent": N_("silent"),
              "never seen": N_("never seen"), "unknown": N_("unknown")}
PROBLEM_TEXT = {"audit_alarm": N_("audit alarm"), "offline": N_("offline"), "silent": N_("silent"),
                "never_seen": N_("never seen"), "unknown": N_("no status yet"), "low_battery": N_("low battery"),
                "old_unsent": N_("crossings unsent for over a day"), "stale_list": N_("list older than a week"),
                "rejected": N_("rejected messages"), "storage_warn": N_("storage nearing its budget"),
                "storage_full": N_("storage full: photos being thinned")}
ROLE_TEXT = {"viewer": N_("viewer"), "analyst": N_("analyst"), "admin": N_("admin")}
DECISION_TEXT = {"cleared": N_("cleared"), "referred": N_("referred"), "refused": N_("refused"),
                 "unknown": N_("unknown")}
DIRECTION_TEXT = {"entry": N_("entry"), "exit": N_("exit")}
LOG_TEXT = {"online": N_("uplink up"), "offline": N_("uplink down"), "reboot": N_("reboot"),
            "lists": N_("list versions changed"), "list_refused": N_("list refused"), "power.shutdown": N_("power shutdown"),
            "command": N_("command sent"), "audit_alarm": N_("audit alarm")}
PERIOD_TEXT = {"day": N_("day"), "week": N_("week"), "month": N_("month")}
TITLE_TEXT = (N_("Not allowed"), N_("Not found"), N_("Refused"))  # the error pages' titles (app.py)
NAV = (("/", N_("Fleet"), "viewer"), ("/alerts", N_("Alerts"), "viewer"), ("/crossings", N_("Crossings"), "analyst"),
       ("/statistics", N_("Statistics"), "viewer"), ("/lists", N_("Lists"), "viewer"))

TEMPLATES = Environment(loader=PackageLoader("hq.web", "templates"), autoescape=select_autoescape(["html"]),
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def language(request: Request) -> str:
    return choose(request.cookies.get(LANGUAGE_COOKIE))


def translate(request: Request) -> Translate:
    return translator(language(request))


def when(iso_text: str | None) -> str:
    """A stored UTC time as 'YYYY-MM-DD HH:MM' (HQ watches every time zone: it shows UTC)."""
    return clock.parse_iso(iso_text).strftime("%Y-%m-%d %H:%M") if iso_text else ""


def age(seconds: float | int | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def render(request: Request, template: str, session: users.Session | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)
    page = TEMPLATES.get_template(template).render(
        _=translator(lang), lang=lang, languages=LANGUAGES, session=session, path=request.url.path,
        nav=[(href, label) for href, label, role in NAV if session is not None and session.user.can(role)],
        STATE_TEXT=STATE_TEXT, PROBLEM_TEXT=PROBLEM_TEXT, ROLE_TEXT=ROLE_TEXT, DECISION_TEXT=DECISION_TEXT,
        DIRECTION_TEXT=DIRECTION_TEXT, LOG_TEXT=LOG_TEXT, PERIOD_TEXT=PERIOD_TEXT, when=when, age=age, **context)
    return HTMLResponse(page, status_code=status_code)


def message(request: Request, session: users.Session | None, status_code: int, title: str, text: str) -> HTMLResponse:
    """A page saying why the user cannot go on; ``title`` translated here, ``text`` as given."""
    _ = translate(request)
    return render(request, "message.html", session, status_code=status_code, title=_(title), text=text)
