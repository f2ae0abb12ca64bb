"""Watchlist CSV import into the store: validate the whole file, then replace the named list atomically.

The file's format and record rules are ``appliance.lists.csv_format``. An HQ export is a
full list, so an import replaces the named list entirely, or, if anything in the file is
wrong, changes nothing at all.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.domain import clock
from appliance.errors import ImportFileError
from appliance.inference.documents import Record
from appliance.lists import indexes
from appliance.lists.csv_format import ParsedList, parse
from appliance.storage import audit
from appliance.storage.store import Store

_LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$")


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
        indexes.build_documents(directory, (Record(e["issuing_state"], e["document_type"], e["document_number"],
                                                   e["reason"]) for e in parsed.entries), total=len(parsed.entries))
    with store.transaction() as db:
        previous = _check_kind(store, list_name, kind)
        delete_entries(store, list_name)
        store.conn.execute(
            "INSERT INTO lists(name, kind, version, imported_at, source_sha256, entries, index_dir, published_at, "
            "source) VALUES (?,?,?,?,?,?,?,NULL,'csv') "
            "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, version = excluded.version, "
            "imported_at = excluded.imported_at, source_sha256 = excluded.source_sha256, entries = excluded.entries, "
            "index_dir = excluded.index_dir, published_at = NULL, source = 'csv', face_model = NULL",
            (list_name, kind, version, imported_at, parsed.sha256, len(parsed.entries), str(directory)),
        )
        table = "watchlist_persons" if kind == "persons" else "watchlist_documents"
        db.table(table).insert_all(({"list": list_name, **entry} for entry in parsed.entries), batch_size=1000)
        if parsed.names:
            db.table("watchlist_person_names").insert_all(({"list": list_name, **row} for row in parsed.names),
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


def delete_entries(store: Store, list_name: str) -> None:
    """Inside the caller's transaction: drop every entry (and name row) of a list."""
    for table in ("watchlist_person_names", "watchlist_persons", "watchlist_documents"):
        store.conn.execute(f"DELETE FROM {table} WHERE list = ?", (list_name,))
