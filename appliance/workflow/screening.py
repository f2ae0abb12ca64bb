"""Screening one traveller against the watchlists in force: stolen/lost documents, persons by
name and birth date, and faces. ``screen`` is the one call the crossing workflow makes.

Each list version has index files (``appliance.lists.indexes``): documents are looked up
in the document index (filter in RAM, exact check memory-mapped), names in the fuzzy name
index, faces in the int8 face index; entry details come from SQLite in the same read
transaction that says which version is in force, so hits and versions always agree.

Scores (a base score times the factors that apply), on one 0-1 scale:

=============================================  =====
listed stolen/lost document (number + state)    1.0
person's listed document (number + issuer)      1.0  (0.8 when the list has no issuer)
surname and given names equal                   1.0
surname and given names equal, but swapped      0.85
surname equal, list has no given names          0.8
surname equal, traveller's given names unknown  0.75
phonetic match / close spelling (per part)      x0.95 / x Jaro-Winkler similarity
surname matches, given names differ             x0.5
birth date equal                                x1.0
birth date compatible (one side partial)        x0.9
birth date on one side only                     x0.8
birth date different                            x0.4
sex different (M against F)                     x0.8
face similarity s >= face threshold t           T + (1 - T) (s - t) / (1 - t), T the hit threshold
=============================================  =====

Nationality is shown in the explanation but does not change the score (dual nationals
travel on either passport).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from appliance.config import ScreeningSection
from appliance.domain import clock
from appliance.domain.dates import parse_partial_date
from appliance.domain.fields import (
    SEXES,
    is_document_number,
    is_document_type,
    is_state_code,
    normalise_document_number,
)
from appliance.domain.models import Hit, ScreeningResult, Traveller
from appliance.domain.names import normalise
from appliance.domain.reasons import Reason, reason, texts
from appliance.errors import KioskError, WorkflowError
from appliance.lists import indexes
from appliance.lists.bundle import short_model
from appliance.lists.status import age_text
from appliance.storage.store import Store

DOCUMENT_LISTED = 1.0
PERSON_DOCUMENT = 1.0
PERSON_DOCUMENT_NUMBER_ONLY = 0.8
BIRTH_DATE_EQUAL = 1.0
BIRTH_DATE_COMPATIBLE = 0.9
BIRTH_DATE_ONE_SIDE = 0.8
BIRTH_DATE_DIFFERENT = 0.4
SEX_DIFFERENT = 0.8
NAME_MATCHES = 20  # listed names scored in full per persons list (after candidate generation)
FACE_MATCHES = 10

Date = tuple[int, int | None, int | None]


@dataclass(frozen=True)
class _Query:
    surname: str
    given_names: str
    raw_surname: str | None
    raw_given_names: str | None
    birth_date: Date | None
    nationality: str | None
    sex: str | None
    document_issuer: str | None
    document_type: str | None
    document_number: str | None
    face: np.ndarray | None


def _code(value: str | None) -> str | None:
    text = (value or "").replace("<", "").strip().upper()
    return text or None


def _face(embedding: Any, problems: list[str]) -> np.ndarray | None:
    if embedding is None:
        return None
    try:
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        problems.append("face_embedding: not a vector of numbers")
        return None
    if vector.size == 0 or not np.all(np.isfinite(vector)) or not np.any(vector):
        problems.append("face_embedding: empty, zero or not finite")
        return None
    return vector


def _prepare(traveller: Traveller, face_embedding: Any) -> _Query:
    """Normalised search values; raises WorkflowError naming every field that is malformed."""
    problems = []
    birth_date = None
    if traveller.birth_date:
        try:
            birth_date = parse_partial_date(traveller.birth_date.strip())
        except ValueError as exc:
            problems.append(f"birth_date: {exc}")
    codes: dict[str, str | None] = {}
    for name in ("nationality", "document_issuer"):
        code = codes[name] = _code(getattr(traveller, name))
        if code and not is_state_code(code):
            problems.append(f"{name}: {getattr(traveller, name)!r} is not an ICAO code of 1-3 letters A-Z")
    sex = _code(traveller.sex)
    if sex and sex not in SEXES:
        problems.append(f"sex: {traveller.sex!r} is not M, F or X")
    document_type = _code(traveller.document_type)
    if document_type and not is_document_type(document_type):
        problems.append(f"document_type: {traveller.document_type!r} is not an ICAO document code of 1-2 letters")
    number = normalise_document_number(traveller.document_number) or None
    if number and not is_document_number(number):
        problems.append(f"document_number: {traveller.document_number!r} has characters other than A-Z and 0-9")
    face = _face(face_embedding, problems)
    if problems:
        raise WorkflowError("cannot screen the traveller: " + "; ".join(problems))
    return _Query(
        surname=normalise(traveller.surname), given_names=normalise(traveller.given_names),
        raw_surname=traveller.surname, raw_given_names=traveller.given_names, birth_date=birth_date,
        nationality=codes["nationality"], sex=sex, document_issuer=codes["document_issuer"],
        document_type=document_type, document_number=number, face=face,
    )


@contextlib.contextmanager
def _snapshot(store: Store) -> Iterator[sqlite3.Connection]:
    """One read transaction, so the hits and the list versions reported come from the same
    state even if an import commits (from another process) half-way through."""
    with store.lock:
        if store.conn.in_transaction:
            yield store.conn
            return
        store.conn.execute("BEGIN")
        try:
            yield store.conn
        finally:
            store.conn.execute("COMMIT")


@dataclass(frozen=True)
class _List:
    name: str
    kind: str
    version: str
    index_dir: str | None
    age_seconds: int
    source: str
    face_model: str | None


def screen(store: Store, traveller: Traveller, settings: ScreeningSection, threshold: float | None = None, *,
           face_embedding: Any = None, face_model: str | None = None,
           now: datetime | None = None) -> ScreeningResult:
    """Screen one traveller against every list in force; never needs the network.

    Document lists are consulted when the document number and issuer are known, persons
    lists when a name, a document number or a face embedding is. ``face_model`` is the
    SHA-256 of the embedder that made ``face_embedding`` (None: unknown, e.g. a client's
    embedding): a persons list whose faces name another model is not searched by face,
    only by name and document, and a warning says so (``skipped_face_lists``; with
    ``face_model_mismatch = "refer"`` the traveller is referred). When either model is
    unknown the faces are searched as before. ``settings`` is the config's ``screening``
    section (thresholds, stale-list age and policies, index directory); ``threshold``
    overrides its hit threshold.
    Raises WorkflowError for a malformed traveller field or embedding, or a threshold
    outside [0, 1]. A list whose index cannot be opened is reported (and the traveller
    referred), never silently skipped.
    """
    threshold = settings.threshold if threshold is None else threshold
    if not 0.0 <= threshold <= 1.0:
        raise WorkflowError(f"threshold {threshold} is not between 0 and 1")
    face_threshold = settings.face_threshold
    max_age = settings.max_list_age_hours
    root = settings.index_dir or indexes.default_root(store)
    query = _prepare(traveller, face_embedding)
    now = now or clock.utcnow()
    _ensure_indexes(store, root)
    unavailable: list[str] = []
    skipped: list[dict[str, str]] = []
    with _snapshot(store) as conn:
        in_force = [
            _List(name, kind, version, index_dir,
                  int((now - clock.parse_iso(published_at or imported_at)).total_seconds()), source, listed_model)
            for name, kind, version, index_dir, imported_at, published_at, source, listed_model in conn.execute(
                "SELECT name, kind, version, index_dir, imported_at, published_at, source, face_model FROM lists "
                "ORDER BY name")
        ]
        consulted: dict[str, str] = {}
        hits: list[Hit] = []
        best_face: dict[str, float] = {}  # list -> the closest listed face's cosine
        for item in in_force:
            if item.kind == "documents" and not (query.document_number and query.document_issuer):
                continue
            list_query = query
            if (item.kind == "persons" and query.face is not None and face_model and item.face_model
                    and item.face_model != face_model):
                # Vectors of two models can have the same length and still mean nothing to
                # each other: a search would find no one and look like a clean result.
                list_query = dataclasses.replace(query, face=None)
                skipped.append({"list": item.name, "face_model": item.face_model})
            if item.kind == "persons" and not (list_query.surname or list_query.document_number
                                               or list_query.face is not None
                                               or _has_letters(list_query.raw_surname)):
                continue
            consulted[item.name] = item.version
            try:
                index = indexes.open_index(item.kind, indexes.require(item.index_dir, item.name, item.version))
                if item.kind == "documents":
                    hits += _document_hits(index, query, item.name)
                else:
                    hits += _person_hits(conn, index, list_query, item.name, threshold, face_threshold, best_face)
            except KioskError as exc:
                unavailable.append(f"list {item.name} version {item.version} could not be consulted: {exc}")
    stale = {item.name: age_text(item.age_seconds) for item in in_force if item.age_seconds > max_age * 3600}
    warnings, refer = _warnings_and_referral(settings, unavailable, stale, skipped, face_model)
    kept = [hit for hit in hits if hit.score >= threshold]
    kept.sort(key=lambda hit: (-hit.score, hit.kind != "document", hit.list, hit.entry_id))
    closest = max(((similarity, name) for name, similarity in best_face.items()), default=None)
    return ScreeningResult(hits=kept, lists=dict(sorted(consulted.items())), stale=stale, warnings=warnings,
                           refer=refer, skipped_face_lists=skipped, best_face=closest)


def _warnings_and_referral(settings: ScreeningSection, unavailable: list[str], stale: dict[str, str],
                           skipped: list[dict[str, str]], face_model: str | None) -> tuple[list[str], str | None]:
    """What the officer is told about the lists themselves, and the first reason that refers the traveller.

    A list that could not be consulted always refers; a stale list and a face model that does
    not match refer when their policy says so.
    """
    warnings = list(unavailable)
    refer = unavailable[0] + ": refer to secondary" if unavailable else None
    if stale:
        limit = age_text(int(settings.max_list_age_hours * 3600))
        text = "stale list(s): " + ", ".join(f"{name} is {age} old" for name, age in stale.items()) + \
               f" (stale after {limit})"
        warnings.append(text)
        if settings.stale_policy == "refer" and refer is None:
            refer = text + ": the stale-list policy refers every traveller to secondary"
    for skipped_list in skipped:
        text = (f"face not screened against list {skipped_list['list']}: its faces were embedded by model "
                f"{short_model(skipped_list['face_model'])}, this kiosk's photo by {short_model(face_model)}")
        warnings.append(text)
        if settings.face_model_mismatch == "refer" and refer is None:
            refer = text + ": the face-model policy refers the traveller to secondary"
    return warnings, refer


def _has_letters(text: str | None) -> bool:
    return bool(text and any(ch.isalpha() for ch in text))


def _ensure_indexes(store: Store, root: Path) -> None:
    """Build the index of a list that has none yet (imported before this version of the
    software, or its directory lost) from its SQLite rows, before screening starts."""
    with store.lock:
        missing = [row for row in store.conn.execute("SELECT name, index_dir FROM lists")
                   if not row[1] or not Path(row[1]).is_dir()]
    for name, _ in missing:
        try:
            indexes.rebuild(store, name, root)
        except KioskError:
            pass  # reported by screen() as a list that could not be consulted


def _document_hits(index: Any, query: _Query, list_name: str) -> list[Hit]:
    records = index.lookup(query.document_issuer, query.document_number)
    if not records:
        return []
    # A document reported twice in one list (lost, then stolen) is one hit with both reports.
    document = f"{query.document_issuer} {query.document_number}"
    parts: list[str] = []
    reasons: list[Reason] = []
    for record in records:
        found = [reason("document.reported", document=document, reason=record.reason) if record.reason
                 else reason("document.listed", document=document)]
        # The type is shown, never required: a stolen passport presented as an ID card
        # (or listed with the wrong type) must still be stopped.
        if record.document_type:
            found.append(reason("document.listed_type", type=record.document_type))
            if query.document_type and query.document_type != record.document_type:
                found.append(reason("document.presented_as", type=query.document_type))
        parts.append(texts(found))
        reasons += found
    return [Hit(list=list_name, entry_id=f"{query.document_issuer}:{query.document_number}", kind="document",
                score=DOCUMENT_LISTED, explanation="; ".join(parts), reasons=reasons)]


def _iso(value: Date) -> str:
    """A (year, month, day) back to ISO, as partial as it is: "1980", "1980-05", "1980-05-31"."""
    return "-".join(f"{part:02d}" if index else f"{part:04d}" for index, part in enumerate(value) if part is not None)


def _birth_date(listed: str, traveller: Date | None) -> tuple[float, Reason]:
    if not listed:
        return BIRTH_DATE_ONE_SIDE, reason("birth_date.not_listed")
    if traveller is None:
        return BIRTH_DATE_ONE_SIDE, reason("birth_date.traveller_unknown", listed=listed)
    on_list = parse_partial_date(listed)
    for listed_part, traveller_part in zip(on_list, traveller):
        if listed_part is None or traveller_part is None:
            if traveller_part is None:
                # The officer sees the match rests on the part of the date the traveller's
                # document gives (a year, or year and month).
                return BIRTH_DATE_COMPATIBLE, reason("birth_date.compatible_partial", listed=listed,
                                                     traveller=_iso(traveller))
            return BIRTH_DATE_COMPATIBLE, reason("birth_date.compatible", listed=listed)
        if listed_part != traveller_part:
            return BIRTH_DATE_DIFFERENT, reason("birth_date.differs", listed=listed)
    return BIRTH_DATE_EQUAL, reason("birth_date.equal")


# One piece of evidence for a hit: its score, its English text, and the same as reasons.
Evidence = tuple[float, str, list[Reason]]


def _person_evidence(query: _Query, base: float, evidence: str, evidence_reasons: list[Reason], birth_date: str,
                     sex: str, nationality: str) -> Evidence:
    """Score and explanation of a name match, weighed by birth date, sex and nationality."""
    factor, dob = _birth_date(birth_date, query.birth_date)
    score, found = base * factor, [dob]
    if sex in ("M", "F") and query.sex in ("M", "F") and sex != query.sex:
        score *= SEX_DIFFERENT
        found.append(reason("sex.differs", sex=sex))
    if nationality and query.nationality:
        # Shown only: dual nationals travel on either passport, so it neither adds nor removes.
        same = nationality == query.nationality
        found.append(reason("nationality.equal") if same else reason("nationality.differs", nationality=nationality))
    return score, ", ".join([evidence, texts(found)]), [*evidence_reasons, *found]


def _details(conn: sqlite3.Connection, list_name: str, entry_ids: list[str]) -> dict[str, tuple]:
    """entry_id -> (birth_date, sex, nationality, reason), by primary key."""
    found = {}
    for start in range(0, len(entry_ids), 500):
        chunk = entry_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            "SELECT entry_id, birth_date, sex, nationality, reason FROM watchlist_persons "
            f"WHERE list = ? AND entry_id IN ({marks})", [list_name, *chunk],
        ):
            found[row[0]] = row[1:]
    return found


def _person_hits(conn: sqlite3.Connection, index: Any, query: _Query, list_name: str, threshold: float,
                 face_threshold: float, best_face: dict[str, float] | None = None) -> list[Hit]:
    """The list's hits for ``query``; ``best_face`` gets the list's closest face cosine, hit or not."""
    # entry_id -> evidence kind -> (score, text, reasons)
    best: dict[str, dict[str, Evidence]] = {}

    def consider(entry_id: str, kind: str, score: float, text: str, found: list[Reason]) -> None:
        evidence = best.setdefault(entry_id, {})
        if kind not in evidence or score > evidence[kind][0]:
            evidence[kind] = (score, text, found)

    names: list[tuple[str, float, str, list[Reason]]] = []
    if _has_letters(query.raw_surname):
        year = query.birth_date[0] if query.birth_date else None
        for match in index.names.search(query.raw_surname, query.raw_given_names, birth_year=year,
                                        limit=NAME_MATCHES):
            evidence = f"alias {match.listed_name}: {match.evidence}" if match.is_alias else match.evidence
            found = [match.reason] if match.reason is not None else []
            if match.is_alias:
                found.insert(0, reason("name.alias", name=match.listed_name))
            names.append((index.entry_ids[match.entry], match.score, evidence, found))
    faces: list[tuple[str, float, Reason]] = []
    if query.face is not None and index.faces is not None:
        if query.face.shape[0] != index.faces.dim:
            raise WorkflowError(f"face embedding has {query.face.shape[0]} dimensions, list {list_name}'s faces "
                                f"have {index.faces.dim}")
        for match in index.faces.search(query.face, k=FACE_MATCHES):
            if best_face is not None and match.similarity > best_face.get(list_name, -2.0):
                best_face[list_name] = round(float(match.similarity), 4)
            if match.similarity >= face_threshold:
                span = max(1.0 - face_threshold, 1e-9)
                score = min(1.0, threshold + (1.0 - threshold) * (match.similarity - face_threshold) / span)
                faces.append((index.entry_ids[match.row], score,
                              reason("face.similar", similarity=f"{match.similarity:.2f}",
                                     threshold=f"{face_threshold:.2f}")))
    details = _details(conn, list_name, sorted({name[0] for name in names} | {face[0] for face in faces}))
    reasons: dict[str, str] = {}
    for entry_id, base, evidence, found in names:
        if entry_id in details:
            birth_date, sex, nationality, listed_for = details[entry_id]
            consider(entry_id, "name", *_person_evidence(query, base, evidence, found, birth_date, sex, nationality))
            reasons[entry_id] = listed_for
    for entry_id, score, face in faces:
        if entry_id in details:
            consider(entry_id, "face", score, face.text(), [face])
            reasons[entry_id] = details[entry_id][3]
    if query.document_number:
        rows = conn.execute(
            "SELECT entry_id, document_issuer, reason FROM watchlist_persons WHERE document_number = ? AND list = ?",
            (query.document_number, list_name),
        ).fetchall()
        for entry_id, issuer, listed_for in rows:
            if issuer and issuer == query.document_issuer:
                score, equal = PERSON_DOCUMENT, reason("person.document", issuer=issuer, number=query.document_number)
            elif not issuer:
                score, equal = PERSON_DOCUMENT_NUMBER_ONLY, reason("person.document_number",
                                                                   number=query.document_number)
            else:
                continue
            consider(entry_id, "document", score, equal.text(), [equal])
            reasons[entry_id] = listed_for
    hits = []
    for entry_id, evidence in best.items():
        ranked = sorted(evidence.values(), key=lambda item: (item[0], item[1]), reverse=True)
        explanation = "; ".join(text for _, text, _ in ranked)
        hit_reasons = [item for _, _, found in ranked for item in found]
        if reasons.get(entry_id):
            listed = reason("hit.listed_for", reason=reasons[entry_id])
            explanation += "; " + listed.text()
            hit_reasons.append(listed)
        hits.append(Hit(list=list_name, entry_id=entry_id, kind="person", score=round(ranked[0][0], 3),
                        explanation=explanation, reasons=hit_reasons))
    return hits
