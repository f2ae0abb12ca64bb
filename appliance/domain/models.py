"""The workflow's records: a traveller, a screening and its hits, a travel document, a crossing.

Each record is a frozen dataclass whose ``to_dict()`` is its JSON shape at the edges (API,
CLI ``--json``, uplink payloads, templates): the same keys in the same order as the dicts
the workflow passed around before these types existed, so clients and HQ see no change.
"""

from __future__ import annotations

import builtins
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from appliance.domain.reasons import Reason, unavailable_reason


@dataclass(frozen=True)
class Traveller:
    """What is known of the traveller; every field optional.

    birth_date is ISO, full or partial ("1980-01-01", "1980-01", "1980"); codes are ICAO
    (a '<' filler from an MRZ is tolerated); names may be MRZ-style or as written, in
    any script.
    """

    surname: str | None = None
    given_names: str | None = None
    birth_date: str | None = None
    nationality: str | None = None
    sex: str | None = None
    document_issuer: str | None = None
    document_type: str | None = None
    document_number: str | None = None


@dataclass(frozen=True)
class Hit:
    """One list entry the traveller may be: which list and entry, how sure, and why."""

    list: str
    entry_id: str
    kind: Literal["document", "person"]
    score: float
    explanation: str
    # ``explanation`` as codes with parameters, for a screen in another language (empty on
    # a hit screened before the codes existed).
    reasons: builtins.list[Reason] = field(default_factory=builtins.list)

    def to_dict(self) -> dict[str, Any]:
        return {"list": self.list, "entry_id": self.entry_id, "kind": self.kind, "score": self.score,
                "explanation": self.explanation, "reasons": [item.to_dict() for item in self.reasons]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        return cls(list=data["list"], entry_id=data["entry_id"], kind=data["kind"], score=data["score"],
                   explanation=data["explanation"],
                   reasons=[Reason.from_dict(item) for item in data.get("reasons") or []])


@dataclass(frozen=True)
class FaceScreening:
    """How a crossing's face was screened: the ``face`` record of its screening.

    ``source`` says where the embedding came from: "request" (the client sent it) or
    "photo" (the kiosk embedded the linked photo ``capture_id``). ``error`` says why the
    photo was not screened; otherwise ``model`` ({"embedder", "detector"} SHA-256s),
    ``dim``, ``face_box`` and ``detector_score`` describe the embedding. ``skipped_lists``
    ([{"list", "face_model"}]) are the persons lists not searched by face because another
    model embedded their faces. ``reason`` is ``error`` as a code with parameters
    (``face.no_model``, ``face.no_photo``, a quality gate ``face.<gate>``, ``face.error``);
    ``threshold`` the cosine a listed face had to reach; ``variant`` the model pack's embedder;
    ``best_similarity`` the highest cosine any listed face reached (hit or not) and ``best_list``
    its list, None when no listed face was searched.
    """

    source: Literal["request", "photo"]
    capture_id: str | None = None
    error: str | None = None
    model: dict[str, str | None] | None = None
    dim: int | None = None
    face_box: list[float] | None = None
    detector_score: float | None = None
    skipped_lists: list[dict[str, str]] = field(default_factory=list)
    reason: dict[str, Any] | None = None
    threshold: float | None = None
    variant: str | None = None
    best_similarity: float | None = None
    best_list: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Only the keys that apply, in the order they became known: a client's embedding
        # is just {"source": "request"}.
        data: dict[str, Any] = {"source": self.source}
        if self.capture_id is not None:
            data["capture_id"] = self.capture_id
        if self.error is not None:
            data["error"] = self.error
        if self.reason is not None:
            data["reason"] = self.reason
        if self.model is not None:
            data.update(model=self.model, dim=self.dim, face_box=self.face_box, detector_score=self.detector_score)
        if self.threshold is not None:
            data["threshold"] = self.threshold
        if self.variant is not None:
            data["variant"] = self.variant
        if self.skipped_lists:
            data["skipped_lists"] = self.skipped_lists
        if self.best_similarity is not None:
            data.update(best_similarity=self.best_similarity, best_list=self.best_list)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceScreening:
        return cls(source=data["source"], capture_id=data.get("capture_id"), error=data.get("error"),
                   model=data.get("model"), dim=data.get("dim"), face_box=data.get("face_box"),
                   detector_score=data.get("detector_score"), skipped_lists=list(data.get("skipped_lists", [])),
                   reason=data.get("reason"), threshold=data.get("threshold"), variant=data.get("variant"),
                   best_similarity=data.get("best_similarity"), best_list=data.get("best_list"))


@dataclass(frozen=True)
class ScreeningResult:
    """Hits at or above the threshold, best first; the version of every list consulted;
    lists that are stale or could not be consulted; and, when the list policy says so,
    why every traveller must be referred. ``skipped_face_lists`` ([{"list", "face_model"}])
    are the persons lists whose faces came from another model than the query's; the crossing
    records them in its ``face`` record (``to_dict`` leaves them out: its shape is older).
    ``face`` is set only on a crossing's screening."""

    hits: list[Hit]
    lists: dict[str, str]
    stale: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    refer: str | None = None
    skipped_face_lists: list[dict[str, str]] = field(default_factory=list)
    face: FaceScreening | None = None
    # (similarity, list) of the closest listed face, hit or not; the crossing keeps it in its face record.
    best_face: tuple[float, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"hits": [hit.to_dict() for hit in self.hits], "lists": dict(self.lists),
                                "stale": dict(self.stale), "warnings": list(self.warnings), "refer": self.refer}
        if self.face is not None:
            data["face"] = self.face.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScreeningResult:
        face = FaceScreening.from_dict(data["face"]) if data.get("face") is not None else None
        return cls(hits=[Hit.from_dict(hit) for hit in data["hits"]], lists=dict(data["lists"]),
                   stale=dict(data.get("stale", {})), warnings=list(data.get("warnings", [])),
                   refer=data.get("refer"), skipped_face_lists=face.skipped_lists if face is not None else [],
                   face=face)


@dataclass(frozen=True)
class Document:
    """The travel document as read from its MRZ or typed by the officer (``mrz`` and
    ``document_format`` are None when typed); codes ICAO, names as in the MRZ."""

    mrz: str | None
    document_format: str | None
    document_code: str | None
    issuing_state: str | None
    document_number: str | None
    surname: str | None
    given_names: str | None
    nationality: str | None
    birth_date: str | None
    sex: str | None
    expiry_date: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def traveller(self) -> Traveller:
        """The traveller this document describes, as screening takes it (empty fields unknown)."""
        return Traveller(
            surname=self.surname or None,
            given_names=self.given_names or None,
            birth_date=self.birth_date,
            nationality=self.nationality or None,
            sex=self.sex,
            document_issuer=self.issuing_state or None,
            document_type=self.document_code or None,
            document_number=self.document_number or None,
        )


@dataclass(frozen=True)
class DocumentChecks:
    """What the document checks found: failed MRZ check digits, expiry, and every problem in words."""

    failed_checks: list[str]
    expired: bool
    problems: list[str]
    # ``problems`` as codes with parameters, in the same order (empty on a crossing recorded
    # before the codes existed).
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"failed_checks": list(self.failed_checks), "expired": self.expired, "problems": list(self.problems),
                "reasons": [item.to_dict() for item in self.reasons]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentChecks:
        return cls(failed_checks=list(data["failed_checks"]), expired=data["expired"], problems=list(data["problems"]),
                   reasons=[Reason.from_dict(item) for item in data.get("reasons") or []])


@dataclass(frozen=True)
class Capture:
    """A face photo or fingerprint template linked to a crossing (its bytes stay encrypted in the store)."""

    id: str
    kind: str
    format: str

    def to_dict(self) -> dict[str, str]:
        # A crossing names its captures by id and kind; the format travels with each
        # capture's own uplink message.
        return {"id": self.id, "kind": self.kind}


@dataclass(frozen=True)
class Crossing:
    """One recorded crossing as stored: who, where, which document, what screening found,
    the decision and, for a referral, the supervisor's outcome."""

    id: str
    seq: int
    post_id: str
    kiosk_id: str
    officer_id: str
    direction: str
    recorded_at: str
    training: bool
    document_source: Literal["mrz", "manual"]
    document: Document
    document_checks: DocumentChecks
    screening: ScreeningResult
    decision: str
    note: str
    outcome: str | None
    outcome_by: str | None
    outcome_at: str | None
    outcome_note: str | None
    # {"photo": reason, "fingerprint": reason}: why a capture is missing.
    unavailable: dict[str, str]
    captures: list[Capture]
    # The purpose of travel (a code of [crossings] purposes), a visa holder's visa, and the
    # client's id of the record call (a repeat of the call answers this crossing).
    purpose: str | None = None
    visa_number: str | None = None
    visa_type: str | None = None
    request_id: str | None = None
    # The supervisor's reason for the outcome (a code of workflow.crossings.OUTCOME_REASONS).
    outcome_reason: str | None = None
    # Which source vouched for recorded_at (ntp, rtc, gps, hq, supervisor; "system": none since
    # boot), how far it may be off (None: unknown), and the boot reference HQ re-anchors from.
    time_source: str | None = None
    time_uncertainty_s: float | None = None
    boot_id: str | None = None
    boot_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The crossing's JSON: the crossings table's columns in their order, then its captures."""
        return {
            "id": self.id, "seq": self.seq, "post_id": self.post_id, "kiosk_id": self.kiosk_id,
            "officer_id": self.officer_id, "direction": self.direction, "recorded_at": self.recorded_at,
            "training": self.training, "document_source": self.document_source,
            **self.document.to_dict(),
            "document_checks": self.document_checks.to_dict(), "screening": self.screening.to_dict(),
            "decision": self.decision, "note": self.note, "outcome": self.outcome, "outcome_by": self.outcome_by,
            "outcome_at": self.outcome_at, "outcome_note": self.outcome_note, "unavailable": dict(self.unavailable),
            "captures": [capture.to_dict() for capture in self.captures],
            # ``unavailable`` as codes with parameters, beside the texts HQ already reads.
            "unavailable_reasons": {kind: unavailable_reason(text).to_dict() for kind, text in self.unavailable.items()},
            "purpose": self.purpose, "visa_number": self.visa_number, "visa_type": self.visa_type,
            "request_id": self.request_id, "outcome_reason": self.outcome_reason,
            "time_source": self.time_source, "time_uncertainty_s": self.time_uncertainty_s,
            "boot_id": self.boot_id, "boot_s": self.boot_s,
        }


# The order a just-recorded crossing has always been answered in: the order its row is
# written (seq is drawn last, in the transaction), not the table's column order.
_RECORDED_ORDER = (
    "id", "post_id", "kiosk_id", "officer_id", "direction", "recorded_at", "training", "document_source",
    *Document.__dataclass_fields__, "document_checks", "screening", "decision", "note", "unavailable", "seq",
    "outcome", "outcome_by", "outcome_at", "outcome_note", "captures", "unavailable_reasons",
    "purpose", "visa_number", "visa_type", "request_id", "outcome_reason",
    "time_source", "time_uncertainty_s", "boot_id", "boot_s",
)


@dataclass(frozen=True)
class RecordedCrossing:
    """A crossing just recorded, with the reason for its decision that the officer is shown
    (not stored: the decision and the screening it rests on are)."""

    crossing: Crossing
    decision_reason: str
    # The same document's crossing in the same direction shortly before ({id, seq,
    # recorded_at, officer_id}): a likely double entry, or a real one; the officer is warned.
    repeat_of: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The crossing's JSON in the order it was written, then ``decision_reason`` and ``repeat_of``; also HQ's payload."""
        stored = self.crossing.to_dict()
        return {**{key: stored[key] for key in _RECORDED_ORDER}, "decision_reason": self.decision_reason,
                "repeat_of": self.repeat_of}
