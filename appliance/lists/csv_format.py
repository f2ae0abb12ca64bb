"""The list interchange format: persons and documents columns, the record rules, CSV parsing (no store).

The CSV interchange format is HQ's export format (UTF-8, header row, BOM tolerated):

- persons: ``id,surname,given_names,aliases,birth_date,sex,nationality,document_issuer,
  document_number,reason``; aliases separated by ``|``, each written ``SURNAME, Given Names``;
  birth_date ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; only id and surname are required.
- documents: ``issuing_state,document_type,document_number,reason`` (stolen/lost documents).

Columns are found by their header name, so their order does not matter; a missing, unknown
or repeated column is an error. A signed bundle's records carry the same fields, and
``check_record`` holds a record to the same rules whichever way it came (CSV or bundle).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from typing import Any, Iterable

from appliance.domain.dates import parse_partial_date
from appliance.domain.fields import (
    SEXES,
    is_document_number,
    is_document_type,
    is_state_code,
    normalise_document_number,
    parse_aliases,
)
from appliance.domain.names import name_key
from appliance.errors import ImportFileError

KINDS = ("persons", "documents")
COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("id", "surname", "given_names", "aliases", "birth_date", "sex", "nationality",
                "document_issuer", "document_number", "reason"),
    "documents": ("issuing_state", "document_type", "document_number", "reason"),
}
MAX_ERRORS = 20


# -- Record rules ----------------------------------------------------------------------

def _check_code(entry: dict[str, str], field: str, required: bool, problems: list[str]) -> None:
    value = entry[field]
    if not value:
        if required:
            problems.append(f"field {field}: empty (an ICAO code such as UTO or D is required)")
    elif not is_state_code(value):
        problems.append(f"field {field}: {value!r} is not an ICAO code of 1-3 letters A-Z (such as UTO or D)")


def _check_document_number(entry: dict[str, str], required: bool, problems: list[str]) -> None:
    raw = entry["document_number"]
    number = normalise_document_number(raw)
    if not number:
        if required:
            problems.append("field document_number: empty")
    elif not is_document_number(number):
        problems.append(f"field document_number: {raw!r} has characters other than A-Z, 0-9, '<', space, '-', '/'")
    entry["document_number"] = number


def _check_person(entry: dict[str, str], problems: list[str]) -> None:
    """Validates one persons row in place."""
    for field in ("id", "surname"):
        if not entry[field]:
            problems.append(f"field {field}: empty (required)")
    try:
        parse_aliases(entry["aliases"])
    except ValueError as exc:
        problems.append(f"field aliases: {exc}")
    if entry["birth_date"]:
        try:
            parse_partial_date(entry["birth_date"])
        except ValueError as exc:
            problems.append(f"field birth_date: {exc}")
    if entry["sex"] and entry["sex"] not in SEXES:
        problems.append(f"field sex: {entry['sex']!r} is not M, F, X or empty")
    _check_code(entry, "nationality", False, problems)
    _check_code(entry, "document_issuer", False, problems)
    _check_document_number(entry, False, problems)


def check_entry(kind: str, entry: dict[str, str]) -> list[str]:
    """Validate (and normalise in place) one entry of the columns of ``kind``; its problems."""
    problems: list[str] = []
    if kind == "persons":
        _check_person(entry, problems)
    else:
        _check_document(entry, problems)
    return problems


def _check_document(entry: dict[str, str], problems: list[str]) -> None:
    _check_code(entry, "issuing_state", True, problems)
    if entry["document_type"] and not is_document_type(entry["document_type"]):
        problems.append(f"field document_type: {entry['document_type']!r} is not an ICAO document code "
                        "of 1-2 letters A-Z (such as P, I, ID) or empty")
    _check_document_number(entry, True, problems)


def check_record(kind: str, record: dict[str, Any], extra: Iterable[str] = ()) -> tuple[dict[str, str], list[str]]:
    """The record (a CSV row, or a bundle's JSON object) as an entry of the kind's columns, and
    every problem with it: unknown fields (besides ``extra``), a value that is not a string,
    then the rules of ``check_entry``. The entry is stripped and normalised; an absent or
    null field is empty.
    """
    columns = COLUMNS[kind]
    problems: list[str] = []
    unknown = sorted(set(record) - set(columns) - set(extra))
    if unknown:
        problems.append("unknown field(s) " + ", ".join(unknown))
    entry = {}
    for column in columns:
        value = record.get(column, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.append(f"field {column}: not a string")
            value = ""
        entry[column] = value.strip()
    return entry, problems + check_entry(kind, entry)


# -- CSV parsing -----------------------------------------------------------------------

class _Errors:
    """Collects "line N: ..." messages; stops the scan once MAX_ERRORS are in."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.messages.append(f"line {line}: {message}")

    @property
    def full(self) -> bool:
        return len(self.messages) >= MAX_ERRORS

    def raise_if_any(self, source: str) -> None:
        if not self.messages:
            return
        shown = self.messages[:MAX_ERRORS]
        more = " (stopped at the first errors; there may be more)" if len(self.messages) >= MAX_ERRORS else ""
        raise ImportFileError(
            f"{source}: {len(shown)} error(s){more}; nothing was imported:\n" + "\n".join(f"  {m}" for m in shown)
        )


def _decode(data: bytes, errors: _Errors) -> str:
    """The file as text; every line that is not UTF-8 is reported, not just the first."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.add(number, f"not valid UTF-8 (byte 0x{raw[exc.start]:02X} at column {exc.start + 1}); "
                               "export the file as UTF-8")
            if errors.full:
                break
    return ""


def _header(row: list[str], kind: str, line: int, errors: _Errors) -> list[str] | None:
    names = [cell.strip() for cell in row]
    expected = COLUMNS[kind]
    missing = [c for c in expected if c not in names]
    unknown = [c for c in names if c not in expected]
    repeated = sorted({c for c in names if c in expected and names.count(c) > 1})
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
    if repeated:
        problems.append("repeated column(s) " + ", ".join(repeated))
    if problems:
        errors.add(line, f"header: {'; '.join(problems)} (a {kind} file has: {','.join(expected)})")
        return None
    return names


@dataclass(frozen=True)
class ParsedList:
    """A validated list file: rows ready for the tables, and the file's digest."""

    kind: str
    entries: list[dict[str, Any]]
    names: list[dict[str, Any]]
    sha256: str


def parse(kind: str, data: bytes, source: str = "file") -> ParsedList:
    """Validate a whole list file (persons or documents CSV) without touching any store.

    Raises ImportFileError listing, with line numbers, up to MAX_ERRORS problems: bad
    encoding, bad or missing header, wrong field count, empty, malformed or duplicate
    values. ``source`` names the file in the message.
    """
    if kind not in KINDS:
        raise ImportFileError(f"{source}: unknown list kind {kind!r} (expected {' or '.join(KINDS)})")
    errors = _Errors()
    text = _decode(data, errors)
    errors.raise_if_any(source)
    if not text.strip():
        raise ImportFileError(f"{source}: the file is empty (expected a header row: {','.join(COLUMNS[kind])}); "
                              "nothing was imported")
    entries: list[dict[str, Any]] = []
    names: list[dict[str, Any]] = []
    first_line_of_id: dict[str, int] = {}
    # strict: a stray quote is an error rather than silently merged into a field.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    line = 1
    while not errors.full:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.add(reader.line_num, f"not readable as CSV ({exc})")
            break
        start, line = line, reader.line_num + 1
        if not row:
            continue  # blank line
        if header is None:
            header = _header(row, kind, start, errors)
            if header is None:
                break
            continue
        if len(row) != len(header):
            errors.add(start, f"expected {len(header)} fields, found {len(row)}")
            continue
        entry, problems = check_record(kind, dict(zip(header, row)))
        if kind == "persons":
            if entry["id"] in first_line_of_id:
                first = first_line_of_id[entry["id"]]
                problems.append(f"field id: {entry['id']!r} is repeated (first on line {first})")
            elif entry["id"]:
                first_line_of_id[entry["id"]] = start
        for problem in problems:
            errors.add(start, problem)
        if problems:
            continue
        if kind == "persons":
            entries.append({"entry_id": entry.pop("id"), **entry})
            names.extend(name_rows(entries[-1]))
        else:
            entries.append({**entry, "line": start})
    errors.raise_if_any(source)
    return ParsedList(kind=kind, entries=entries, names=names, sha256=hashlib.sha256(data).hexdigest())


def name_rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``watchlist_person_names`` rows of one valid persons entry (with ``entry_id``): the
    primary name and each alias, once per distinct key.

    A name written only in a non-Latin script has no key and is not indexed; the person
    is still found through a Latin alias or a listed document.
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    names = [(entry["surname"], entry["given_names"]), *parse_aliases(entry["aliases"])]
    for position, (surname, given_names) in enumerate(names):
        key = name_key(surname, given_names)
        if key and key not in seen:
            seen.add(key)
            rows.append({"entry_id": entry["entry_id"], "name_key": key, "is_alias": int(position > 0)})
    return rows


