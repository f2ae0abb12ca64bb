"""The local SQLite store: opening with durable pragmas, schema migrations, integrity check.

Every table that holds something an officer was told is "recorded" (crossings, outbox,
audit) lives in this one file, opened in WAL mode with ``synchronous=FULL``: a COMMIT
returns only after the WAL is fsynced, so a power cut right after "recorded" loses
nothing. Write transactions are ``BEGIN IMMEDIATE`` so that two writers (the service and
a CLI command) queue on the busy timeout instead of failing half-way.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import sqlite_utils

from appliance.errors import StoreError

BUSY_TIMEOUT_MS = 10_000

# Each entry migrates the schema from version i to i+1 (PRAGMA user_version). Append only:
# a kiosk in the field may be several versions behind and replays the rest in order.
MIGRATIONS: list[str] = [
    # 1: officers, sessions, crossings, watchlists, audit, outbox, counters
    """
    CREATE TABLE officers (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'technician')),
        pin_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        officer_id TEXT NOT NULL REFERENCES officers(id),
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    );
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE crossings (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        post_id TEXT NOT NULL,
        kiosk_id TEXT NOT NULL,
        officer_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('entry', 'exit')),
        recorded_at TEXT NOT NULL,
        training INTEGER NOT NULL DEFAULT 0,
        document_source TEXT NOT NULL,
        mrz TEXT,
        document_format TEXT,
        document_code TEXT,
        issuing_state TEXT,
        document_number TEXT,
        surname TEXT,
        given_names TEXT,
        nationality TEXT,
        birth_date TEXT,
        sex TEXT,
        expiry_date TEXT,
        document_checks TEXT NOT NULL,
        screening TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('cleared', 'referred', 'refused')),
        note TEXT NOT NULL DEFAULT '',
        outcome TEXT CHECK (outcome IN ('cleared', 'refused')),
        outcome_by TEXT,
        outcome_at TEXT,
        outcome_note TEXT
    );
    CREATE INDEX crossings_recorded_at ON crossings(recorded_at);
    CREATE TABLE lists (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('persons', 'documents')),
        version TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        entries INTEGER NOT NULL
    );
    CREATE TABLE watchlist_persons (
        list TEXT NOT NULL REFERENCES lists(name),
        entry_id TEXT NOT NULL,
        surname TEXT NOT NULL,
        given_names TEXT NOT NULL,
        aliases TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL,
        nationality TEXT NOT NULL,
        document_issuer TEXT NOT NULL,
        document_number TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (list, entry_id)
    );
    CREATE TABLE watchlist_person_names (
        list TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        name_key TEXT NOT NULL,
        is_alias INTEGER NOT NULL
    );
    CREATE INDEX watchlist_person_names_key ON watchlist_person_names(name_key);
    CREATE INDEX watchlist_person_names_list ON watchlist_person_names(list, entry_id);
    CREATE INDEX watchlist_persons_document ON watchlist_persons(document_number);
    CREATE TABLE watchlist_documents (
        list TEXT NOT NULL REFERENCES lists(name),
        issuing_state TEXT NOT NULL,
        document_type TEXT NOT NULL,
        document_number TEXT NOT NULL,
        reason TEXT NOT NULL,
        line INTEGER NOT NULL
    );
    CREATE INDEX watchlist_documents_key ON watchlist_documents(document_number, issuing_state);
    CREATE INDEX watchlist_documents_list ON watchlist_documents(list);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        ref_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: uplink (send priority per message; connection and receipt state for `uplink status`)
    """
    ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE outbox ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_by_priority ON outbox(priority, seq);
    CREATE TABLE uplink_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 3: hardware (encrypted biometric captures, power history, why a capture is missing)
    """
    CREATE TABLE captures (
        id TEXT PRIMARY KEY,
        crossing_id TEXT REFERENCES crossings(id),
        kind TEXT NOT NULL CHECK (kind IN ('face', 'fingerprint')),
        format TEXT NOT NULL,
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        quality TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX captures_crossing ON captures(crossing_id);
    CREATE TABLE power_history (
        at TEXT NOT NULL,
        percent REAL,
        voltage REAL,
        charging INTEGER,
        on_mains INTEGER,
        solar_watts REAL,
        level TEXT NOT NULL
    );
    CREATE INDEX power_history_at ON power_history(at);
    ALTER TABLE crossings ADD COLUMN unavailable TEXT NOT NULL DEFAULT '{}';
    """,
    # 4: screening engine (list versions and bundles, screening results per crossing)
    """
    ALTER TABLE lists ADD COLUMN index_dir TEXT;
    ALTER TABLE lists ADD COLUMN published_at TEXT;
    ALTER TABLE lists ADD COLUMN source TEXT NOT NULL DEFAULT 'csv';
    CREATE TABLE list_bundles (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        list TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('full', 'delta')),
        version TEXT NOT NULL,
        base_version TEXT,
        published_at TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        records INTEGER NOT NULL
    );
    """,
    # 5: which embedder made a list version's faces (SHA-256 of its .tflite; NULL: no faces,
    # or faces of unknown model). Beside the version in `lists`, not in the index manifest:
    # screening and `kiosk lists status` already read that row, in the same transaction
    # that says which version is in force, and it switches with the version.
    """
    ALTER TABLE lists ADD COLUMN face_model TEXT;
    """,
    # 6: the supervisor's reason for an outcome (a code of a short list; the free text stays
    # in outcome_note), and each officer's crossing in progress (document, capture ids,
    # unavailable reasons: the captures themselves stay encrypted in `captures`), kept
    # through a reload or a new login and dropped once recorded, cancelled or too old.
    """
    ALTER TABLE crossings ADD COLUMN outcome_reason TEXT;
    CREATE TABLE drafts (
        officer_id TEXT PRIMARY KEY REFERENCES officers(id),
        body TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 7: the client's request id of a crossing (unique: a repeated record call answers the
    # first crossing, never a second one) with the decision's reason it was answered with;
    # the purpose of travel and, for a visa holder, the visa's number and type.
    """
    ALTER TABLE crossings ADD COLUMN request_id TEXT;
    CREATE UNIQUE INDEX crossings_request_id ON crossings(request_id) WHERE request_id IS NOT NULL;
    ALTER TABLE crossings ADD COLUMN decision_reason TEXT;
    ALTER TABLE crossings ADD COLUMN purpose TEXT;
    ALTER TABLE crossings ADD COLUMN visa_number TEXT;
    ALTER TABLE crossings ADD COLUMN visa_type TEXT;
    CREATE INDEX crossings_document ON crossings(document_number, issuing_state);
    """,
    # 8: trusted time: each crossing's time source, its uncertainty (NULL: no trusted source
    # since boot) and the boot reference HQ re-anchors an untrusted run from; the clock's
    # state (the last time seen, the current anchor) kept across restarts.
    """
    ALTER TABLE crossings ADD COLUMN time_source TEXT;
    ALTER TABLE crossings ADD COLUMN time_uncertainty_s REAL;
    ALTER TABLE crossings ADD COLUMN boot_id TEXT;
    ALTER TABLE crossings ADD COLUMN boot_s REAL;
    CREATE TABLE clock_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 9: the repeat-crossing check (the same document's last crossing in a direction) answered
    # from the index alone, newest first: on (document, state) only it read and sorted every
    # crossing of the document, which a frequent traveller's or a long offline backlog's
    # thousands of rows made the slowest step of recording a crossing.
    """
    DROP INDEX crossings_document;
    CREATE INDEX crossings_document ON crossings(document_number, issuing_state, direction, training, seq, recorded_at);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """One kiosk database file, shared by the threads of one process.

    sqlite3 connections must not be used by two threads at once, and the API serves
    requests on a thread pool, so all access goes through ``lock``. The kiosk serves one
    officer at a time: a single serialised connection is plenty and keeps writes ordered.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._configure()
        self.migrate()

    def _configure(self) -> None:
        try:
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"database {self.path} is not usable: {exc}") from None
        if mode.lower() != "wal":
            raise StoreError(f"database {self.path} refused WAL mode (got {mode!r}); is it on a network share?")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; returns how many migrations ran."""
        with self.lock:
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.path} has schema version {current}, newer than this software's "
                    f"{SCHEMA_VERSION}: refusing to touch it (was the software downgraded?)"
                )
            for version in range(current, SCHEMA_VERSION):
                with self.transaction():
                    for statement in _statements(MIGRATIONS[version]):
                        self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version={version + 1}")
            return SCHEMA_VERSION - current

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any error."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def integrity_check(self) -> list[str]:
        """SQLite's full integrity check; ['ok'] when the file is sound."""
        with self.lock:
            try:
                rows = [row[0] for row in self.conn.execute("PRAGMA integrity_check")]
                rows += [
                    f"foreign key violation in {row[0]} rowid {row[1]}"
                    for row in self.conn.execute("PRAGMA foreign_key_check")
                ]
            except sqlite3.DatabaseError as exc:
                # Damage bad enough that SQLite cannot even walk the file.
                return [f"database is malformed: {exc}"]
        if rows[1:] and rows[0] == "ok":
            rows = rows[1:]
        return rows

    def next_counter(self, name: str) -> int:
        """Next value of a monotonic counter; call inside a transaction. Never reuses a value,
        even after rows are deleted by retention."""
        row = self.conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row[0] if row else 0) + 1
        self.conn.execute(
            "INSERT INTO counters(name, value) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    def journal_mode(self) -> str:
        """SQLite's journal mode of the open file ("wal" once opened here)."""
        with self.lock:
            return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    """Split a migration into statements; sqlite3.complete_statement finds the boundaries.

    ``executescript`` is avoided on purpose: it COMMITs first, which would break the
    one-transaction-per-migration guarantee.
    """
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
