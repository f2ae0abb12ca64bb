"""What every page shares: the templates, the officer's language, the text tables, the status bar, the indicators."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, NamedTuple
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from appliance.domain import clock
from appliance.errors import AuthError, Forbidden, LockedOut, WrongPin
from appliance.storage.officers import Officer, Officers, Session, require_role
from appliance.web import csrf, reasons
from appliance.web.deps import LANGUAGE_COOKIE, get_config, get_devices, get_power_policy, get_store
from appliance.web.i18n import JS_MESSAGES, LANGUAGES, N_, choose, translator
from appliance.workflow import status

log = logging.getLogger(__name__)

Translate = Callable[..., str]

DIRECTION_TEXT = {"entry": N_("Entry"), "exit": N_("Exit")}
DECISION_TEXT = {"cleared": N_("Cleared"), "referred": N_("Refer to supervisor"), "refused": N_("Refused")}
CHECK_TEXT = {
    "document_number": N_("Document number"),
    "birth_date": N_("Date of birth"),
    "expiry_date": N_("Expiry date"),
    "optional_data": N_("Personal number"),
    "composite": N_("Composite check"),
}
ROLE_TEXT = {"officer": N_("officer"), "supervisor": N_("supervisor"), "technician": N_("technician")}
# Whole phrases, so a language can make the word agree ("Décision : refusée").
OUTCOME_TEXT = {"cleared": N_("Outcome: Cleared"), "refused": N_("Outcome: Refused")}
# The purposes of travel with a label; a post's own codes ([crossings] purposes) show as written.
PURPOSE_TEXT = {
    "tourism": N_("Tourism"), "business": N_("Business"), "work": N_("Work"), "study": N_("Study"),
    "transit": N_("Transit"), "family": N_("Family visit"), "resident_return": N_("Resident returning"),
    "other": N_("Other"), "unknown": N_("Not asked"),
}
CONTRAST_COOKIE = "kiosk_contrast"
POWER_LEVEL_TEXT = {
    "normal": N_("normal"), "warn": N_("low battery"), "defer": N_("saving power"), "critical": N_("battery critical"),
}

TEMPLATES = Environment(
    loader=PackageLoader("appliance.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    """The officer's language, chosen on the login page and kept in a cookie."""
    return choose(request.cookies.get(LANGUAGE_COOKIE))


def translate(request: Request) -> Translate:
    """``_(text, **values)`` in the officer's language."""
    return translator(language(request))


