"""The touchscreen's pages: login, home, new crossing, result, history, statistics, diagnostics.

Pages are rendered on the server (Jinja2, one translation catalogue) over the same
workflow functions the JSON API uses; the crossing screen's script calls the JSON API
itself (reader, captures, record) so every way in applies the same checks.

The browser holds the officer's session as a cookie (HttpOnly, SameSite=Strict) that maps
to the same officer session as a bearer token. ``ui_session_token`` lets the JSON API
accept that cookie too, but only on requests that carry the ``X-Kiosk-UI`` header: a page
from another origin cannot add a custom header without a CORS preflight, which this app
never grants, so the cookie cannot be replayed by a cross-site form.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import platform
import re
from datetime import datetime, timedelta
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import StringConstraints

from appliance import __version__
from appliance.config import Config
from appliance.domain import clock, mrz
from appliance.errors import (
    AuthError,
    DeviceError,
    Forbidden,
    KioskError,
    LockedOut,
    MRZError,
    NotFound,
    WorkflowError,
)
from appliance.hw import photo_quality
from appliance.lists.csv_import import list_status
from appliance.storage.officers import Officer, require_role
from appliance.storage.store import Store
from appliance.web import charts
from appliance.web.i18n import JS_MESSAGES, LANGUAGES, N_, choose, translator
from appliance.workflow import crossings, stats

log = logging.getLogger(__name__)

SESSION_COOKIE = "kiosk_session"
LANGUAGE_COOKIE = "kiosk_lang"
UI_HEADER = "X-Kiosk-UI"
HISTORY_PAGE_SIZE = 5
STATS_RANGES = (7, 30)
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg)$")

DIRECTION_TEXT = {"entry": N_("Entry"), "exit": N_("Exit")}
DECISION_TEXT = {"cleared": N_("Cleared"), "referred": N_("Refer to supervisor"), "refused": N_("Refused")}
CHECK_TEXT = {
    "document_number": N_("Document number"),
    "birth_date": N_("Date of birth"),
    "expiry_date": N_("Expiry date"),
    "optional_data": N_("Personal number"),
    "composite": N_("Composite check"),
}
# The fields of a document typed without an MRZ: the workflow's own ManualDocument, in
# the order the screen shows them, with the label and the rule the officer is shown.
MANUAL_FIELDS = tuple(crossings.ManualDocument.model_fields)
REQUIRED_FIELDS = tuple(name for name, spec in crossings.ManualDocument.model_fields.items() if spec.is_required())
FIELD_TEXT = {
    "surname": N_("Surname"),
    "given_names": N_("Given names"),
    "nationality": N_("Nationality"),
    "sex": N_("Sex"),
    "document_number": N_("Document number"),
    "document_code": N_("Document type"),
    "issuing_state": N_("Issuing state"),
    "birth_date": N_("Date of birth"),
    "expiry_date": N_("Expiry date"),
}
FIELD_RULES = {
    "surname": N_("Required: letters A-Z and spaces, as printed on the document."),
    "given_names": N_("Letters A-Z and spaces, as printed on the document."),
    "nationality": N_("An ICAO code of 1 to 3 letters, such as UTO or D."),
    "sex": N_("M, F or X (unspecified)."),
    "document_number": N_("Required: up to 20 letters and digits, without spaces or dashes."),
    "document_code": N_("1 or 2 letters: P passport, I or ID identity card (empty: P)."),
    "issuing_state": N_("Required: an ICAO code of 1 to 3 letters, such as UTO or D."),
    "birth_date": N_("1980-05-31, or partial: 1980-05 or 1980; not in the future; empty if unknown."),
    "expiry_date": N_("Year-month-day, e.g. 2030-12-31; empty if the document has none."),
}
# A document every rule accepts, so one field at a time can be checked against the workflow.
_PROBE_DOCUMENT = {"document_number": "0", "issuing_state": "A", "surname": "A"}
FieldText = Annotated[str, StringConstraints(max_length=100)]
ROLE_TEXT = {"officer": N_("officer"), "supervisor": N_("supervisor"), "technician": N_("technician")}
POWER_LEVEL_TEXT = {
    "normal": N_("normal"), "warn": N_("low battery"), "defer": N_("saving power"), "critical": N_("battery critical"),
}

_templates = Environment(
    loader=PackageLoader("appliance.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def ui_session_token(request: Request) -> str | None:
    """The session token of the touchscreen's cookie, for the page script's own API calls only.

    None unless the request carries ``X-Kiosk-UI: 1`` (see the module docstring for why).
    """
    if request.headers.get(UI_HEADER) != "1":
        return None
    return request.cookies.get(SESSION_COOKIE)


def _login_redirect(reason: str | None) -> HTTPException:
    location = "/login" + (f"?note={reason}" if reason else "")
    return HTTPException(status_code=303, detail="log in first", headers={"Location": location})


def page_officer(request: Request) -> Officer:
    """The officer of the session cookie; without a live session the browser is sent to the login page."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _login_redirect(None)
    try:
        return request.app.state.officers.session(token).officer
    except AuthError:
        raise _login_redirect("expired") from None


