"""Watchlists on the kiosk: CSV import (validate all, then replace the list atomically) and list status.

The CSV interchange format is HQ's export format (UTF-8, header row, BOM tolerated):

- persons: ``id,surname,given_names,aliases,birth_date,sex,nationality,document_issuer,
  document_number,reason``; aliases separated by ``|``, each written ``SURNAME, Given Names``;
  birth_date ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; only id and surname are required.
- documents: ``issuing_state,document_type,document_number,reason`` (stolen/lost documents).

Columns are found by their header name, so their order does not matter; a missing, unknown
or repeated column is an error. An HQ export is a full list, so an import replaces the
named list entirely, or, if anything in the file is wrong, changes nothing at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

from appliance.domain import clock
from appliance.domain.names import name_key
from appliance.errors import ImportFileError
from appliance.lists import indexes
from appliance.storage import audit
from appliance.storage.store import Store

KINDS = ("persons", "documents")
COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("id", "surname", "given_names", "aliases", "birth_date", "sex", "nationality",
                "document_issuer", "document_number", "reason"),
    "documents": ("issuing_state", "document_type", "document_number", "reason"),
}
SEXES = ("M", "F", "X")
MAX_ERRORS = 20

_LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$")
_STATE_CODE = re.compile(r"^[A-Z]{1,3}$")
_DOCUMENT_TYPE = re.compile(r"^[A-Z]{1,2}$")
_DOCUMENT_NUMBER = re.compile(r"^[A-Z0-9]+$")
_DOCUMENT_NUMBER_NOISE = re.compile(r"[<\s/-]+")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


# -- Field rules shared with screening -------------------------------------------------

def normalise_document_number(text: str | None) -> str:
    """Upper case, without the '<', space, '-' and '/' that MRZs and forms put in; never raises."""
    return _DOCUMENT_NUMBER_NOISE.sub("", (text or "").upper())


def is_state_code(text: str) -> bool:
    """True for an ICAO state/organisation code: 1 to 3 letters A-Z ("D", "UTO", "XXA")."""
    return bool(_STATE_CODE.match(text))


def is_document_type(text: str) -> bool:
    """True for an ICAO document code: 1 or 2 letters A-Z ("P", "I", "ID")."""
    return bool(_DOCUMENT_TYPE.match(text))


def is_document_number(text: str) -> bool:
    """True for a normalised document number: letters A-Z and digits only."""
    return bool(_DOCUMENT_NUMBER.match(text))


def parse_partial_date(text: str) -> tuple[int, int | None, int | None]:
    """(year, month, day) of ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; month/day None when absent.

    Raises ValueError saying what is wrong (shape, or an impossible date like 2001-02-30).
    """
    match = _PARTIAL_DATE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = (int(part) if part else None for part in match.groups())
    try:
        date(year, month or 1, day or 1)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date ({exc})") from None
    return year, month, day


# -- Parsing and validation ------------------------------------------------------------

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


def parse_aliases(text: str) -> list[tuple[str, str]]:
    """[(surname, given names)] of an aliases field; raises ValueError naming the bad alias."""
    if not text:
        return []
    aliases = []
    for position, alias in enumerate(text.split("|"), start=1):
        surname, comma, given = alias.partition(",")
        if not alias.strip():
            raise ValueError(f"alias {position} is empty (aliases are separated by '|')")
        if not comma or "," in given:
            raise ValueError(f"alias {position} {alias.strip()!r} is not written 'SURNAME, Given Names'")
        if not surname.strip():
            raise ValueError(f"alias {position} {alias.strip()!r} has no surname before the comma")
        aliases.append((surname.strip(), given.strip()))
    return aliases


def _check_person(entry: dict[str, str], problems: list[str]) -> list[tuple[str, str]]:
    """Validates one persons row in place; returns its aliases."""
    for field in ("id", "surname"):
        if not entry[field]:
            problems.append(f"field {field}: empty (required)")
    try:
        aliases = parse_aliases(entry["aliases"])
    except ValueError as exc:
        problems.append(f"field aliases: {exc}")
        aliases = []
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
    return aliases


def check_entry(kind: str, entry: dict[str, str]) -> list[str]:
    """Validate (and normalise in place) one entry of the CSV columns of ``kind``; its problems.

    List bundles use it too, so a record is held to the same rules whichever way it came.
    """
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
        entry = {column: value.strip() for column, value in zip(header, row)}
        problems: list[str] = []
        if kind == "persons":
            aliases = _check_person(entry, problems)
            if entry["id"] in first_line_of_id:
                first = first_line_of_id[entry["id"]]
                problems.append(f"field id: {entry['id']!r} is repeated (first on line {first})")
            elif entry["id"]:
                first_line_of_id[entry["id"]] = start
        else:
            _check_document(entry, problems)
        for problem in problems:
            errors.add(start, problem)
        if problems:
            continue
        if kind == "persons":
            entries.append({"entry_id": entry.pop("id"), **entry})
            names.extend(_name_rows(entry_id=entries[-1]["entry_id"], surname=entry["surname"],
                                    given_names=entry["given_names"], aliases=aliases))
        else:
            entries.append({**entry, "line": start})
    errors.raise_if_any(source)
    return ParsedList(kind=kind, entries=entries, names=names, sha256=hashlib.sha256(data).hexdigest())


def _name_rows(entry_id: str, surname: str, given_names: str,
               aliases: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Index rows of one person: the primary name and each alias, once per distinct key.

    A name written only in a non-Latin script has no key and is not indexed; the person
    is still found through a Latin alias or a listed document.
    """
    rows, seen = [], set()
    for position, (name_surname, name_given) in enumerate([(surname, given_names), *aliases]):
        key = name_key(name_surname, name_given)
        if key and key not in seen:
            seen.add(key)
            rows.append({"entry_id": entry_id, "name_key": key, "is_alias": int(position > 0)})
    return rows