def local_time(zone: ZoneInfo, iso_text: str | None, with_date: bool = False) -> str:
    """A stored UTC time as the post's clock shows it ("14:05", or "2026-03-01 14:05"); empty for none."""
    if not iso_text:
        return ""
    moment = clock.parse_iso(iso_text).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def age_text(seconds: int | float, _: Translate) -> str:
    """An age as an officer reads it, in their language: "45 s", "12 min", "3 h 05 min", "2 d 04 h"."""
    seconds = max(int(seconds), 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return _("{n} s", n=seconds)
    if hours < 1:
        return _("{n} min", n=minutes)
    if days < 1:
        return _("{h} h {m:02d} min", h=hours, m=minutes % 60)
    return _("{d} d {h:02d} h", d=days, h=hours % 24)


def purpose_text(code: str | None, _: Translate) -> str:
    """A purpose of travel in the officer's language (a post's own code as written)."""
    code = code or "unknown"
    return _(PURPOSE_TEXT[code]) if code in PURPOSE_TEXT else code.replace("_", " ").capitalize()


def high_contrast(request: Request) -> bool:
    """The high-contrast theme: set for the kiosk in [ui], or switched on at this screen (a cookie)."""
    return get_config(request).ui.high_contrast or request.cookies.get(CONTRAST_COOKIE) == "high"


def post_time(request: Request) -> Callable[..., str]:
    """``local_time`` in the post's own time zone, as the templates call it."""
    return functools.partial(local_time, ZoneInfo(get_config(request).kiosk.timezone))


def power_status(request: Request) -> dict[str, Any] | None:
    """The battery for the status bar: the policy's view when it runs, else the gauge's; None when unknown."""
    policy = get_power_policy(request)
    devices = get_devices(request)
    try:
        if policy is not None:
            snap = policy.snapshot()
            return {"percent": snap.get("percent"), "charging": snap.get("charging"),
                    "level": snap.get("level", "normal"), "message": snap.get("message", "")}
        if devices is not None and getattr(devices, "power", None) is not None:
            reading = devices.power.read()
            return {"percent": reading.battery_percent, "charging": reading.charging,
                    "level": "normal", "message": ""}
    except Exception as exc:  # the status bar must render even when the gauge fails
        log.warning("power status unavailable: %s", exc)
    return None


def _uplink_status(request: Request) -> dict[str, Any] | None:
    try:
        snap = status.uplink(get_store(request))
    except Exception as exc:  # an uplink fault must not take the officer's screen down
        log.warning("uplink status unavailable: %s", exc)
        return None
    # Offline is the normal case at a remote post: the pill turns red only once the oldest
    # crossing waiting for HQ is older than [ui] uplink_alarm_minutes.
    oldest = snap.get("oldest_pending_at")
    age = (clock.utcnow() - clock.parse_iso(oldest)).total_seconds() if oldest else 0
    pending = int(snap.get("pending") or 0)
    return {"connected": bool(snap.get("connected")), "pending": pending,
            "configured": bool(get_config(request).uplink.broker_url),
            "oldest_age": age_text(age, translate(request)) if pending and oldest else "",
            "old": bool(pending and age > get_config(request).ui.uplink_alarm_minutes * 60)}


def _lists_status(request: Request) -> dict[str, Any]:
    items = status.lists(get_store(request))
    if not items:
        return {"count": 0, "age": "", "stale": False}
    oldest = max(items, key=lambda item: item["age_seconds"])
    return {"count": len(items), "age": age_text(oldest["age_seconds"], translate(request)),
            "stale": any(item.get("stale") for item in items)}


def _storage_status(request: Request) -> dict[str, Any] | None:
    """The data partition's fill for the status bar; None while under the warning (nothing to say)."""
    fill = status.storage(get_store(request), get_config(request))
    if fill.get("level") in (None, "ok", "unknown"):
        return None
    return {"level": fill["level"], "percent": int(fill["percent"])}


def _clock_status(request: Request) -> dict[str, Any] | None:
    """No trusted time since boot, for the status bar; None while a source vouches for the clock."""
    try:
        snap = status.time_status(get_store(request), get_config(request))
    except Exception as exc:  # a time source fault must not take the officer's screen down
        log.warning("clock status unavailable: %s", exc)
        return None
    return None if snap["trusted"] else {"source": snap["source"]}


def status_snapshot(request: Request) -> dict[str, Any]:
    """The status bar: power, uplink, list ages, training; each part None when its source is missing."""
    config = get_config(request)
    return {
        "training": config.kiosk.training,
        "post": f"{config.kiosk.post_id}/{config.kiosk.kiosk_id}",
        "time": clock.utcnow().astimezone(ZoneInfo(config.kiosk.timezone)).strftime("%H:%M"),
        "power": power_status(request),
        "uplink": _uplink_status(request),
        "lists": _lists_status(request),
        "storage": _storage_status(request),
        "clock": _clock_status(request),
    }


def render(request: Request, name: str, officer: Officer | None = None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """Template ``name`` in the officer's language, with the status bar and the text tables every page uses."""
    lang = language(request)
    _ = translator(lang)
    csrf_token, presession = csrf.page_token(request)
    page = TEMPLATES.get_template(name).render(
        _=_, lang=lang, languages=LANGUAGES, officer=officer, status=status_snapshot(request),
        js_messages={key: _(text) for key, text in JS_MESSAGES.items()},
        idle_seconds=get_config(request).security.session_idle_minutes * 60,
        DIRECTION_TEXT=DIRECTION_TEXT, DECISION_TEXT=DECISION_TEXT, CHECK_TEXT=CHECK_TEXT,
        POWER_LEVEL_TEXT=POWER_LEVEL_TEXT, ROLE_TEXT=ROLE_TEXT, local_time=post_time(request),
        OUTCOME_TEXT=OUTCOME_TEXT, purpose_text=lambda code: purpose_text(code, _),
        high_contrast=high_contrast(request),
        CHECK_TEXT_T={key: _(text) for key, text in CHECK_TEXT.items()}, csrf_token=csrf_token,
        reason_text=functools.partial(reasons.render_all, _), list_name=functools.partial(reasons.list_name, _),
        **context,
    )
    response = HTMLResponse(page, status_code=status_code)
    csrf.set_presession_cookie(response, presession)
    return response


def message(request: Request, officer: Officer, status_code: int, title: str, text: str) -> HTMLResponse:
    """A page that only says why the officer cannot go on (not found, not allowed); title and text translated here."""
    _ = translate(request)
    return render(request, "message.html", officer, status_code=status_code, title=_(title), text=_(text))


def personal_data_refused(request: Request, officer: Officer) -> HTMLResponse | None:
    """The "Not allowed" screen (403) for a role that may not see travellers' personal data, else None.

    Technicians maintain the kiosk and never see who crossed; the rule is ``require_role``'s,
    the one the API's crossing routes apply, so a screen and its API cannot disagree.
    """
    try:
        require_role(officer, "officer", "supervisor")
    except Forbidden:
        return message(request, officer, 403, N_("Not allowed"), N_("Your role cannot see travellers' personal data."))
    return None


def indicate(devices: Any, state: str) -> None:
    """Show ``state`` ("alert" for a hit, else an indicator state) on the LEDs and buzzer, if the kiosk has them.

    The page also beeps itself, so a kiosk without indicators still alerts the officer;
    an indicator fault is logged, never shown as a page error.
    """
    indicators = getattr(devices, "indicators", None)
    if indicators is None:
        return
    try:
        if state == "alert":
            indicators.watchlist_hit()
        else:
            indicators.set_state(state)
    except Exception as exc:
        log.error("could not set the indicators to %s: %s", state, exc)


class Refusal(NamedTuple):
    """Why a form is refused, in the officer's language, and the status the page answers with."""

    text: str
    status_code: int


@contextmanager
def supervisor_session(officers: Officers, supervisor_id: str, pin: str, _: Translate) -> Iterator[Session | Refusal]:
    """A supervisor's own ID and PIN typed on a form (an unlock, a referral's outcome): their session, or a Refusal.

    A login, not a bare PIN check, so the supervisor's wrong PINs count towards their own
    lockout: locked out is 423, a wrong PIN 401 with the tries left, an unknown ID 401. The
    session lives only for the ``with`` block and is logged out after it. The caller checks
    the role: what a non-supervisor is told depends on what the form does.
    """
    try:
        session = officers.login(supervisor_id, pin)
    except LockedOut:
        yield Refusal(_("This supervisor is locked out after too many wrong PINs."), 423)
        return
    except WrongPin as exc:
        yield Refusal(_("Unknown supervisor ID or wrong PIN. Tries left: {count}.", count=exc.tries_left), 401)
        return
    except AuthError:
        yield Refusal(_("Unknown supervisor ID or wrong PIN."), 401)
        return
    try:
        yield session
    finally:
        officers.logout(session.token)
