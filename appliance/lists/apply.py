"""Applying a signed list bundle on the kiosk: verify, check the version chain, build, switch atomically.

Order of checks, each refusing with a reason and changing nothing: the bundle's structure
(truncated?), its Ed25519 signature against the trusted HQ key, the payload hash, the
header, the version chain against the list in force (a delta must start from the
version in force; a full bundle must not be older than it), then every record (and a
persons delta that adds faces must name the embedder of the faces in force). Only
then are the new version's index files built (in a fresh directory) and the pointer
switched in one SQLite transaction; the old list stays in force until that commit.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from appliance.domain import clock
from appliance.errors import BundleError
from appliance.inference import documents as documents_index
from appliance.lists import bundle as bundle_format
from appliance.lists import indexes
from appliance.lists.csv_format import MAX_ERRORS, check_record, name_rows
from appliance.lists.csv_import import delete_entries
from appliance.storage import audit
from appliance.storage.store import Store

COMPACT_MIN = 100_000  # delta operations kept beside a document base before it is rebuilt
MIN_FACE_DIM, MAX_FACE_DIM = 16, 4096


def trusted_key(config: Any):
    """HQ's public key from ``screening.trusted_key``; BundleError when unset or unreadable."""
    path = config.screening.trusted_key
    if path is None:
        raise BundleError("no trusted HQ list key: set screening.trusted_key to HQ's Ed25519 public key "
                          "(PEM); no bundle can be applied without it")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read the trusted HQ list key {path}: {exc.strerror or exc}") from None
    return bundle_format.load_public_key(data, str(path))


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, line: int, message: str) -> None:
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(f"line {line}: {message}")

    def raise_if_any(self, bundle: bundle_format.Bundle) -> None:
        if self.messages:
            raise BundleError(f"bundle {bundle.list} version {bundle.version}: {len(self.messages)} record(s) "
                              "refused (showing at most 20); nothing was applied:\n"
                              + "\n".join(f"  {m}" for m in self.messages))


def _current(store: Store, list_name: str) -> dict[str, Any] | None:
    with store.lock:
        row = store.conn.execute(
            "SELECT kind, version, index_dir, published_at, source, entries, face_model FROM lists WHERE name = ?",
            (list_name,)
        ).fetchone()
    if row is None:
        return None
    return dict(zip(("kind", "version", "index_dir", "published_at", "source", "entries", "face_model"), row))


def check_chain(bundle: bundle_format.Bundle, current: dict[str, Any] | None) -> str | None:
    """None when the bundle may be applied; a reason when it is already in force. Raises
    BundleError when it breaks the version chain."""
    name = bundle.list
    if current and current["kind"] != bundle.kind:
        raise BundleError(f"list {name!r} holds {current['kind']}, the bundle carries {bundle.kind}")
    if current and current["version"] == bundle.version:
        return f"list {name} version {bundle.version} is already in force"
    if bundle.type == "delta":
        if current is None:
            raise BundleError(f"delta bundle for list {name!r} applies to version {bundle.base_version}, "
                              "but this kiosk has no such list: apply a full bundle first")
        if current["version"] != bundle.base_version:
            raise BundleError(f"delta bundle applies to version {bundle.base_version} of list {name!r}, "
                              f"but version {current['version']} is in force: wrong base version")
    published = bundle.header["published_at"]
    if current and current["published_at"] and published < current["published_at"]:
        raise BundleError(f"bundle version {bundle.version} was published at {published}, before version "
                          f"{current['version']} in force ({current['published_at']}): refusing to roll back")
    return None