PageOfficer = Annotated[Officer, Depends(page_officer)]


def mrz_feedback(text: str) -> dict[str, Any]:
    """What the manual-entry screen shows while the officer types an MRZ: fields and each check digit.

    Never raises: an MRZ that is not complete or not well-formed yet comes back with
    ``complete`` False and the parser's message, so the officer sees what is missing.
    """
    try:
        result = mrz.parse(text)
    except MRZError as exc:
        return {"complete": False, "message": str(exc), "checks": [], "fields": None}
    data = result.to_dict()
    applicable = ["document_number", "birth_date", "expiry_date"]
    if result.format in ("TD1", "TD2", "TD3"):
        applicable.append("composite")
    if result.format == "TD3" and "optional_data" in result.failed_checks:
        applicable.insert(3, "optional_data")
    return {
        "complete": True,
        "valid": result.valid,
        "message": "; ".join(data["messages"]),
        "checks": [{"name": name, "ok": name not in result.failed_checks} for name in applicable],
        "fields": {key: data[key] for key in ("format", "document_code", "issuing_state", "document_number",
                                              "surname", "given_names", "nationality", "birth_date", "sex",
                                              "expiry_date")},
        "mrz": "\n".join(result.lines),
    }


def manual_document(values: dict[str, str]) -> dict[str, str]:
    """The ``document`` body of ``POST /api/crossings`` for the values typed on the fields screen.

    An optional field left empty is left out, so the workflow's own default applies (P for
    the document code, X for sex, no date). Raises WorkflowError for a field the workflow
    does not know.
    """
    unknown = sorted(set(values) - set(MANUAL_FIELDS))
    if unknown:
        raise WorkflowError(f"unknown document field(s): {', '.join(unknown)}; known: {', '.join(MANUAL_FIELDS)}")
    document = {}
    for name in MANUAL_FIELDS:
        value = (values.get(name) or "").strip()
        if value or name in REQUIRED_FIELDS:
            document[name] = value
    return document


def document_feedback(values: dict[str, str], translate: Any = N_, today: Any = None) -> dict[str, Any]:
    """What the fields screen shows while the officer types: each field the workflow would refuse.

    Every field is checked by the workflow itself (``crossings.check_manual_document``, which applies
    ``appliance.lists.csv_import``'s ICAO rules), one at a time on an otherwise valid document, so
    each refusal is pinned to its field; then the whole document, for any rule across
    fields. ``errors`` maps a field to the rule the officer reads (translated),
    ``details`` to the workflow's own message. Records nothing.
    """
    document = manual_document(values)
    today = today or clock.utcnow().date()
    errors: dict[str, str] = {}
    details: dict[str, str] = {}
    for name, value in document.items():
        try:
            crossings.check_manual_document(crossings.ManualDocument(**{**_PROBE_DOCUMENT, name: value}), today)
        except WorkflowError as exc:
            errors[name] = translate(FIELD_RULES[name])
            details[name] = str(exc)
    message = ""
    if not errors:
        try:
            crossings.check_manual_document(crossings.ManualDocument(**document), today)
        except WorkflowError as exc:
            message = str(exc)
    valid = not errors and not message
    return {"valid": valid, "errors": errors, "details": details, "message": message,
            "document": document if valid else None}


def _records_capture_fields() -> bool:
    # The capture steps send capture ids and "unavailable" reasons only once the API's
    # crossing body accepts them; before that the crossing is recorded without them.
    from appliance.web.app import CrossingBody

    return "capture_ids" in CrossingBody.model_fields and "unavailable" in CrossingBody.model_fields