# -- Import ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    """What an import stored, and the version it replaced (None for a new list)."""

    list: str
    kind: str
    version: str
    imported_at: str
    sha256: str
    entries: int
    replaced_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_version(moment: datetime) -> str:
    """The version given to an import without one: its UTC time, e.g. 20261123T190300Z."""
    return clock.iso(moment)[:19].replace("-", "").replace(":", "") + "Z"


def import_csv(store: Store, kind: str, path: str | Path, *, list_name: str | None = None,
               version: str | None = None, actor: str = "cli", now: datetime | None = None,
               index_root: Path | None = None) -> ImportResult:
    """Read, validate and import a list file, replacing the list (default name: the kind).

    Raises ImportFileError when the file cannot be read or is malformed, the list name or
    version is not acceptable, or the list exists with the other kind. Nothing is changed
    when it raises.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read list file {path}: {exc.strerror or exc}") from None
    return import_bytes(store, kind, data, source=str(path), list_name=list_name, version=version,
                        actor=actor, now=now, index_root=index_root)


def import_bytes(store: Store, kind: str, data: bytes, *, source: str = "file", list_name: str | None = None,
                 version: str | None = None, actor: str = "cli", now: datetime | None = None,
                 index_root: Path | None = None) -> ImportResult:
    """``import_csv`` for a file already in memory (``source`` names it in messages); same errors.

    The list's index files are built under ``index_root`` (default: ``lists/`` next to the
    database) before the transaction that switches to them, so screening never sees a
    half-imported list.
    """
    list_name = kind if list_name is None else list_name
    if not _LIST_NAME.match(list_name):
        raise ImportFileError(f"list name {list_name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    now = now or clock.utcnow()
    version = default_version(now) if version is None else version
    if not _VERSION.match(version):
        raise ImportFileError(f"list version {version!r} must be 1-64 letters, digits, '_', '.', ':', '+' or '-'")
    parsed = parse(kind, data, source)
    imported_at = clock.iso(now)
    directory = indexes.new_directory(index_root or indexes.default_root(store), list_name, version)
    try:
        previous = _import_parsed(store, parsed, kind, list_name, version, imported_at, directory, source, actor)
    except BaseException:
        indexes.discard(directory)
        raise
    if previous and previous[2] and previous[2] != str(directory):
        indexes.discard(Path(previous[2]))
    return ImportResult(list=list_name, kind=kind, version=version, imported_at=imported_at,
                        sha256=parsed.sha256, entries=len(parsed.entries),
                        replaced_version=previous[1] if previous else None)


def _import_parsed(store: Store, parsed: ParsedList, kind: str, list_name: str, version: str, imported_at: str,
                   directory: Path, source: str, actor: str) -> tuple | None:
    with store.lock:
        # Checked before the (long) index build, and again in the transaction.
        _check_kind(store, list_name, kind)
    if kind == "persons":
        indexes.build_persons(directory, parsed.entries)
    else:
        from appliance.inference.documents import Record

        indexes.build_documents(directory, (Record(e["issuing_state"], e["document_type"], e["document_number"],
                                                   e["reason"]) for e in parsed.entries), total=len(parsed.entries))
    with store.transaction() as db:
        previous = _check_kind(store, list_name, kind)
        _delete_entries(store, list_name)
        store.conn.execute(
            "INSERT INTO lists(name, kind, version, imported_at, source_sha256, entries, index_dir, published_at, "
            "source) VALUES (?,?,?,?,?,?,?,NULL,'csv') "
            "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, version = excluded.version, "
            "imported_at = excluded.imported_at, source_sha256 = excluded.source_sha256, entries = excluded.entries, "
            "index_dir = excluded.index_dir, published_at = NULL, source = 'csv', face_model = NULL",
            (list_name, kind, version, imported_at, parsed.sha256, len(parsed.entries), str(directory)),
        )
        table = "watchlist_persons" if kind == "persons" else "watchlist_documents"
        db[table].insert_all(({"list": list_name, **entry} for entry in parsed.entries), batch_size=1000)
        if parsed.names:
            db["watchlist_person_names"].insert_all(({"list": list_name, **row} for row in parsed.names),
                                                     batch_size=1000)
        audit.append(store, actor, "watchlist.import", list_name,
                     {"kind": kind, "version": version, "entries": len(parsed.entries), "sha256": parsed.sha256,
                      "replaced_version": previous[1] if previous else None, "source": Path(source).name})
    return previous


def _check_kind(store: Store, list_name: str, kind: str) -> tuple | None:
    """(kind, version, index_dir) of the list in force, or None; raises if it holds the other kind."""
    previous = store.conn.execute("SELECT kind, version, index_dir FROM lists WHERE name = ?",
                                  (list_name,)).fetchone()
    if previous and previous[0] != kind:
        raise ImportFileError(f"list {list_name!r} holds {previous[0]}, a {kind} file cannot replace it "
                              "(give another --list name); nothing was imported")
    return previous


def _delete_entries(store: Store, list_name: str) -> None:
    for table in ("watchlist_person_names", "watchlist_persons", "watchlist_documents"):
        store.conn.execute(f"DELETE FROM {table} WHERE list = ?", (list_name,))


# -- Status ----------------------------------------------------------------------------

def age_text(seconds: int) -> str:
    """A list age as an officer reads it: "45s", "12m", "3h 05m", "2d 04h"."""
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24:02d}h"


DEFAULT_MAX_AGE_HOURS = 14 * 24  # the config's default (screening.max_list_age_hours)


def list_status(store: Store, now: datetime | None = None,
                max_age_hours: float = DEFAULT_MAX_AGE_HOURS) -> list[dict[str, Any]]:
    """Every list in force, by name: kind, version, imported_at, published_at, age (seconds and
    text), stale, entries, sha256, source ('csv' import or signed 'bundle') and face_model
    (SHA-256 of the embedder that made a persons list's faces; None without faces or when
    the bundle did not say).

    The age counts from HQ's publication when the list came in a bundle (a bundle that
    waited a week on a USB stick is a week old), else from the import.
    """
    now = now or clock.utcnow()
    with store.lock:
        rows = store.conn.execute(
            "SELECT name, kind, version, imported_at, published_at, entries, source_sha256, source, face_model "
            "FROM lists ORDER BY name"
        ).fetchall()
    status = []
    for name, kind, version, imported_at, published_at, entries, sha256, source, face_model in rows:
        age = int((now - clock.parse_iso(published_at or imported_at)).total_seconds())
        status.append({"name": name, "kind": kind, "version": version, "imported_at": imported_at,
                       "published_at": published_at, "age_seconds": age, "age": age_text(age),
                       "stale": age > max_age_hours * 3600, "entries": entries, "sha256": sha256,
                       "source": source, "face_model": face_model})
    return status
