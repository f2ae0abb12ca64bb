"""The crossing workflow: document → screening → decision → record, used by API, CLI and UI.

One function records a crossing, so every way in (touchscreen, local API, CLI) applies
the same checks and leaves the same durable trace: the crossing row, its outbox message
and its audit entry commit in one transaction, and only then is "recorded" returned.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from appliance.config import Config
from appliance.domain import clock, mrz
from appliance.domain.dates import PARTIAL_DATE_FORMS, PartialDateError, parse_partial_date
from appliance.domain.fields import SEXES, is_document_number, is_document_type, is_state_code
from appliance.domain.models import (
    Capture,
    Crossing,
    Document,
    DocumentChecks,
    FaceScreening,
    Hit,
    RecordedCrossing,
    ScreeningResult,
)
from appliance.domain.reasons import reason
from appliance.errors import FourEyes, NotFound, WorkflowError
from appliance.storage import audit
from appliance.storage.officers import Officer, require_role
from appliance.storage.store import Store
from appliance.uplink import outbox
from appliance.workflow import biometrics, face_screening, timekeeping
from appliance.workflow.screening import screen

Direction = Literal["entry", "exit"]
Decision = Literal["cleared", "referred", "refused"]
DIRECTIONS = ("entry", "exit")
DECISIONS = ("cleared", "referred", "refused")
OUTCOMES = ("cleared", "refused")
# Why a supervisor cleared or refused a referral: the short list the decision form offers
# ("other" needs a note). Stored as the code; the screens name it in the officer's language.
OUTCOME_REASONS = ("not_the_listed_person", "listed_person_confirmed", "document_checked_valid",
                   "document_invalid", "other")

log = logging.getLogger(__name__)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fullmatch, ASCII digits: as appliance.domain.dates
# A birth date may be partial: many documents know only the year (or year and month) of
# birth (ICAO 9303 fills the unknown part; national cards print "XX/XX/1975"); the one
# partial-date parser (appliance.domain.dates) reads it.
MIN_BIRTH_YEAR = 1900
_NAME = re.compile(r"^[A-Z][A-Z ]*$")


class ManualDocument(BaseModel):
    """Document fields typed by the officer when the MRZ cannot be read (also the API's body)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_number: str
    issuing_state: str
    surname: str
    given_names: str = ""
    nationality: str = ""
    # YYYY-MM-DD, or YYYY-MM / YYYY when the document shows only that; kept as typed and
    # screened as it is (appliance.workflow.screening takes partial dates).
    birth_date: str | None = None
    sex: str = "X"
    expiry_date: str | None = None
    document_code: str = "P"


@dataclass(frozen=True)
class CrossingRequest:
    direction: str
    mrz: str | None = None
    document: ManualDocument | None = None
    decision: str | None = None
    note: str = ""
    # Captures taken for this traveller (appliance.workflow.biometrics), and why a photo or a
    # fingerprint is missing: {"photo": reason, "fingerprint": reason}.
    capture_ids: tuple[str, ...] = ()
    unavailable: dict[str, str] | None = None
    # The traveller's face embedding, when the client computed one: the same screening
    # call then also searches the listed faces. Without it, the kiosk embeds the linked
    # face photo itself when screening.face_embedder_model is set.
    face_embedding: tuple[float, ...] | None = None
    # The client's id of this record call (one per traveller): a repeat of the call (a
    # double tap, a retry after a lost answer) answers the crossing the first one recorded.
    request_id: str | None = None
    # The purpose of travel (one of [crossings] purposes) and a visa holder's visa; an MRV
    # document read gives its own number and type when these are left out.
    purpose: str | None = None
    visa_number: str | None = None
    visa_type: str | None = None


@dataclass(frozen=True)
class _Document:
    source: Literal["mrz", "manual"]
    fields: Document
    checks: DocumentChecks


def _from_mrz(text: str, today: date) -> _Document:
    result = mrz.parse(text, today=today)
    data = result.to_dict()
    found = list(result.reasons) or [reason("document.check_failed", check=name) for name in result.failed_checks]
    expired = result.is_expired(today)
    if expired:
        found.append(reason("document.expired", date=data["expiry_date"]))
    return _Document(
        source="mrz",
        fields=Document(
            mrz="\n".join(result.lines),
            document_format=data["format"],
            document_code=data["document_code"],
            issuing_state=data["issuing_state"],
            document_number=data["document_number"],
            surname=data["surname"],
            given_names=data["given_names"],
            nationality=data["nationality"],
            birth_date=data["birth_date"],
            sex=data["sex"],
            expiry_date=data["expiry_date"],
        ),
        checks=DocumentChecks(failed_checks=data["failed_checks"], expired=expired,
                              problems=[item.text() for item in found], reasons=found),
    )


def check_manual_document(doc: ManualDocument, today: date) -> DocumentChecks:
    """The document checks of typed fields (typed by hand, expired, no expiry), as the
    crossing would record them; raises WorkflowError, naming the field and the rule, for
    fields the workflow would refuse. Records nothing. The touchscreen checks each field
    as it is typed.

    The birth date may be partial (``1975``, ``1975-03``); it must be a real year (1900 or
    later), month or date and not in the future. The expiry date is a full date."""
    return _from_manual(doc, today).checks


def check_mrz(text: str, today: date) -> DocumentChecks:
    """The document checks of an MRZ (failed check digits, expiry) as the crossing would
    record them; raises MRZError for a text that is not an MRZ. Records nothing."""
    return _from_mrz(text, today).checks


def _birth_date(text: str) -> tuple[int, int | None, int | None]:
    """(year, month, day) of a typed birth date, month and day None when not known.

    Raises ValueError with the workflow's message: the forms accepted, what was typed and,
    for a well-formed value, what is wrong with it.
    """
    expected = f"birth_date must be {PARTIAL_DATE_FORMS} (got {text!r})"
    try:
        year, month, day = parse_partial_date(text)
    except PartialDateError as exc:
        raise ValueError(f"{expected}: {exc.reason}" if exc.reason else expected) from None
    if year < MIN_BIRTH_YEAR:
        raise ValueError(f"{expected}: the year must be {MIN_BIRTH_YEAR} or later")
    return year, month, day


def _in_future(birth: tuple[int, int | None, int | None], today: date) -> bool:
    """True when even the earliest day the (partial) birth date can mean is after today."""
    year, month, day = birth
    if month is None:
        return year > today.year
    if day is None:
        return (year, month) > (today.year, today.month)
    return date(year, month, day) > today


def _from_manual(doc: ManualDocument, today: date) -> _Document:
    def clean(value: str | None) -> str:
        return " ".join((value or "").upper().replace("<", " ").split())

    code = clean(doc.document_code).replace(" ", "")
    state = clean(doc.issuing_state)
    number = clean(doc.document_number).replace(" ", "")
    surname = clean(doc.surname)
    given_names = clean(doc.given_names)
    nationality = clean(doc.nationality)
    birth_date = doc.birth_date or None
    sex = clean(doc.sex) or "X"
    expiry_date = doc.expiry_date or None
    fields = Document(mrz=None, document_format=None, document_code=code, issuing_state=state,
                      document_number=number, surname=surname, given_names=given_names, nationality=nationality,
                      birth_date=birth_date, sex=sex, expiry_date=expiry_date)
    errors = []
    if not (is_document_number(number) and len(number) <= 20):
        errors.append("document_number must be 1-20 letters or digits")
    if not is_state_code(state):
        errors.append("issuing_state must be a 1-3 letter ICAO code")
    if nationality and not is_state_code(nationality):
        errors.append("nationality must be a 1-3 letter ICAO code")
    if not is_document_type(code):
        errors.append("document_code must be 1-2 letters (P, I, ID, V...)")
    if not _NAME.match(surname):
        errors.append("surname must contain letters A-Z (as printed in the MRZ)")
    if given_names and not _NAME.match(given_names):
        errors.append("given_names must contain letters A-Z (as printed in the MRZ)")
    if sex not in SEXES:
        errors.append("sex must be M, F or X")
    birth = None
    if birth_date is not None:
        try:
            birth = _birth_date(birth_date)
        except ValueError as exc:
            errors.append(str(exc))
    value = expiry_date
    if value is not None:
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            errors.append(f"expiry_date must be a date YYYY-MM-DD (got {value!r})")
    if errors:
        raise WorkflowError("manual document entry: " + "; ".join(errors), reason("record.typed_fields"))
    if birth is not None and _in_future(birth, today):
        raise WorkflowError(f"manual document entry: birth_date {birth_date} is in the future",
                            reason("record.birth_date_future", date=birth_date))
    expired = expiry_date is not None and date.fromisoformat(expiry_date) < today
    found = [reason("document.typed")]
    if expired:
        found.append(reason("document.expired", date=expiry_date))
    if not expiry_date:
        found.append(reason("document.no_expiry"))
    return _Document(source="manual", fields=fields,
                     checks=DocumentChecks(failed_checks=[], expired=expired, problems=[item.text() for item in found],
                                           reasons=found))


def _decide(requested: str | None, hits: list[Hit], problems: list[str], config: Config,
            list_referral: str | None = None) -> tuple[str, str]:
    """The decision and the reason an officer is shown for it."""
    if requested is not None and requested not in DECISIONS:
        raise WorkflowError(f"decision {requested!r} is not one of {', '.join(DECISIONS)}",
                            reason("record.decision", decision=repr(requested)))
    if hits:
        # An officer cannot clear (or refuse) a watchlist hit alone: a supervisor decides.
        return "referred", "watchlist hit: refer to a supervisor"
    if list_referral:
        # A stale or unreadable list (screening.stale_policy = "refer"), or a list's faces
        # from another model (face_model_mismatch = "refer"): no hit proves nothing.
        return "referred", list_referral
    if requested is not None:
        return requested, "officer's decision"
    if problems and config.screening.refer_on_document_problem:
        return "referred", "document problem: " + "; ".join(problems)
    return "cleared", "no hit, document checks passed"


def _face_embedding(store: Store, config: Config, request: CrossingRequest) -> tuple[Any, FaceScreening | None]:
    """(embedding to screen, the screening's "face" record) of a crossing request.

    A client's ``face_embedding`` wins. Otherwise the last face photo among the captures is
    embedded with the installed models (``face_screening.for_crossing``). Without a model or
    a photo, or when the photo cannot be embedded (a quality gate, no face, a model that
    will not load), the crossing is still screened and recorded without the face, and the
    record says why; nothing else about the crossing changes. Never raises.
    """
    if request.face_embedding is not None:
        return request.face_embedding, FaceScreening(source="request")
    return face_screening.for_crossing(store, config, request.capture_ids)


def _with_face(result: ScreeningResult, face: FaceScreening | None) -> ScreeningResult:
    """The screening as the crossing records it: with its face record, and a warning when
    the face could not be screened."""
    if face is None:
        return result
    if result.skipped_face_lists:
        face = replace(face, skipped_lists=result.skipped_face_lists)
    if result.best_face is not None and face.error is None:
        face = replace(face, best_similarity=result.best_face[0], best_list=result.best_face[1])
    warnings = result.warnings
    if face.error is not None and not face_screening.is_notice(face):
        # Shown with the result and sent to HQ: the traveller was not screened by face.
        warnings = [*warnings, f"face not screened: {face.error}"]
    return replace(result, face=face, warnings=warnings)


def _check_request(request: CrossingRequest) -> None:
    """Raises WorkflowError for a request no crossing can be made of (before anything is read)."""
    if request.direction not in DIRECTIONS:
        raise WorkflowError(f"direction {request.direction!r} is not one of {', '.join(DIRECTIONS)}",
                            reason("record.direction", direction=repr(request.direction)))
    if (request.mrz is None) == (request.document is None):
        raise WorkflowError("give either the MRZ text or the manually entered document fields, not both or neither",
                            reason("record.mrz_or_fields"))
    if len(request.note) > 2000:
        raise WorkflowError("note is longer than 2000 characters", reason("record.note_too_long", limit=2000))
    if request.request_id is not None and not _REQUEST_ID.fullmatch(request.request_id):
        raise WorkflowError(f"request_id must be 8-64 letters, digits or '-' (got {request.request_id!r})",
                            reason("record.request_id"))
    if request.visa_number is not None and not (is_document_number(request.visa_number)
                                                and len(request.visa_number) <= 20):
        raise WorkflowError(f"visa_number must be 1-20 letters or digits (got {request.visa_number!r})",
                            reason("record.visa_number"))
    if request.visa_type is not None and not is_document_type(request.visa_type):
        raise WorkflowError(f"visa_type must be 1-2 letters, as the visa's MRZ prints it (got {request.visa_type!r})",
                            reason("record.visa_type"))


_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")


def _check_purpose(config: Config, purpose: str | None) -> None:
    if purpose is not None and purpose not in config.crossings.purposes:
        raise WorkflowError(f"purpose {purpose!r} is not one of {', '.join(config.crossings.purposes)}",
                            reason("record.purpose", purpose=repr(purpose)))


def _visa(request: CrossingRequest, document: _Document) -> tuple[str | None, str | None]:
    """(number, type) of the traveller's visa: as given, else the MRV document's own."""
    fields = document.fields
    if request.visa_number is None and request.visa_type is None and fields.document_format in ("MRVA", "MRVB"):
        return fields.document_number, fields.document_code
    return request.visa_number, request.visa_type


def _by_request(store: Store, config: Config, request_id: str | None) -> RecordedCrossing | None:
    """The crossing a record call with this request id already made, as that call answered it."""
    if request_id is None:
        return None
    with store.lock:
        rows = list(store.db.query("SELECT id, decision_reason FROM crossings WHERE request_id = ?", [request_id]))
    if not rows:
        return None
    crossing = get(store, rows[0]["id"])
    return RecordedCrossing(crossing=crossing, decision_reason=rows[0]["decision_reason"] or "",
                            repeat_of=earlier_same_document(store, config, crossing))


def earlier_same_document(store: Store, config: Config, crossing: Crossing) -> dict[str, Any] | None:
    """The last crossing of the same document in the same direction within [crossings]
    repeat_window_minutes before ``crossing`` ({id, seq, recorded_at, officer_id}), or None."""
    return _earlier(store, config, crossing.document.document_number, crossing.document.issuing_state,
                    crossing.direction, crossing.recorded_at, crossing.training, below_seq=crossing.seq)


def _earlier(store: Store, config: Config, number: str | None, state: str | None, direction: str, at: str,
             training: bool, below_seq: int | None = None) -> dict[str, Any] | None:
    window = config.crossings.repeat_window_minutes
    if not window or not number:
        return None
    since = clock.iso(clock.parse_iso(at) - timedelta(minutes=window))
    with store.lock:
        rows = list(store.db.query(
            "SELECT id, seq, recorded_at, officer_id FROM crossings WHERE document_number = ? AND issuing_state IS ? "
            "AND direction = ? AND training = ? AND recorded_at >= ? AND recorded_at <= ? AND seq < ? "
            "ORDER BY seq DESC LIMIT 1",
            [number, state, direction, int(training), since, at, below_seq if below_seq is not None else 2**62]))
    return dict(rows[0]) if rows else None


def _queue_for_hq(store: Store, recorded: RecordedCrossing) -> None:
    """The crossing, its captures and any alert, queued in the crossing's own transaction."""
    crossing = recorded.crossing
    outbox.enqueue(store, "crossing", crossing.id, recorded.to_dict())
    for capture in crossing.captures:
        # Only a reference: the uplink reads and sends the bytes later, at the lowest priority.
        outbox.enqueue(store, "capture", capture.id, {
            "capture_id": capture.id, "crossing_id": crossing.id, "kind": capture.kind,
            "format": capture.format,
        })
    if crossing.screening.hits:
        # The alert overtakes any backlog: HQ hears of a hit before older crossings.
        outbox.enqueue(store, "alert", crossing.id, {
            "crossing_id": crossing.id, "seq": crossing.seq, "recorded_at": crossing.recorded_at,
            "direction": crossing.direction, "decision": crossing.decision,
            "hits": [hit.to_dict() for hit in crossing.screening.hits],
            "surname": crossing.document.surname, "document_number": crossing.document.document_number,
        })


def record(store: Store, config: Config, officer: Officer, request: CrossingRequest,
           now: datetime | None = None) -> RecordedCrossing:
    """Screen and durably record one crossing; returns the stored crossing and the reason
    for its decision.

    Raises WorkflowError for a bad direction, decision or manual document, MRZError for a
    text that is not an MRZ, Forbidden for a technician (who does not process travellers).
    Nothing is stored when it raises.
    """
    require_role(officer, "officer", "supervisor")
    _check_request(request)
    _check_purpose(config, request.purpose)
    first = _by_request(store, config, request.request_id)
    if first is not None:
        return first
    unavailable = biometrics.check_unavailable(request.unavailable)
    # The time a trusted source vouches for: the system clock may have restarted in the past.
    when = timekeeping.stamp(store, config, now or clock.utcnow())
    now = when.at
    today = now.date()
    if request.mrz is not None:
        document = _from_mrz(request.mrz, today)
    else:
        assert request.document is not None  # exactly one of the two, checked above
        document = _from_manual(request.document, today)
    embedding, face = _face_embedding(store, config, request)
    # Known only when the kiosk embedded the photo itself; a client's embedding is of unknown model.
    model = face.model["embedder"] if face is not None and face.model is not None else None
    # The face threshold the embedder's pack recommends, unless the config sets its own.
    settings = (config.screening.model_copy(update={"face_threshold": face.threshold})
                if face is not None and face.threshold is not None else config.screening)
    screening = _with_face(screen(store, document.fields.traveller(), settings, face_embedding=embedding,
                                  face_model=model), face)
    decision, reason = _decide(request.decision, screening.hits, document.checks.problems, config, screening.refer)
    crossing_id = str(uuid.uuid4())
    recorded_at = clock.iso(now)
    visa_number, visa_type = _visa(request, document)
    with store.transaction() as db:
        # Under the write lock: of two calls with one request id, the second finds the first here.
        first = _by_request(store, config, request.request_id)
        if first is not None:
            return first
        repeat_of = _earlier(store, config, document.fields.document_number, document.fields.issuing_state,
                             request.direction, recorded_at, config.kiosk.training)
        seq = store.next_counter("crossing_seq")
        db.table("crossings").insert({
            "id": crossing_id,
            "seq": seq,
            "post_id": config.kiosk.post_id,
            "kiosk_id": config.kiosk.kiosk_id,
            "officer_id": officer.id,
            "direction": request.direction,
            "recorded_at": recorded_at,
            "training": int(config.kiosk.training),
            "document_source": document.source,
            **document.fields.to_dict(),
            "document_checks": json.dumps(document.checks.to_dict(), ensure_ascii=False),
            "screening": json.dumps(screening.to_dict(), ensure_ascii=False),
            "decision": decision,
            "note": request.note,
            "unavailable": json.dumps(unavailable, ensure_ascii=False),
            "request_id": request.request_id,
            "decision_reason": reason,
            "purpose": request.purpose,
            "visa_number": visa_number,
            "visa_type": visa_type,
            **when.columns(),
        })
        # Raises WorkflowError for an unknown or already-used capture: the whole
        # crossing rolls back with it.
        linked = biometrics.link(store, crossing_id, request.capture_ids, unavailable)
        crossing = Crossing(
            id=crossing_id, seq=seq, post_id=config.kiosk.post_id, kiosk_id=config.kiosk.kiosk_id,
            officer_id=officer.id, direction=request.direction, recorded_at=recorded_at,
            training=config.kiosk.training, document_source=document.source, document=document.fields,
            document_checks=document.checks, screening=screening, decision=decision, note=request.note,
            outcome=None, outcome_by=None, outcome_at=None, outcome_note=None, unavailable=unavailable,
            captures=linked, purpose=request.purpose, visa_number=visa_number, visa_type=visa_type,
            request_id=request.request_id, **when.columns(),
        )
        recorded = RecordedCrossing(crossing=crossing, decision_reason=reason, repeat_of=repeat_of)
        if not crossing.training:
            # Training records stay on the kiosk: HQ must never count them as crossings.
            _queue_for_hq(store, recorded)
        audit.append(
            store, officer.id, "crossing.record", crossing_id,
            {"seq": seq, "direction": crossing.direction, "decision": decision,
             "hits": len(screening.hits), "training": crossing.training,
             "captures": len(linked), "unavailable": sorted(unavailable)},
        )
    return recorded


# What is wrong with a supervisor's decision (``outcome_problem``), in English for the API and
# the CLI; the touchscreen says the same in the officer's language from the code.
OUTCOME_PROBLEMS = {
    "outcome": "outcome {outcome!r} is not one of " + ", ".join(OUTCOMES),
    "reason_missing": "an outcome needs a reason: one of " + ", ".join(OUTCOME_REASONS),
    "reason": "outcome reason {reason!r} is not one of " + ", ".join(OUTCOME_REASONS),
    "note_needed": "outcome reason 'other' needs a note saying why",
    "note_too_long": "note is longer than 2000 characters",
}


def outcome_problem(outcome: str, reason: str | None, note: str) -> str | None:
    """The first thing a supervisor's decision cannot have, as a code of ``OUTCOME_PROBLEMS``; None when it is whole.

    Every way in (touchscreen, API, CLI) asks this one function: an outcome, one of the
    reasons (``OUTCOME_REASONS``), and a note when the reason is "other".
    """
    if outcome not in OUTCOMES:
        return "outcome"
    if not reason:
        return "reason_missing"
    if reason not in OUTCOME_REASONS:
        return "reason"
    if reason == "other" and not note.strip():
        return "note_needed"
    if len(note) > 2000:
        return "note_too_long"
    return None


def check_outcome(outcome: str, reason: str | None, note: str) -> None:
    """Raises WorkflowError for an outcome, reason or note a supervisor's decision cannot have."""
    problem = outcome_problem(outcome, reason, note)
    if problem is not None:
        raise WorkflowError(OUTCOME_PROBLEMS[problem].format(outcome=outcome, reason=reason))


def check_four_eyes(crossing: Crossing, supervisor_id: str, four_eyes: bool) -> None:
    """Raises FourEyes when ``four_eyes`` (``security.four_eyes``) is on and ``supervisor_id`` recorded ``crossing``.

    The one four-eyes rule: ``resolve`` applies it in its transaction, and the touchscreen
    and the CLI ask it before the PIN is checked (the same person cannot be the second pair
    of eyes, so their PIN is not worth a try towards a lockout).
    """
    if four_eyes and crossing.officer_id == supervisor_id:
        raise FourEyes(f"supervisor {supervisor_id} recorded crossing {crossing.id}: another supervisor "
                       "must decide it (security.four_eyes)")


def resolve(store: Store, supervisor: Officer, crossing_id: str, outcome: str, note: str = "",
            now: datetime | None = None, *, reason: str | None, four_eyes: bool) -> Crossing:
    """A supervisor's outcome for a referred crossing, with the reason (``OUTCOME_REASONS``) and a note.

    ``reason`` and ``four_eyes`` have no default: every way in passes the supervisor's reason
    and the post's ``security.four_eyes``. With ``four_eyes``, the officer who recorded the
    crossing cannot decide it: another supervisor must (``check_four_eyes``). Raises Forbidden
    unless the officer is a supervisor, FourEyes for the recording officer under four eyes,
    NotFound for an unknown id, WorkflowError if the crossing was not referred, already has an
    outcome, or the outcome has no reason or a reason or note a decision cannot have (see
    ``outcome_problem``).
    """
    require_role(supervisor, "supervisor")
    check_outcome(outcome, reason, note)
    now = now or clock.utcnow()
    with store.transaction():
        current = get(store, crossing_id)
        if current.decision != "referred":
            raise WorkflowError(f"crossing {crossing_id} was {current.decision}, not referred: nothing to resolve")
        if current.outcome is not None:
            raise WorkflowError(
                f"crossing {crossing_id} already has outcome {current.outcome} by {current.outcome_by}"
            )
        check_four_eyes(current, supervisor.id, four_eyes)
        store.conn.execute(
            "UPDATE crossings SET outcome = ?, outcome_by = ?, outcome_at = ?, outcome_note = ?, outcome_reason = ? "
            "WHERE id = ?",
            (outcome, supervisor.id, clock.iso(now), note, reason, crossing_id),
        )
        updated = get(store, crossing_id)
        if not updated.training:
            outbox.enqueue(store, "crossing_outcome", crossing_id, {
                "id": crossing_id, "seq": updated.seq, "outcome": outcome,
                "outcome_by": supervisor.id, "outcome_at": updated.outcome_at, "outcome_note": note,
                "outcome_reason": reason,
            })
        audit.append(store, supervisor.id, "crossing.resolve", crossing_id, {"outcome": outcome, "reason": reason})
    return updated


def open_referrals(store: Store, limit: int = 100, training: bool | None = None) -> list[Crossing]:
    """Referred crossings still waiting for a supervisor's outcome, of any day, oldest first."""
    clauses = ["decision = 'referred'", "outcome IS NULL"]
    params: list[int] = []
    if training is not None:
        clauses.append("training = ?")
        params.append(int(training))
    with store.lock:
        rows = list(store.db.query(
            f"SELECT * FROM crossings WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?", [*params, limit]))
    captures = biometrics.of_crossings(store, [row["id"] for row in rows])
    return [_from_row(row, captures[row["id"]]) for row in rows]


def count_open_referrals(store: Store, training: bool | None = None) -> int:
    """How many referred crossings (any day) wait for a supervisor's outcome."""
    sql = "SELECT count(*) FROM crossings WHERE decision = 'referred' AND outcome IS NULL"
    params: list[int] = []
    if training is not None:
        sql += " AND training = ?"
        params.append(int(training))
    with store.lock:
        return int(store.conn.execute(sql, params).fetchone()[0])


def _from_row(row: dict[str, Any], captures: list[Capture]) -> Crossing:
    """A crossing from its row of the crossings table (JSON columns decoded)."""
    return Crossing(
        id=row["id"], seq=row["seq"], post_id=row["post_id"], kiosk_id=row["kiosk_id"],
        officer_id=row["officer_id"], direction=row["direction"], recorded_at=row["recorded_at"],
        training=bool(row["training"]), document_source=row["document_source"],
        document=Document(**{name: row[name] for name in Document.__dataclass_fields__}),
        document_checks=DocumentChecks.from_dict(json.loads(row["document_checks"])),
        screening=ScreeningResult.from_dict(json.loads(row["screening"])),
        decision=row["decision"], note=row["note"], outcome=row.get("outcome"), outcome_by=row.get("outcome_by"),
        outcome_at=row.get("outcome_at"), outcome_note=row.get("outcome_note"),
        outcome_reason=row.get("outcome_reason"),
        unavailable=json.loads(row.get("unavailable") or "{}"), captures=captures,
        purpose=row.get("purpose"), visa_number=row.get("visa_number"), visa_type=row.get("visa_type"),
        request_id=row.get("request_id"), time_source=row.get("time_source"),
        time_uncertainty_s=row.get("time_uncertainty_s"), boot_id=row.get("boot_id"), boot_s=row.get("boot_s"),
    )


def get(store: Store, crossing_id: str) -> Crossing:
    """One crossing by id. Raises NotFound."""
    with store.lock:
        rows = list(store.db.query("SELECT * FROM crossings WHERE id = ?", [crossing_id]))
    if not rows:
        raise NotFound(f"no crossing {crossing_id!r}")
    return _from_row(rows[0], biometrics.of_crossings(store, [crossing_id])[crossing_id])


def list_crossings(store: Store, since: str | None = None, until: str | None = None,
                   limit: int = 100, offset: int = 0, training: bool | None = None) -> list[Crossing]:
    """Crossings newest first, optionally between two ISO UTC timestamps [since, until)."""
    clauses: list[str] = []
    params: list[str | int] = []
    if since:
        clauses.append("recorded_at >= ?")
        params.append(since)
    if until:
        clauses.append("recorded_at < ?")
        params.append(until)
    if training is not None:
        clauses.append("training = ?")
        params.append(int(training))
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    with store.lock:
        rows = list(store.db.query(
            f"SELECT * FROM crossings {where} ORDER BY seq DESC LIMIT ? OFFSET ?", [*params, limit, offset]
        ))
    captures = biometrics.of_crossings(store, [row["id"] for row in rows])
    return [_from_row(row, captures[row["id"]]) for row in rows]
