"""What the crossing screen tells the officer while typing: an MRZ's check digits, a typed document's fields.

Both only read: nothing is recorded. The rules are the workflow's own
(``appliance.workflow.crossings``), so the screen never accepts what the record call refuses.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import StringConstraints

from appliance.domain import clock, mrz
from appliance.domain.models import DocumentChecks
from appliance.domain.reasons import Reason
from appliance.errors import MRZError, WorkflowError
from appliance.web import reasons
from appliance.web.i18n import N_
from appliance.web.pages.render import Translate
from appliance.workflow import crossings

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
# The labels inside the typed-fields boxes: 18 px like all an officer reads, so the longer
# names are shortened here (French "Naissance" for "Date de naissance") and ten boxes still fit
# two rows at 800 px; messages and rules name a field in full (FIELD_TEXT).
FIELD_LABEL = {
    **FIELD_TEXT,
    "document_number": N_("Document No."),
    "birth_date": N_("Birth date"),
    "expiry_date": N_("Expires"),
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


def problems(translate: Translate, checks: DocumentChecks) -> list[dict[str, str]]:
    """A document's problems as the document step lists them: code and text in the officer's language."""
    return [{"code": item.code, "text": reasons.render(translate, item)} for item in checks.reasons]


def _reason_or_text(translate: Translate, reason: object, text: str) -> str:
    return reasons.render(translate, reason) if isinstance(reason, Reason) else text


def mrz_feedback(text: str, translate: Translate = N_, today: date | None = None) -> dict[str, Any]:
    """What the manual-entry screen shows while the officer types an MRZ: fields and each check digit.

    Never raises: an MRZ that is not complete or not well-formed yet comes back with
    ``complete`` False and the parser's message, so the officer sees what is missing.
    """
    try:
        result = mrz.parse(text)
    except MRZError as exc:
        return {"complete": False, "message": _reason_or_text(translate, exc.reason, str(exc)), "checks": [],
                "fields": None, "problems": []}
    data = result.to_dict()
    checks = crossings.check_mrz(text, today or clock.utcnow().date())
    applicable = ["document_number", "birth_date", "expiry_date"]
    if result.format in ("TD1", "TD2", "TD3"):
        applicable.append("composite")
    if result.format == "TD3" and "optional_data" in result.failed_checks:
        applicable.insert(3, "optional_data")
    return {
        "complete": True,
        "valid": result.valid,
        "message": reasons.render_all(translate, result.reasons),
        "checks": [{"name": name, "ok": name not in result.failed_checks} for name in applicable],
        "problems": problems(translate, checks),
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


def document_feedback(values: dict[str, str], translate: Translate = N_, today: date | None = None) -> dict[str, Any]:
    """What the fields screen shows while the officer types: each field the workflow would refuse.

    Every field is checked by the workflow itself (``crossings.check_manual_document``, which applies
    the ICAO field rules), one at a time on an otherwise valid document, so
    each refusal is pinned to its field; then the whole document, for any rule across
    fields. ``errors`` maps a field to the rule the officer reads (translated),
    ``details`` to the workflow's own message. Records nothing. Raises WorkflowError for
    a field the workflow does not know.
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
    found: list[dict[str, str]] = []
    if not errors:
        try:
            found = problems(translate, crossings.check_manual_document(crossings.ManualDocument(**document), today))
        except WorkflowError as exc:
            message = str(exc)
    valid = not errors and not message
    return {"valid": valid, "errors": errors, "details": details, "message": message,
            "document": document if valid else None, "problems": found}