def build_router(config: Config, store: Store, devices: Any = None) -> APIRouter:
    """The page routes of one kiosk (included by ``appliance.web.app.create_app``)."""
    router = APIRouter(include_in_schema=False)
    zone = ZoneInfo(config.kiosk.timezone)

    def local_time(iso_text: str | None, with_date: bool = False) -> str:
        if not iso_text:
            return ""
        moment = clock.parse_iso(iso_text).astimezone(zone)
        return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")

    def status_snapshot(request: Request) -> dict[str, Any]:
        """The status bar: power, uplink, list ages, training; each part None when its source is missing."""
        return {
            "training": config.kiosk.training,
            "post": f"{config.kiosk.post_id} / {config.kiosk.kiosk_id}",
            "time": datetime.now(zone).strftime("%H:%M"),
            "power": _power(request),
            "uplink": _uplink(),
            "lists": _lists(),
        }

    def _power(request: Request) -> dict[str, Any] | None:
        policy = getattr(request.app.state, "power_policy", None)
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

    def _uplink() -> dict[str, Any] | None:
        try:
            from appliance.uplink import status as uplink_status

            snap = uplink_status.snapshot(store)
        except Exception as exc:  # an uplink fault must not take the officer's screen down
            log.warning("uplink status unavailable: %s", exc)
            return None
        return {"connected": bool(snap.get("connected")), "pending": int(snap.get("pending") or 0),
                "configured": bool(config.uplink.broker_url)}

    def _lists() -> dict[str, Any]:
        items = list_status(store)
        if not items:
            return {"count": 0, "age": "", "stale": False}
        oldest = max(items, key=lambda item: item["age_seconds"])
        return {"count": len(items), "age": oldest["age"], "stale": any(item.get("stale") for item in items)}

    def render(request: Request, name: str, officer: Officer | None = None, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        lang = choose(request.cookies.get(LANGUAGE_COOKIE))
        _ = translator(lang)
        page = _templates.get_template(name).render(
            _=_, lang=lang, languages=LANGUAGES, officer=officer, status=status_snapshot(request),
            js_messages={key: _(text) for key, text in JS_MESSAGES.items()},
            idle_seconds=config.security.session_idle_minutes * 60,
            DIRECTION_TEXT=DIRECTION_TEXT, DECISION_TEXT=DECISION_TEXT, CHECK_TEXT=CHECK_TEXT,
            POWER_LEVEL_TEXT=POWER_LEVEL_TEXT, ROLE_TEXT=ROLE_TEXT, local_time=local_time,
            CHECK_TEXT_T={key: _(text) for key, text in CHECK_TEXT.items()}, **context,
        )
        return HTMLResponse(page, status_code=status_code)

    # -- session ---------------------------------------------------------------------

    @router.get("/login")
    def login_page(request: Request, note: str | None = None, lang: str | None = None) -> Response:
        if lang is not None:
            # The language is chosen here, before logging in, and kept for the whole session.
            response = RedirectResponse("/login" + (f"?note={quote(note)}" if note else ""), status_code=303)
            response.set_cookie(LANGUAGE_COOKIE, choose(lang), httponly=True, samesite="strict")
            return response
        return render(request, "login.html", note=note, error=None, officer_id="")

    @router.post("/login")
    def login_submit(request: Request, officer_id: Annotated[str, Form()] = "",
                     pin: Annotated[str, Form()] = "") -> Response:
        _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
        officer_id = officer_id.strip()
        if not officer_id or not pin:
            return render(request, "login.html", note=None, officer_id=officer_id, status_code=422,
                          error=_("Enter your officer ID and your PIN."))
        officers = request.app.state.officers
        try:
            session = officers.login(officer_id, pin)
        except LockedOut:
            until = officers.get(officer_id).locked_until
            return render(request, "login.html", note=None, officer_id=officer_id, status_code=423,
                          error=_("Too many wrong PINs: this officer is locked out until {time}. "
                                  "Ask a supervisor to unlock the account.", time=local_time(until)))
        except AuthError:
            return render(request, "login.html", note=None, officer_id=officer_id, status_code=401,
                          error=_("Unknown officer ID or wrong PIN."))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="strict", path="/")
        return response

    @router.post("/logout")
    def logout(request: Request, reason: Annotated[str, Form()] = "") -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            request.app.state.officers.logout(token)
        response = RedirectResponse("/login?note=" + ("idle" if reason == "idle" else "bye"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # -- screens ---------------------------------------------------------------------

    @router.get("/")
    def home(request: Request) -> Response:
        try:
            officer = page_officer(request)
        except HTTPException:
            # The kiosk browser starts here: send it to the login page, not an error.
            return RedirectResponse("/login", status_code=303)
        return render(request, "home.html", officer)

    @router.get("/crossing")
    def crossing_page(request: Request, officer: PageOfficer, direction: str | None = None) -> Response:
        if officer.role not in ("officer", "supervisor"):
            _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
            return render(request, "message.html", officer, status_code=403,
                          title=_("Not allowed"), text=_("Your role cannot record crossings."))
        _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
        return render(request, "crossing.html", officer,
                      direction=direction if direction in DIRECTION_TEXT else None,
                      capture_fields=_records_capture_fields(),
                      unavailable=_missing_captures(request, _),
                      refer_manual=config.screening.refer_on_document_problem,
                      FIELD_TEXT=FIELD_TEXT, FIELD_RULES=FIELD_RULES, REQUIRED_FIELDS=REQUIRED_FIELDS)

    def _missing_captures(request: Request, _: Any) -> dict[str, dict[str, str]]:
        """Capture steps that cannot work on this kiosk, known before the officer tries: reason and text."""
        paths = {getattr(route, "path", None) for route in request.app.routes}
        missing = {}
        for kind, device_attr, what in (("photo", "camera", N_("no camera")),
                                        ("fingerprint", "fingerprint", N_("no fingerprint reader"))):
            if f"/api/captures/{kind}" not in paths:
                reason = f"{kind} capture is not installed on this kiosk"
                text = _("{kind} capture is not installed on this kiosk", kind=_(kind.capitalize()))
            elif getattr(devices, device_attr, None) is None:
                reason, text = f"device unavailable: {what}", _(what)
            else:
                continue
            missing[kind] = {"reason": reason, "text": text}
        return missing

    @router.post("/ui/mrz-check")
    def mrz_check(request: Request, text: Annotated[str, Body(embed=True, max_length=400)]) -> dict[str, Any]:
        token = ui_session_token(request)
        if not token:
            raise AuthError("not logged in: the MRZ check is for the touchscreen's own page")
        request.app.state.officers.session(token)
        return mrz_feedback(text)

    @router.post("/ui/document-check")
    def document_check(request: Request,
                       fields: Annotated[dict[str, FieldText], Body(embed=True, max_length=20)]) -> dict[str, Any]:
        """Per-field feedback for a document typed without an MRZ; nothing is recorded."""
        token = ui_session_token(request)
        if not token:
            raise AuthError("not logged in: the document check is for the touchscreen's own page")
        request.app.state.officers.session(token)
        return document_feedback(fields, translator(choose(request.cookies.get(LANGUAGE_COOKIE))))

    def _peek_officer(request: Request) -> Officer:
        """The officer of the page's session, checked without refreshing its idle timer.

        The live preview asks several times a second: a refresh would write the sessions
        table at that rate (the preview writes nothing) and would keep an unattended
        screen's session alive.
        """
        token = ui_session_token(request)
        if not token:
            raise AuthError("not logged in: the camera preview is for the touchscreen's own page")
        return request.app.state.officers.session(token, refresh=False).officer

    @router.get("/ui/camera/preview")
    def camera_preview(request: Request) -> Response:
        """One small frame of the camera for the photo step's live view; never stored, never audited.

        503 ``{"detail"}`` when there is no camera or it fails, as for a capture.
        """
        officer = _peek_officer(request)
        require_role(officer, "officer", "supervisor")
        camera = getattr(devices, "camera", None)
        if camera is None:
            return JSONResponse({"detail": "no camera is configured on this kiosk", "kind": "DeviceError"},
                                status_code=503)
        try:
            frame = camera.preview()
        except DeviceError as exc:
            return JSONResponse({"detail": str(exc), "kind": "DeviceError"}, status_code=503)
        # The same small JPEG a capture shows (photo_quality.preview), as bytes rather than a data: URL.
        header, _comma, payload = photo_quality.preview(frame).partition(",")
        media_type = header.removeprefix("data:").split(";")[0]
        return Response(base64.b64decode(payload), media_type=media_type,
                        headers={"Cache-Control": "no-store"})

    @router.get("/crossings/{crossing_id}")
    def crossing_result(request: Request, crossing_id: str, officer: PageOfficer, new: bool = False) -> Response:
        try:
            crossing = crossings.get(store, crossing_id)
        except NotFound:
            _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
            return render(request, "message.html", officer, status_code=404,
                          title=_("Not found"), text=_("There is no such crossing on this kiosk."))
        if new and crossing["screening"]["hits"]:
            _indicate("alert")
        return render(request, "result.html", officer, crossing=crossing, new=new, error=None)

    @router.post("/crossings/{crossing_id}/outcome")
    def crossing_outcome(request: Request, crossing_id: str, officer: PageOfficer,
                         supervisor_id: Annotated[str, Form()] = "", pin: Annotated[str, Form()] = "",
                         outcome: Annotated[str, Form()] = "", note: Annotated[str, Form(max_length=2000)] = "") -> Response:
        """The supervisor's decision on a referral, confirmed with the supervisor's own PIN."""
        _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
        try:
            crossing = crossings.get(store, crossing_id)
        except NotFound:
            return render(request, "message.html", officer, status_code=404,
                          title=_("Not found"), text=_("There is no such crossing on this kiosk."))

        def refuse(message: str, status_code: int) -> HTMLResponse:
            return render(request, "result.html", officer, crossing=crossing, new=False, error=message,
                          status_code=status_code)

        if outcome not in crossings.OUTCOMES:
            return refuse(_("Choose cleared or refused."), 422)
        if not supervisor_id.strip() or not pin:
            return refuse(_("The supervisor must enter their ID and PIN."), 422)
        officers = request.app.state.officers
        try:
            # A login, not a bare PIN check: wrong PINs count towards the supervisor's lockout.
            session = officers.login(supervisor_id.strip(), pin)
        except LockedOut:
            return refuse(_("This supervisor is locked out after too many wrong PINs."), 423)
        except AuthError:
            return refuse(_("Unknown supervisor ID or wrong PIN."), 401)
        try:
            crossings.resolve(store, session.officer, crossing_id, outcome, note)
        except Forbidden:
            return refuse(_("Only a supervisor can record the outcome of a referral."), 403)
        except WorkflowError:
            return refuse(_("This crossing has no referral waiting for an outcome."), 409)
        finally:
            officers.logout(session.token)
        _indicate("ready")
        return RedirectResponse(f"/crossings/{crossing_id}", status_code=303)

    @router.get("/history")
    def history(request: Request, officer: PageOfficer, q: str = "",
                page: Annotated[int, Query(ge=0, le=10_000)] = 0) -> Response:
        since, until = clock.day_bounds(clock.local_today(config.kiosk.timezone), config.kiosk.timezone)
        items = crossings.list_crossings(store, since=since, until=until, limit=1000)
        needle = " ".join(q.upper().split())
        if needle:
            items = [item for item in items if needle in " ".join(
                filter(None, (item["surname"], item["given_names"], item["document_number"], item["nationality"])))]
        pages = max(1, -(-len(items) // HISTORY_PAGE_SIZE))
        page = min(page, pages - 1)
        shown = items[page * HISTORY_PAGE_SIZE:(page + 1) * HISTORY_PAGE_SIZE]
        return render(request, "history.html", officer, items=shown, total=len(items), q=q, page=page, pages=pages)

    @router.get("/stats")
    def statistics(request: Request, officer: PageOfficer, days: int = 7) -> Response:
        _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
        days = days if days in STATS_RANGES else STATS_RANGES[0]
        last = clock.local_today(config.kiosk.timezone)
        first = last - timedelta(days=days - 1)
        daily = stats.daily(store, first, last, config.kiosk.timezone, training=config.kiosk.training)
        totals: dict[str, dict[str, int]] = {"by_direction": {}, "by_nationality": {}, "by_age_band": {}}
        for day in daily:
            for key, counts in totals.items():
                for name, value in day[key].items():
                    counts[name] = counts.get(name, 0) + value
        none = _("No crossings in this period.")
        direction = [(_(DIRECTION_TEXT[name]), totals["by_direction"].get(name, 0)) for name in ("entry", "exit")]
        nationality = sorted(totals["by_nationality"].items(), key=lambda item: (-item[1], item[0]))
        age = [(name if name != "unknown" else _("unknown"), value) for name, value in totals["by_age_band"].items()]
        figures = {
            "days": charts.day_chart(_("Crossings per day"), daily, _("Entry"), _("Exit")),
            "direction": charts.bar_chart(_("By direction"), direction, empty=none),
            "nationality": charts.bar_chart(_("By nationality"), nationality, empty=none),
            "age": charts.bar_chart(_("By age band"), age, empty=none),
        }
        return render(request, "stats.html", officer, figures=figures, days=days, ranges=STATS_RANGES,
                      total=sum(day["total"] for day in daily))

    @router.get("/diagnostics")
    def diagnostics(request: Request, officer: PageOfficer) -> Response:
        return render(request, "diagnostics.html", officer, **_diagnostics(request, selftest=None))

    @router.post("/diagnostics/selftest")
    def diagnostics_selftest(request: Request, officer: PageOfficer) -> Response:
        return render(request, "diagnostics.html", officer, **_diagnostics(request, selftest=_run_selftest()))

    def _run_selftest() -> dict[str, Any]:
        try:
            from appliance.workflow import selftest
        except ImportError:
            return {"available": False, "results": [], "error": None}
        try:
            return {"available": True, "results": selftest.run(config), "error": None}
        except KioskError as exc:
            return {"available": True, "results": [], "error": str(exc)}

    def _diagnostics(request: Request, selftest: dict[str, Any] | None) -> dict[str, Any]:
        _ = translator(choose(request.cookies.get(LANGUAGE_COOKIE)))
        device_status = devices.status() if devices is not None else {}
        for kind in ("fingerprint", "indicators"):
            # Optional devices: absent (None) until a back-end is configured.
            if devices is not None and kind not in device_status:
                device = getattr(devices, kind, None)
                if device is None:
                    device_status[kind] = None
                else:
                    try:
                        device_status[kind] = device.status()
                    except Exception as exc:
                        device_status[kind] = {"kind": kind, "backend": "?", "ok": False, "detail": str(exc)}
        try:
            from appliance.uplink import status as uplink_status

            uplink = uplink_status.snapshot(store)
        except Exception as exc:
            uplink = {"error": str(exc)}
        try:
            from appliance.hw.power_policy import history as power_history

            since = clock.iso(clock.utcnow() - timedelta(hours=24))
            history = power_history(store, since=since)
        except Exception as exc:  # diagnostics must show what it can
            log.warning("power history unavailable: %s", exc)
            history = []
        versions = {
            "kiosk": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "schema": str(store.schema_version),
        }
        return {
            "versions": versions,
            "devices": device_status,
            "uplink": uplink,
            "power": _power(request),
            "power_chart": charts.power_chart(_("Battery over the last 24 hours"), history) if history else None,
            "power_recent": history[-5:],
            "lists": list_status(store),
            "selftest": selftest,
        }

    def _indicate(state: str) -> None:
        # The LEDs and buzzer are the indicators device's; the page also beeps itself, so
        # a kiosk without indicators still alerts the officer.
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

    # -- status bar and assets -------------------------------------------------------

    @router.get("/ui/status")
    def status_fragment(request: Request) -> HTMLResponse:
        """The status bar alone, for the page's periodic refresh.

        No session needed, and none is refreshed: the bar holds no personal data, and a
        screen left open must still time out after the idle limit.
        """
        lang = choose(request.cookies.get(LANGUAGE_COOKIE))
        page = _templates.get_template("statusbar.html").render(
            _=translator(lang), status=status_snapshot(request), POWER_LEVEL_TEXT=POWER_LEVEL_TEXT)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @router.get("/ui/static/{name}")
    def static(name: str) -> Response:
        if not STATIC_NAME.match(name):
            raise NotFound(f"no UI asset {name!r}")
        source = resources.files("appliance.web").joinpath("static").joinpath(name)
        if not source.is_file():
            raise NotFound(f"no UI asset {name!r}")
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(source.read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})

    return router