def apply_bundle(store: Store, config: Any, data: bytes, *, actor: str = "cli",
                 now: datetime | None = None) -> dict[str, Any]:
    """Verify and apply one bundle (full or delta) from any transport.

    Returns {"list", "kind", "type", "version", "base_version", "published_at", "records",
    "entries", "face_model", "replaced_version", "applied", "message"}; ``face_model`` is the
    embedder of the faces of the list now in force (None: no faces, or unknown model).
    ``applied`` is False (and nothing changes) when that version is already in force.
    Raises BundleError naming the reason a bundle is refused (truncated, bad signature,
    wrong key, bad hash, bad header, wrong base version, rollback, bad record, a delta
    adding faces of another model); the lists in force are then unchanged.
    """
    decoded = bundle_format.decode(data, trusted_key(config))
    current = _current(store, decoded.list)
    already = check_chain(decoded, current)
    summary = {"list": decoded.list, "kind": decoded.kind, "type": decoded.type, "version": decoded.version,
               "base_version": decoded.base_version, "published_at": decoded.header["published_at"],
               "records": decoded.header.get("records"), "replaced_version": current["version"] if current else None}
    if already:
        assert current is not None  # check_chain finds a version already in force only in a list in force
        return {**summary, "entries": current["entries"], "face_model": current["face_model"], "applied": False,
                "message": already}
    now = now or clock.utcnow()
    directory = indexes.new_directory(indexes.root_for(config), decoded.list, decoded.version)
    try:
        if decoded.kind == "documents":
            entries, change, face_model = _build_documents(decoded, current, directory), None, None
        else:
            entries, change, face_model = _build_persons(store, decoded, current, directory)
        with store.transaction():
            # Another process may have switched the list while this one was building.
            if _current_version(store, decoded.list) != (current["version"] if current else None):
                raise BundleError(f"list {decoded.list!r} changed while the bundle was being applied; apply it again")
            store.conn.execute(
                "INSERT INTO lists(name, kind, version, imported_at, source_sha256, entries, index_dir, published_at, "
                "source, face_model) VALUES (?,?,?,?,?,?,?,?,'bundle',?) ON CONFLICT(name) DO UPDATE SET "
                "version = excluded.version, imported_at = excluded.imported_at, "
                "source_sha256 = excluded.source_sha256, entries = excluded.entries, index_dir = excluded.index_dir, "
                "published_at = excluded.published_at, source = 'bundle', face_model = excluded.face_model",
                (decoded.list, decoded.kind, decoded.version, clock.iso(now), decoded.sha256, entries, str(directory),
                 decoded.header["published_at"], face_model),
            )
            if change is not None:  # after the lists row: the entries reference it
                _write_persons(store, decoded.list, change)
            store.conn.execute(
                "INSERT INTO list_bundles(list, type, version, base_version, published_at, applied_at, sha256, records) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (decoded.list, decoded.type, decoded.version, decoded.base_version, decoded.header["published_at"],
                 clock.iso(now), decoded.sha256, decoded.header.get("records") or 0),
            )
            audit.append(store, actor, "lists.apply", decoded.list,
                         {"kind": decoded.kind, "type": decoded.type, "version": decoded.version,
                          "base_version": decoded.base_version, "entries": entries, "sha256": decoded.sha256,
                          "face_model": face_model, "replaced_version": summary["replaced_version"]})
    except BaseException:
        indexes.discard(directory)
        raise
    if current and current["index_dir"] and current["index_dir"] != str(directory):
        indexes.discard(Path(current["index_dir"]))
    return {**summary, "entries": entries, "face_model": face_model, "applied": True,
            "message": f"list {decoded.list} {decoded.kind} version {decoded.version} applied ({entries} entries)"}


def _current_version(store: Store, list_name: str) -> str | None:
    row = store.conn.execute("SELECT version FROM lists WHERE name = ?", (list_name,)).fetchone()
    return row[0] if row else None


# -- Documents ----------------------------------------------------------------------------

def _document_changes(decoded: bundle_format.Bundle, problems: _Problems) -> Iterator[tuple[str, documents_index.Record]]:
    for line, record, raw in decoded.records():
        if record is None:
            problems.add(line, f"not a JSON object: {raw!r}")
            continue
        op = record.get("op", "add") if decoded.type == "delta" else "add"
        if decoded.type == "full" and "op" in record:
            problems.add(line, "a full bundle's records have no 'op'")
            continue
        if op not in ("add", "remove"):
            problems.add(line, f"op {op!r} is not add or remove")
            continue
        entry, found = check_record("documents", record, extra=("op", "face"))
        if "face" in record:
            found.append("documents have no face")
        for problem in found:
            problems.add(line, problem)
        if not found:
            yield op, documents_index.Record(entry["issuing_state"], entry["document_type"], entry["document_number"],
                                             entry["reason"])


