"""Index files of each list version: build into a fresh directory, switch the pointer in SQLite, clean up.

Layout: ``<root>/<list>/<version>~<pid>~<token>/`` where root is ``screening.index_dir``
(default ``<data_dir>/lists``). A version's directory is written completely and fsynced
first; then one SQLite transaction points ``lists.index_dir`` at it (with the list's new
version and entries), so screening sees either the old list or the whole new one. The
old directory is removed after the commit; at start-up, directories nobody points at
whose builder process is gone are removed (an import interrupted by a power cut).

Persons lists keep their entries in SQLite (``watchlist_persons``); their directory holds
the name index (``names/``), the face index (``faces/``, when the list carries face
embeddings) and the entry ids by number. Documents lists (SLTD scale) hold the document
index; a CSV-imported documents list also keeps its rows in SQLite, a bundle's does not.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from appliance.domain.fields import parse_aliases
from appliance.errors import ListIndexError
from appliance.inference import documents as documents_index
from appliance.inference import faces as faces_index
from appliance.inference import names as names_index
from appliance.inference.files import fsync_dir
from appliance.storage.store import Store


def root_for(config: Any) -> Path:
    """The index root of a kiosk config: ``screening.index_dir`` or ``<data_dir>/lists``."""
    return Path(config.screening.index_dir or config.kiosk.data_dir / "lists")


def default_root(store: Store) -> Path:
    """The index root next to the database (what ``root_for`` gives when index_dir is unset)."""
    return store.path.parent / "lists"


def new_directory(root: Path, list_name: str, version: str) -> Path:
    """A fresh, not yet existing directory for one build of ``list_name`` at ``version``."""
    parent = root / list_name
    parent.mkdir(parents=True, exist_ok=True)
    return parent / f"{version}~{os.getpid()}~{uuid.uuid4().hex[:8]}"


def discard(directory: Path | None) -> None:
    """Remove a build directory (after a failed build, or the version a switch replaced)."""
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        forget(directory)


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())


# -- Building -------------------------------------------------------------------------------

def build_persons(directory: Path, entries: list[dict[str, Any]],
                  faces: tuple[np.ndarray, np.ndarray] | None = None,
                  progress: Callable[[int], None] | None = None) -> dict:
    """Write a persons list's indexes: entries (validated dicts as in ``watchlist_persons``,
    with ``entry_id``) by number, their names and aliases, and optional faces given as
    (entry numbers, n x d float vectors). Returns the manifest."""
    directory.mkdir(parents=True, exist_ok=False)
    rows, years = [], np.zeros(len(entries), dtype=np.int16)
    for number, entry in enumerate(entries):
        if entry.get("birth_date"):
            years[number] = int(entry["birth_date"][:4])
        rows.append(names_index.NameRow(number, False, entry["surname"], entry.get("given_names", "")))
        rows.extend(names_index.NameRow(number, True, surname, given)
                    for surname, given in parse_aliases(entry.get("aliases", "")))
    names_index.build(directory / "names", rows, years, progress)
    blob = "".join(entry["entry_id"] + "\n" for entry in entries).encode("utf-8")
    with open(directory / "entry_ids.txt", "wb") as handle:
        handle.write(blob)
        handle.flush()
        os.fsync(handle.fileno())
    face_count = 0
    if faces is not None and len(faces[0]):
        faces_index.build(directory / "faces", faces[1], faces[0])
        face_count = len(faces[0])
    manifest = {"kind": "persons", "entries": len(entries), "name_rows": len(rows), "faces": face_count}
    _write_json(directory / "persons.json", manifest)
    for sub in ("names", "faces"):
        if (directory / sub).exists():
            fsync_dir(directory / sub)
    fsync_dir(directory)
    return manifest


def build_documents(directory: Path, records: Iterable[documents_index.Record], total: int | None = None,
                    progress: Callable[[int], None] | None = None) -> dict:
    """Write a documents list's index (see ``appliance.inference.documents``)."""
    return documents_index.build(records, directory, total=total, progress=progress)


# -- Opening --------------------------------------------------------------------------------

