"""Screening one traveller against the watchlists in force: stolen/lost documents and persons.

This is the simple, exact engine: indexed lookups of the normalised document number and
of normalised name keys (``watchlist_person_names``), scored by how much of the evidence
agrees. ``screen`` and its types are the interface the crossing workflow uses; a fuzzy,
phonetic and face engine can replace the internals behind it.

Scores (the product of a base score and the factors that apply):

=============================================  =====
listed stolen/lost document (number + state)    1.0
person's listed document (number + issuer)      1.0  (0.8 when the list has no issuer)
surname and given names equal                   1.0
surname and given names equal, but swapped      0.85
surname equal, list has no given names          0.8
birth date equal                                x1.0
birth date compatible (one side partial)        x0.9
birth date on one side only                     x0.8
birth date different                            x0.4
sex different (M against F)                     x0.8
=============================================  =====
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Literal

from .errors import WorkflowError
from .names import display_key, name_key, normalise
from .store import Store
from .watchlist import (SEXES, is_document_number, is_document_type, is_state_code, normalise_document_number,
                        parse_partial_date)

DEFAULT_THRESHOLD = 0.7

DOCUMENT_LISTED = 1.0
PERSON_DOCUMENT = 1.0
PERSON_DOCUMENT_NUMBER_ONLY = 0.8
NAME_EQUAL = 1.0
NAME_SWAPPED = 0.85
SURNAME_ONLY = 0.8
BIRTH_DATE_EQUAL = 1.0
BIRTH_DATE_COMPATIBLE = 0.9
BIRTH_DATE_ONE_SIDE = 0.8
BIRTH_DATE_DIFFERENT = 0.4
SEX_DIFFERENT = 0.8

Date = tuple[int, int | None, int | None]


@dataclass(frozen=True)
class Traveller:
    """What is known of the traveller; every field optional.

    birth_date is ISO, full or partial ("1980-01-01", "1980-01", "1980"); codes are ICAO
    (a '<' filler from an MRZ is tolerated); names may be MRZ-style or as written.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScreeningResult:
    """Hits at or above the threshold, best first, and the version of every list consulted."""

    hits: list[Hit]
    lists: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"hits": [hit.to_dict() for hit in self.hits], "lists": dict(self.lists)}


@dataclass(frozen=True)
class _Query:
    surname: str
    given_names: str
    birth_date: Date | None
    nationality: str | None
    sex: str | None
    document_issuer: str | None
    document_type: str | None
    document_number: str | None


def _code(value: str | None) -> str | None:
    text = (value or "").replace("<", "").strip().upper()
    return text or None


