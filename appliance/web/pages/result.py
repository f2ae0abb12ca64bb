"""A crossing's result screen, and the supervisor's outcome of a referral confirmed with their own PIN."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appliance.domain import clock
from appliance.domain.models import Crossing
from appliance.storage.store import Store
from appliance.errors import Forbidden, FourEyes, NotFound, WorkflowError
from appliance.web.deps import DevicesDep, OfficersDep, PageOfficer, StoreDep, get_config
from appliance.web.i18n import N_
from appliance.web.pages.render import (Refusal, age_text, indicate, message, personal_data_refused, render,
                                        supervisor_session, translate)
from appliance.workflow import crossings

router = APIRouter(include_in_schema=False)

NOT_FOUND = (N_("Not found"), N_("There is no such crossing on this kiosk."))


@router.get("/crossings/{crossing_id}")
def crossing_result(request: Request, crossing_id: str, officer: PageOfficer, store: StoreDep,
                    devices: DevicesDep, new: bool = False) -> Response:
    refused = personal_data_refused(request, officer)
    if refused is not None:
        return refused
    try:
        crossing = crossings.get(store, crossing_id)
    except NotFound:
        return message(request, officer, 404, *NOT_FOUND)
    if new and crossing.screening.hits:
        indicate(devices, "alert")
    return render(request, "result.html", officer, crossing=crossing.to_dict(), new=new, error=None,
                  repeat=repeat_warning(request, store, crossing), form=decision_form(), **outcome_texts())


# Why a supervisor cleared or refused, as the decision form offers it (codes: crossings.OUTCOME_REASONS).
OUTCOME_REASON_TEXT = {
    "not_the_listed_person": N_("Not the listed person"),
    "listed_person_confirmed": N_("The listed person, confirmed"),
    "document_checked_valid": N_("Document checked: valid"),
    "document_invalid": N_("Document invalid or false"),
    "other": N_("Other (say why in the note)"),
}


# What crossings.outcome_problem finds wrong with a decision, as the supervisor reads it.
OUTCOME_PROBLEM_TEXT = {
    "outcome": N_("Choose cleared or refused."),
    "reason_missing": N_("Choose the reason for the outcome."),
    "reason": N_("Choose the reason for the outcome."),
    "note_needed": N_("Say why in the note: the reason is Other."),
    "note_too_long": N_("The note is too long: at most 2000 characters."),
}
FOUR_EYES_TEXT = N_("You recorded this crossing: another supervisor must decide it.")


def decision_form(supervisor_id: str = "", outcome: str = "", reason: str = "", note: str = "") -> dict[str, str]:
    """What the supervisor decision form holds: kept when a PIN is refused, so nothing is typed twice."""
    return {"supervisor_id": supervisor_id, "outcome": outcome, "reason": reason, "note": note}


def outcome_texts() -> dict[str, Any]:
    return {"OUTCOME_REASONS": crossings.OUTCOME_REASONS, "OUTCOME_REASON_TEXT": OUTCOME_REASON_TEXT}


def repeat_warning(request: Request, store: Store, crossing: Crossing) -> dict[str, Any] | None:
    """The same document's crossing in the same direction shortly before this one, with how long before."""
    earlier = crossings.earlier_same_document(store, get_config(request), crossing)
    if earlier is None:
        return None
    seconds = (clock.parse_iso(crossing.recorded_at) - clock.parse_iso(earlier["recorded_at"])).total_seconds()
    return {**earlier, "age": age_text(seconds, translate(request))}


@router.post("/crossings/{crossing_id}/outcome")
def crossing_outcome(request: Request, crossing_id: str, officer: PageOfficer, store: StoreDep,
                     officers: OfficersDep, devices: DevicesDep,
                     supervisor_id: Annotated[str, Form()] = "", pin: Annotated[str, Form()] = "",
                     outcome: Annotated[str, Form()] = "", note: Annotated[str, Form(max_length=2000)] = "",
                     reason: Annotated[str, Form()] = "") -> Response:
    """The supervisor's decision on a referral, with a reason, confirmed with the supervisor's own PIN."""
    _ = translate(request)
    # Refused before the crossing is read: a refusal below shows the result screen again.
    refused = personal_data_refused(request, officer)
    if refused is not None:
        return refused
    try:
        crossing = crossings.get(store, crossing_id)
    except NotFound:
        return message(request, officer, 404, *NOT_FOUND)
    four_eyes = get_config(request).security.four_eyes

    def refuse(text: str, status_code: int) -> HTMLResponse:
        # Everything typed stays (the supervisor ID too); only the PIN is typed again.
        return render(request, "result.html", officer, crossing=crossing.to_dict(), new=False, error=text,
                      status_code=status_code, repeat=repeat_warning(request, store, crossing),
                      form=decision_form(supervisor_id.strip(), outcome, reason, note),
                      **outcome_texts())

    supervisor_id = supervisor_id.strip()
    # The workflow's own rules (crossings.outcome_problem, check_four_eyes), said in the officer's language.
    problem = crossings.outcome_problem(outcome, reason, note)
    if problem is not None:
        return refuse(_(OUTCOME_PROBLEM_TEXT[problem]), 422)
    if not supervisor_id or not pin:
        return refuse(_("The supervisor must enter their ID and PIN."), 422)
    try:
        crossings.check_four_eyes(crossing, supervisor_id, four_eyes)
    except FourEyes:
        return refuse(_(FOUR_EYES_TEXT), 403)
    with supervisor_session(officers, supervisor_id, pin, _) as session:
        if isinstance(session, Refusal):
            return refuse(*session)
        try:
            crossings.resolve(store, session.officer, crossing_id, outcome, note, reason=reason,
                              four_eyes=four_eyes)
        except FourEyes:
            return refuse(_(FOUR_EYES_TEXT), 403)
        except Forbidden:
            return refuse(_("Only a supervisor can record the outcome of a referral."), 403)
        except WorkflowError:
            return refuse(_("This crossing has no referral waiting for an outcome."), 409)
    indicate(devices, "ready")
    return RedirectResponse(f"/crossings/{crossing_id}", status_code=303)