class PersonsIndex:
    """A persons list version opened for screening: names, faces (or None), entry ids."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.manifest = json.loads((directory / "persons.json").read_text(encoding="utf-8"))
        self.names = names_index.NameIndex(directory / "names")
        self.faces = faces_index.FaceIndex(directory / "faces") if (directory / "faces").exists() else None
        self.entry_ids = (directory / "entry_ids.txt").read_text(encoding="utf-8").split("\n")[:-1]

    def face_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(entry numbers, float vectors) of the stored faces, for deriving the next version."""
        if self.faces is None:
            return np.empty(0, np.int32), np.empty((0, 0), np.float32)
        return np.asarray(self.faces.rows), np.asarray(self.faces.codes, dtype=np.float32)


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def open_index(kind: str, directory: Path) -> Any:
    """The opened index of one list version (PersonsIndex or DocumentIndex), cached by directory.

    Raises ListIndexError when the directory is missing or its files are damaged.
    """
    key = str(directory)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            return found
        try:
            opened = PersonsIndex(directory) if kind == "persons" else documents_index.DocumentIndex(directory)
        except (OSError, ValueError, KeyError) as exc:
            raise ListIndexError(f"index files of {directory} cannot be opened: {exc}") from None
        # One version per list stays open: a replaced version is dropped (its memory maps
        # close once no screening call in flight still holds it).
        for other in [k for k in _cache if Path(k).parent == directory.parent]:
            del _cache[other]
        _cache[key] = opened
        return opened


def forget(directory: Path) -> None:
    with _cache_lock:
        _cache.pop(str(directory), None)


def forget_all() -> None:
    """Drop every opened index; each closes its files once no screening holds it any more.

    A kiosk keeps a few lists open for its whole life; a process that opens many kiosks'
    lists one after another (the test suite) calls this between them, or it runs out of
    file descriptors (each open index holds its files and maps).
    """
    with _cache_lock:
        _cache.clear()


# -- Pointer and clean-up ------------------------------------------------------------------

def referenced(store: Store) -> set[str]:
    with store.lock:
        return {row[0] for row in store.conn.execute("SELECT index_dir FROM lists WHERE index_dir IS NOT NULL")}


def _builder_alive(directory: Path) -> bool:
    parts = directory.name.split("~")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # called at start-up: nothing of ours is being built yet
    return Path(f"/proc/{pid}").exists()


def remove_unfinished(store: Store, root: Path) -> list[Path]:
    """Remove version directories no list points at whose builder is gone; returns them."""
    if not root.exists():
        return []
    keep = referenced(store)
    removed = []
    for list_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for version_dir in sorted(p for p in list_dir.iterdir() if p.is_dir()):
            if str(version_dir) not in keep and not _builder_alive(version_dir):
                shutil.rmtree(version_dir, ignore_errors=True)
                removed.append(version_dir)
        if not any(list_dir.iterdir()):
            list_dir.rmdir()
    return removed


def require(directory: str | None, list_name: str, version: str) -> Path:
    """The index directory of a list in force; ListIndexError when it is not there."""
    if not directory or not Path(directory).is_dir():
        raise ListIndexError(f"list {list_name!r} version {version} has no index files "
                             f"({directory or 'never built'}); re-import or re-apply it")
    return Path(directory)


def rebuild(store: Store, list_name: str, root: Path) -> Path:
    """Build a list's index from its SQLite rows and switch to it (a list imported before
    indexes existed, or whose directory was lost). Raises ListIndexError for a documents
    list that came in a bundle: its records live only in its index files."""
    with store.lock:
        row = store.conn.execute("SELECT kind, version, index_dir, source FROM lists WHERE name = ?",
                                 (list_name,)).fetchone()
    if row is None:
        raise ListIndexError(f"no list {list_name!r}")
    kind, version, old, source = row
    if kind == "documents" and source == "bundle":
        raise ListIndexError(f"index files of documents list {list_name!r} version {version} are missing "
                             f"({old}); apply the list's full bundle again")
    directory = new_directory(root, list_name, version)
    try:
        with store.lock:
            if kind == "persons":
                columns = ("entry_id", "surname", "given_names", "aliases", "birth_date")
                entries = [dict(zip(columns, r)) for r in store.conn.execute(
                    f"SELECT {', '.join(columns)} FROM watchlist_persons WHERE list = ? ORDER BY rowid", (list_name,))]
            else:
                records = [documents_index.Record(*r) for r in store.conn.execute(
                    "SELECT issuing_state, document_type, document_number, reason FROM watchlist_documents "
                    "WHERE list = ? ORDER BY line", (list_name,))]
        if kind == "persons":
            build_persons(directory, entries)
        else:
            build_documents(directory, records, total=len(records))
        with store.transaction():
            current = store.conn.execute("SELECT version, index_dir FROM lists WHERE name = ?", (list_name,)).fetchone()
            if current is None or current[0] != version or current[1] != old:
                raise ListIndexError(f"list {list_name!r} changed while its index was rebuilt")
            # Faces live only in index files: a rebuilt version has none, so no face model either.
            store.conn.execute("UPDATE lists SET index_dir = ?, face_model = NULL WHERE name = ?",
                               (str(directory), list_name))
    except BaseException:
        discard(directory)
        raise
    return directory