def _prepare(traveller: Traveller) -> _Query:
    """Normalised search values; raises WorkflowError naming every field that is malformed."""
    problems = []
    birth_date = None
    if traveller.birth_date:
        try:
            birth_date = parse_partial_date(traveller.birth_date.strip())
        except ValueError as exc:
            problems.append(f"birth_date: {exc}")
    codes = {}
    for field in ("nationality", "document_issuer"):
        codes[field] = _code(getattr(traveller, field))
        if codes[field] and not is_state_code(codes[field]):
            problems.append(f"{field}: {getattr(traveller, field)!r} is not an ICAO code of 1-3 letters A-Z")
    sex = _code(traveller.sex)
    if sex and sex not in SEXES:
        problems.append(f"sex: {traveller.sex!r} is not M, F or X")
    document_type = _code(traveller.document_type)
    if document_type and not is_document_type(document_type):
        problems.append(f"document_type: {traveller.document_type!r} is not an ICAO document code of 1-2 letters")
    number = normalise_document_number(traveller.document_number) or None
    if number and not is_document_number(number):
        problems.append(f"document_number: {traveller.document_number!r} has characters other than A-Z and 0-9")
    if problems:
        raise WorkflowError("cannot screen the traveller: " + "; ".join(problems))
    return _Query(
        surname=normalise(traveller.surname), given_names=normalise(traveller.given_names), birth_date=birth_date,
        nationality=codes["nationality"], sex=sex, document_issuer=codes["document_issuer"],
        document_type=document_type, document_number=number,
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


def screen(store: Store, traveller: Traveller, threshold: float = DEFAULT_THRESHOLD) -> ScreeningResult:
    """Screen one traveller against every list in force; never needs the network.

    Document lists are consulted when the document number and issuer are known, persons
    lists when a name or a document number is. Raises WorkflowError for a malformed
    traveller field or a threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise WorkflowError(f"threshold {threshold} is not between 0 and 1")
    query = _prepare(traveller)
    with _snapshot(store) as conn:
        in_force = conn.execute("SELECT name, kind, version FROM lists ORDER BY name").fetchall()
        consulted: dict[str, str] = {}
        hits: list[Hit] = []
        document_lists = [name for name, kind, _ in in_force if kind == "documents"]
        if query.document_number and query.document_issuer and document_lists:
            hits += _document_hits(conn, query, set(document_lists))
            consulted.update({name: version for name, kind, version in in_force if kind == "documents"})
        person_lists = [name for name, kind, _ in in_force if kind == "persons"]
        if (query.surname or query.document_number) and person_lists:
            hits += _person_hits(conn, query, set(person_lists))
            consulted.update({name: version for name, kind, version in in_force if kind == "persons"})
    kept = [hit for hit in hits if hit.score >= threshold]
    kept.sort(key=lambda hit: (-hit.score, hit.kind != "document", hit.list, hit.entry_id))
    return ScreeningResult(hits=kept, lists=dict(sorted(consulted.items())))


def _document_hits(conn: sqlite3.Connection, query: _Query, lists: set[str]) -> list[Hit]:
    rows = conn.execute(
        "SELECT list, document_type, reason FROM watchlist_documents "
        "WHERE document_number = ? AND issuing_state = ? ORDER BY list, line",
        (query.document_number, query.document_issuer),
    ).fetchall()
    # A document reported twice in one list (lost, then stolen) is one hit with both reports.
    reports: dict[str, list[tuple[str, str]]] = {}
    for list_name, document_type, reason in rows:
        if list_name in lists:
            reports.setdefault(list_name, []).append((document_type, reason))
    hits = []
    for list_name, entries in reports.items():
        document = f"{query.document_issuer} {query.document_number}"
        parts = []
        for document_type, reason in entries:
            text = f"document {document} reported {reason}" if reason else f"document {document} listed"
            # The type is shown, never required: a stolen passport presented as an ID card
            # (or listed with the wrong type) must still be stopped.
            if document_type:
                text += f", listed as type {document_type}"
                if query.document_type and query.document_type != document_type:
                    text += f", presented as {query.document_type}"
            parts.append(text)
        hits.append(Hit(list=list_name, entry_id=f"{query.document_issuer}:{query.document_number}",
                        kind="document", score=DOCUMENT_LISTED, explanation="; ".join(parts)))
    return hits


def _name_lookups(query: _Query) -> dict[str, tuple[float, str]]:
    """name_key -> (base score, evidence) for every way the traveller's name can be listed."""
    if not query.surname:
        return {}
    lookups = {}
    if query.given_names:
        lookups[name_key(query.surname, query.given_names)] = (NAME_EQUAL, "surname and given names equal")
        lookups.setdefault(name_key(query.given_names, query.surname),
                           (NAME_SWAPPED, "surname and given names equal but swapped"))
    lookups.setdefault(name_key(query.surname, ""), (SURNAME_ONLY, "surname equal (no given names on the list)"))
    return lookups


def _birth_date(listed: str, traveller: Date | None) -> tuple[float, str]:
    if not listed:
        return BIRTH_DATE_ONE_SIDE, "no birth date on the list"
    if traveller is None:
        return BIRTH_DATE_ONE_SIDE, f"traveller's birth date not known (list: {listed})"
    on_list = parse_partial_date(listed)
    for listed_part, traveller_part in zip(on_list, traveller):
        if listed_part is None or traveller_part is None:
            return BIRTH_DATE_COMPATIBLE, f"birth date compatible (list: {listed})"
        if listed_part != traveller_part:
            return BIRTH_DATE_DIFFERENT, f"birth date differs (list: {listed})"
    return BIRTH_DATE_EQUAL, "birth date equal"


def _person_evidence(query: _Query, base: float, evidence: str, birth_date: str, sex: str,
                     nationality: str) -> tuple[float, str]:
    """Score and explanation of a name match, weighed by birth date, sex and nationality."""
    factor, dob_text = _birth_date(birth_date, query.birth_date)
    score, parts = base * factor, [evidence, dob_text]
    if sex in ("M", "F") and query.sex in ("M", "F") and sex != query.sex:
        score *= SEX_DIFFERENT
        parts.append(f"sex differs (list: {sex})")
    if nationality and query.nationality:
        # Shown only: dual nationals travel on either passport, so it neither adds nor removes.
        same = nationality == query.nationality
        parts.append("nationality equal" if same else f"nationality differs (list: {nationality})")
    return score, ", ".join(parts)


def _person_hits(conn: sqlite3.Connection, query: _Query, lists: set[str]) -> list[Hit]:
    best: dict[tuple[str, str], dict[str, tuple[float, str]]] = {}
    reasons: dict[tuple[str, str], str] = {}

    def consider(key: tuple[str, str], kind: str, score: float, text: str, reason: str) -> None:
        if key[0] not in lists:
            return
        reasons[key] = reason
        evidence = best.setdefault(key, {})
        if kind not in evidence or score > evidence[kind][0]:
            evidence[kind] = (score, text)

    lookups = _name_lookups(query)
    if lookups:
        marks = ",".join("?" * len(lookups))
        rows = conn.execute(
            "SELECT n.list, n.entry_id, n.name_key, n.is_alias, p.birth_date, p.sex, p.nationality, p.reason "
            "FROM watchlist_person_names n JOIN watchlist_persons p ON p.list = n.list AND p.entry_id = n.entry_id "
            f"WHERE n.name_key IN ({marks})",
            list(lookups),
        ).fetchall()
        for list_name, entry_id, key, is_alias, birth_date, sex, nationality, reason in rows:
            base, evidence = lookups[key]
            if is_alias:
                evidence = f"alias {display_key(key)}: {evidence}"
            score, text = _person_evidence(query, base, evidence, birth_date, sex, nationality)
            consider((list_name, entry_id), "name", score, text, reason)

    if query.document_number:
        rows = conn.execute(
            "SELECT list, entry_id, document_issuer, reason FROM watchlist_persons WHERE document_number = ?",
            (query.document_number,),
        ).fetchall()
        for list_name, entry_id, issuer, reason in rows:
            if issuer and issuer == query.document_issuer:
                score, text = PERSON_DOCUMENT, f"listed document {issuer} {query.document_number} equal"
            elif not issuer:
                score, text = PERSON_DOCUMENT_NUMBER_ONLY, (
                    f"listed document number {query.document_number} equal (no issuer on the list)")
            else:
                continue
            consider((list_name, entry_id), "document", score, text, reason)

    hits = []
    for (list_name, entry_id), evidence in best.items():
        ranked = sorted(evidence.values(), reverse=True)
        explanation = "; ".join(text for _, text in ranked)
        if reasons[(list_name, entry_id)]:
            explanation += f"; listed for: {reasons[(list_name, entry_id)]}"
        hits.append(Hit(list=list_name, entry_id=entry_id, kind="person", score=round(ranked[0][0], 3),
                        explanation=explanation))
    return hits