def _build_documents(decoded: bundle_format.Bundle, current: dict[str, Any] | None, directory: Path) -> int:
    problems = _Problems()
    if decoded.type == "full":
        total = decoded.header.get("records") if isinstance(decoded.header.get("records"), int) else None
        manifest = indexes.build_documents(directory, (record for _, record in _document_changes(decoded, problems)),
                                           total=total)
        problems.raise_if_any(decoded)
        return manifest["records"]
    changes = [documents_index.Change(op, record) for op, record in _document_changes(decoded, problems)]
    problems.raise_if_any(decoded)
    assert current is not None  # check_chain refused a delta to a list not in force
    base = indexes.require(current["index_dir"], decoded.list, current["version"])
    manifest = documents_index.DocumentIndex(base).manifest
    pending = manifest["delta"]["additions"] + manifest["delta"]["removals"] + len(changes)
    if pending > max(COMPACT_MIN, manifest["keys"] // 8):
        # The overlay has grown to a real fraction of the base: fold it into a new base.
        old = documents_index.DocumentIndex(base)
        try:
            for change in changes:
                old.apply(change)
            return indexes.build_documents(directory, iter(old), total=manifest["records"])["records"]
        finally:
            old.close()
    return documents_index.derive(base, directory, changes)["records"]


# -- Persons ------------------------------------------------------------------------------

class _PersonsChange:
    """What a persons bundle does to SQLite: the full new entry set, or ids to drop and rows to add."""

    def __init__(self, full: bool, entries: list[dict[str, Any]], dropped: set[str], added: list[dict[str, Any]]):
        self.full, self.entries, self.dropped, self.added = full, entries, dropped, added


def _face(value: Any, dim: int | None) -> tuple[np.ndarray | None, str | None]:
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        return None, "field face: not a list of numbers"
    try:
        vector = np.asarray(value, dtype=np.float32)
    except OverflowError:
        # JSON integers have no bound: one of 400 digits is a number, but no float.
        return None, "field face: a number too large for an embedding"
    if not MIN_FACE_DIM <= len(vector) <= MAX_FACE_DIM:
        return None, f"field face: {len(vector)} numbers (an embedding has {MIN_FACE_DIM}-{MAX_FACE_DIM})"
    if dim is not None and len(vector) != dim:
        return None, f"field face: {len(vector)} numbers, other faces in the bundle have {dim}"
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        return None, "field face: zero or not finite"
    return vector, None


def _faces_model(decoded: bundle_format.Bundle, current: dict[str, Any] | None, base_faces: int) -> str | None:
    """The embedder of the faces a persons bundle adds, once it is known to add one.

    A full bundle brings its own (that is how a new model rolls out). A delta's faces must
    come from the model of the faces in force, or the list would hold vectors no single
    query can be compared with; raises BundleError otherwise. A delta to a version without
    faces has nothing to disagree with, so its model becomes the list's.
    """
    if decoded.type == "full" or not base_faces:
        return decoded.face_model
    theirs = current["face_model"] if current else None
    if decoded.face_model != theirs:
        raise BundleError(f"bundle {decoded.list} version {decoded.version}: delta's faces were embedded by model "
                          f"{bundle_format.short_model(decoded.face_model)}, the list's by "
                          f"{bundle_format.short_model(theirs)}: publish a full bundle; nothing was applied")
    return theirs


def _build_persons(store: Store, decoded: bundle_format.Bundle, current: dict[str, Any] | None,
                   directory: Path) -> tuple[int, _PersonsChange, str | None]:
    """Build a persons version; returns (entries, the SQLite change, the embedder of its faces
    or None when it has none or their model is unknown)."""
    problems = _Problems()
    order: dict[str, dict[str, Any]] = {}
    faces: dict[str, np.ndarray] = {}
    dropped: set[str] = set()
    added: list[dict[str, Any]] = []
    dim = None
    base_faces = 0
    # The model of the faces in force, kept while a delta adds none.
    face_model = current["face_model"] if decoded.type == "delta" and current else None
    if decoded.type == "delta":
        assert current is not None  # check_chain refused a delta to a list not in force
        base = indexes.require(current["index_dir"], decoded.list, current["version"])
        order = {entry["entry_id"]: entry for entry in _entries(store, decoded.list)}
        old = indexes.PersonsIndex(base)
        rows, vectors = old.face_vectors()
        for row, vector in zip(rows.tolist(), vectors):
            faces[old.entry_ids[row]] = vector
        dim = vectors.shape[1] if len(rows) else None
        base_faces = len(rows)
    adds_faces = False
    first_line: dict[str, int] = {}
    for line, record, raw in decoded.records():
        if record is None:
            problems.add(line, f"not a JSON object: {raw!r}")
            continue
        if decoded.type == "full" and "op" in record:
            problems.add(line, "a full bundle's records have no 'op'")
            continue
        op = record.get("op", "add")
        if op not in ("add", "remove"):
            problems.add(line, f"op {op!r} is not add or remove")
            continue
        if op == "remove":
            entry_id = record.get("id")
            if not isinstance(entry_id, str) or entry_id not in order:
                problems.add(line, f"remove: no entry with id {entry_id!r} in version {decoded.base_version}")
                continue
            del order[entry_id]
            faces.pop(entry_id, None)
            dropped.add(entry_id)
            continue
        entry, found = check_record("persons", record, extra=("op", "face"))
        vector = None
        if record.get("face") is not None:
            vector, problem = _face(record["face"], dim)
            if problem:
                found.append(problem)
            elif dim is None:
                assert vector is not None  # _face returns a vector whenever it finds no problem
                dim = len(vector)
        if entry["id"] in first_line:
            found.append(f"field id: {entry['id']!r} is repeated (first on line {first_line[entry['id']]})")
        elif entry["id"]:
            first_line[entry["id"]] = line
        for problem in found:
            problems.add(line, problem)
        if found:
            continue
        entry_id = entry.pop("id")
        stored = {"entry_id": entry_id, **entry}
        order.pop(entry_id, None)
        order[entry_id] = stored
        faces.pop(entry_id, None)
        if vector is not None:
            if not adds_faces:
                # At the first face, before reading on: a whole bundle of faces from the
                # wrong model is refused without building anything.
                face_model = _faces_model(decoded, current, base_faces)
                adds_faces = True
            faces[entry_id] = vector
        dropped.add(entry_id)
        added.append(stored)
    problems.raise_if_any(decoded)
    entries = list(order.values())
    number = {entry["entry_id"]: position for position, entry in enumerate(entries)}
    face_rows = np.asarray([number[entry_id] for entry_id in faces], dtype=np.int32)
    face_arrays = (face_rows, np.stack(list(faces.values()))) if faces else None
    indexes.build_persons(directory, entries, face_arrays)
    return (len(entries), _PersonsChange(decoded.type == "full", entries, dropped, added),
            face_model if faces else None)


_PERSON_FIELDS = ("entry_id", "surname", "given_names", "aliases", "birth_date", "sex", "nationality",
                  "document_issuer", "document_number", "reason")


def _entries(store: Store, list_name: str) -> list[dict[str, Any]]:
    with store.lock:
        rows = store.conn.execute(
            f"SELECT {', '.join(_PERSON_FIELDS)} FROM watchlist_persons WHERE list = ? ORDER BY rowid", (list_name,)
        ).fetchall()
    return [dict(zip(_PERSON_FIELDS, row)) for row in rows]


def _write_persons(store: Store, list_name: str, change: _PersonsChange) -> None:
    """Inside the caller's transaction: make watchlist_persons/_names match the new version."""
    if change.full:
        delete_entries(store, list_name)
        rows = change.entries
    else:
        for entry_id in change.dropped:
            for table in ("watchlist_person_names", "watchlist_persons"):
                store.conn.execute(f"DELETE FROM {table} WHERE list = ? AND entry_id = ?", (list_name, entry_id))
        rows = change.added
    if rows:
        store.db.table("watchlist_persons").insert_all(({"list": list_name, **row} for row in rows), batch_size=1000)
        names = [name for row in rows for name in name_rows(row)]
        if names:
            store.db.table("watchlist_person_names").insert_all(({"list": list_name, **name} for name in names),
                                                                batch_size=1000)
