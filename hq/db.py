"""HQ's database: enrolled kiosks, crossings, events, captures and fleet presence.

SQLite by default, PostgreSQL by URL; the SQL is the subset both speak (``INSERT ... ON
CONFLICT``), and this module only swaps the parameter style. Every write that a receipt
will vouch for commits before the receipt is sent, and every insert is idempotent, so a
kiosk's resend is never a duplicate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from appliance.domain import clock
from appliance.errors import StoreError

if TYPE_CHECKING:  # psycopg is the optional hq-postgres extra, imported only for a PostgreSQL URL
    import psycopg

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS kiosks (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, public_key TEXT NOT NULL, enrolled_at TEXT NOT NULL,
        PRIMARY KEY (post_id, kiosk_id))""",
    """CREATE TABLE IF NOT EXISTS crossings (
        id TEXT PRIMARY KEY, post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, seq BIGINT NOT NULL,
        recorded_at TEXT NOT NULL, direction TEXT, decision TEXT, outcome TEXT,
        data TEXT NOT NULL, received_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS crossings_by_kiosk ON crossings(post_id, kiosk_id, seq)",
    """CREATE TABLE IF NOT EXISTS events (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
        created_at TEXT NOT NULL, data TEXT NOT NULL, received_at TEXT NOT NULL,
        PRIMARY KEY (post_id, kiosk_id, kind, id))""",
    """CREATE TABLE IF NOT EXISTS captures (
        id TEXT PRIMARY KEY, post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, crossing_id TEXT,
        kind TEXT, format TEXT, total BIGINT NOT NULL, data BYTEA NOT NULL, complete INTEGER NOT NULL,
        received_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS list_pushes (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, list TEXT NOT NULL, version TEXT NOT NULL,
        chunks INTEGER NOT NULL, pushed_at TEXT NOT NULL,
        PRIMARY KEY (post_id, kiosk_id, list))""",
    """CREATE TABLE IF NOT EXISTS audit_heads (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (post_id, kiosk_id, seq, hash))""",
    """CREATE TABLE IF NOT EXISTS fleet (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, state TEXT NOT NULL, boot_id TEXT, version TEXT,
        lists TEXT, health TEXT, state_at TEXT, health_at TEXT, last_seen TEXT NOT NULL,
        rejected INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (post_id, kiosk_id))""",
]


def where(*always: str, **equal: str | None) -> tuple[str, list[str]]:
    """`` WHERE`` with the ``always`` clauses and ``column = ?`` for each given (non-empty) value; "" if none."""
    clauses, params = list(always), []
    for column, value in equal.items():
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


class HQDatabase:
    """One connection, used by one ingest worker (or a CLI command) under a lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.RLock()
        self._ensured: set[tuple[str, ...]] = set()
        self.conn: psycopg.Connection[Any] | sqlite3.Connection
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError as exc:
                raise StoreError("PostgreSQL needs psycopg: pip install 'border-kiosk[hq-postgres]'") from exc
            try:
                self.conn = psycopg.connect(url, autocommit=False)
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to {url}: {exc}") from None
            self.postgres = True
        else:
            path = Path(url.removeprefix("sqlite://") if url.startswith("sqlite://") else url)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=FULL")
                self.conn.execute("PRAGMA busy_timeout=10000")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open HQ database {path}: {exc}") from None
            self.postgres = False
        with self.transaction():
            for statement in SCHEMA:
                self._execute(statement.replace("BYTEA", "BYTEA" if self.postgres else "BLOB"))

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> HQDatabase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def _execute(self, statement: str, params: Iterable[Any] = ()) -> Any:
        return self.conn.execute(self._sql(statement), tuple(params))

    def _rows(self, statement: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self.lock:
            rows = self._execute(statement, params).fetchall()
            if self.postgres:
                self.conn.rollback()  # end the read transaction psycopg opened
            return rows

    class _Tx:
        def __init__(self, db: "HQDatabase") -> None:
            self.db = db

        def __enter__(self) -> "HQDatabase":
            self.db.lock.acquire()
            if not self.db.postgres:
                self.db.conn.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            try:
                if exc_type is None:
                    self.db.conn.commit() if self.db.postgres else self.db.conn.execute("COMMIT")
                else:
                    self.db.conn.rollback() if self.db.postgres else self.db.conn.execute("ROLLBACK")
            finally:
                self.db.lock.release()

    def transaction(self) -> "_Tx":
        return HQDatabase._Tx(self)

    # The console's modules (history, users, alerts...) each own their tables and SQL and
    # reach the connection only through these three, so the parameter style and the read
    # transactions stay this module's business.

    def ensure(self, statements: tuple[str, ...]) -> None:
        """Create a module's tables once per connection (``CREATE ... IF NOT EXISTS``)."""
        if statements in self._ensured:
            return
        with self.transaction():
            for statement in statements:
                self._execute(statement.replace("BYTEA", "BYTEA" if self.postgres else "BLOB"))
        self._ensured.add(statements)

    def query(self, statement: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Rows of one read (``?`` placeholders on both back-ends); never inside ``transaction()``, which on
        PostgreSQL it would end."""
        return self._rows(statement, params)

    def run(self, statement: str, params: Iterable[Any] = ()) -> int:
        """One write inside ``with db.transaction():``; returns the rows it changed."""
        return self._execute(statement, params).rowcount

    # --- kiosks -------------------------------------------------------------------------

    def enrol(self, post_id: str, kiosk_id: str, public_key: str) -> None:
        """Trust ``public_key`` for the kiosk. A new key means a re-provisioned kiosk, whose
        audit log starts afresh: the heads kept for the old one are dropped with the old key."""
        with self.transaction():
            rows = self._execute("SELECT public_key FROM kiosks WHERE post_id = ? AND kiosk_id = ?",
                                 (post_id, kiosk_id)).fetchall()
            if rows and rows[0][0] != public_key:
                self._execute("DELETE FROM audit_heads WHERE post_id = ? AND kiosk_id = ?", (post_id, kiosk_id))
            self._execute(
                "INSERT INTO kiosks(post_id, kiosk_id, public_key, enrolled_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (post_id, kiosk_id) DO UPDATE SET public_key = excluded.public_key,"
                " enrolled_at = excluded.enrolled_at",
                (post_id, kiosk_id, public_key, clock.iso(clock.utcnow())),
            )

    def public_key(self, post_id: str, kiosk_id: str) -> str | None:
        rows = self._rows("SELECT public_key FROM kiosks WHERE post_id = ? AND kiosk_id = ?", (post_id, kiosk_id))
        return rows[0][0] if rows else None

    def kiosks(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in self._rows("SELECT post_id, kiosk_id FROM kiosks ORDER BY post_id, kiosk_id")]

    # --- what kiosks send ---------------------------------------------------------------

    def store_items(self, post_id: str, kiosk_id: str, items: list[dict[str, Any]]) -> list[list[Any]]:
        """Store a batch in one transaction; returns the [seq, id] pairs to receipt."""
        now = clock.iso(clock.utcnow())
        with self.transaction():
            for item in items:
                data = item["data"]
                # The text as the kiosk stored it, when it came over the wire: it is what HQ keeps.
                text = item.get("text") or json.dumps(data, ensure_ascii=False, sort_keys=True)
                if item["kind"] == "crossing":
                    self._execute(
                        "INSERT INTO crossings(id, post_id, kiosk_id, seq, recorded_at, direction, decision,"
                        " outcome, data, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (id) DO NOTHING",
                        (item["id"], post_id, kiosk_id, int(data.get("seq", 0)), str(data.get("recorded_at", "")),
                         data.get("direction"), data.get("decision"), data.get("outcome"),
                         text, now),
                    )
                else:
                    self._execute(
                        "INSERT INTO events(post_id, kiosk_id, kind, id, created_at, data, received_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (post_id, kiosk_id, kind, id) DO NOTHING",
                        (post_id, kiosk_id, item["kind"], item["id"], item["created_at"],
                         text, now),
                    )
                    if item["kind"] == "crossing_outcome":
                        self._execute("UPDATE crossings SET outcome = ? WHERE id = ? AND post_id = ? AND kiosk_id = ?",
                                      (data.get("outcome"), item["id"], post_id, kiosk_id))
            self._seen(post_id, kiosk_id, now)
        return [[item["seq"], item["id"]] for item in items]

    def store_capture_chunk(self, post_id: str, kiosk_id: str, chunk: dict[str, Any]) -> tuple[int, bool]:
        """Append a chunk if it continues the capture; returns (bytes held, complete)."""
        now = clock.iso(clock.utcnow())
        with self.transaction():
            rows = self._execute("SELECT data, complete FROM captures WHERE id = ?", (chunk["id"],)).fetchall()
            held = bytes(rows[0][0]) if rows else b""
            if rows and rows[0][1]:
                return len(held), True
            if chunk["offset"] == len(held):
                held += chunk["chunk"]
            complete = len(held) >= chunk["total"]
            self._execute(
                "INSERT INTO captures(id, post_id, kiosk_id, crossing_id, kind, format, total, data, complete,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " data = excluded.data, complete = excluded.complete, received_at = excluded.received_at",
                (chunk["id"], post_id, kiosk_id, chunk.get("crossing_id"), chunk.get("kind"), chunk.get("format"),
                 chunk["total"], held, int(complete), now),
            )
            self._seen(post_id, kiosk_id, now)
        return len(held), complete

    def record_status(self, post_id: str, kiosk_id: str, payload: dict[str, Any], sent_at: str) -> None:
        now = clock.iso(clock.utcnow())
        with self.transaction():
            self._seen(post_id, kiosk_id, now)
            self._execute(
                "UPDATE fleet SET state = ?, boot_id = ?, version = ?, lists = ?, state_at = ?"
                " WHERE post_id = ? AND kiosk_id = ?",
                (str(payload.get("state")), payload.get("boot_id"), payload.get("version"),
                 json.dumps(payload.get("lists", {})), sent_at or now, post_id, kiosk_id),
            )

    def record_health(self, post_id: str, kiosk_id: str, payload: dict[str, Any]) -> None:
        now = clock.iso(clock.utcnow())
        head = payload.get("audit_head")
        with self.transaction():
            self._seen(post_id, kiosk_id, now)
            self._execute("UPDATE fleet SET health = ?, health_at = ? WHERE post_id = ? AND kiosk_id = ?",
                          (json.dumps(payload, ensure_ascii=False), now, post_id, kiosk_id))
            if isinstance(head, dict) and isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str):
                self._execute(
                    "INSERT INTO audit_heads(post_id, kiosk_id, seq, hash, first_seen) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (post_id, kiosk_id, seq, hash) DO NOTHING",
                    (post_id, kiosk_id, head["seq"], head["hash"], now),
                )

    def audit_alarm(self, post_id: str, kiosk_id: str) -> str | None:
        """Why the kiosk's audit log cannot be trusted any more, from the heads HQ kept; None if intact.

        Two different hashes reported for one seq mean the chain was rebuilt; a head lower
        than one reported earlier means entries were cut off the end.
        """
        rows = self._rows("SELECT seq, hash, first_seen FROM audit_heads WHERE post_id = ? AND kiosk_id = ?"
                          " ORDER BY first_seen, seq", (post_id, kiosk_id))
        hashes: dict[int, str] = {}
        highest = -1
        for seq, digest, first_seen in rows:
            if seq in hashes and hashes[seq] != digest:
                return f"audit entry {seq} was reported with two different hashes: the log was rewritten"
            if seq < highest:
                return f"audit head went back from {highest} to {seq} at {first_seen}: entries were removed"
            hashes[seq] = digest
            highest = max(highest, seq)
        return None

    def record_rejected(self, post_id: str, kiosk_id: str) -> None:
        with self.transaction():
            self._execute("UPDATE fleet SET rejected = rejected + 1 WHERE post_id = ? AND kiosk_id = ?",
                          (post_id, kiosk_id))

    def _seen(self, post_id: str, kiosk_id: str, now: str) -> None:
        self._execute(
            "INSERT INTO fleet(post_id, kiosk_id, state, last_seen) VALUES (?, ?, 'unknown', ?)"
            " ON CONFLICT (post_id, kiosk_id) DO UPDATE SET last_seen = excluded.last_seen",
            (post_id, kiosk_id, now),
        )

    def record_list_push(self, post_id: str, kiosk_id: str, name: str, version: str, chunks: int) -> None:
        with self.transaction():
            self._execute(
                "INSERT INTO list_pushes(post_id, kiosk_id, list, version, chunks, pushed_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (post_id, kiosk_id, list) DO UPDATE SET version = excluded.version,"
                " chunks = excluded.chunks, pushed_at = excluded.pushed_at",
                (post_id, kiosk_id, name, version, chunks, clock.iso(clock.utcnow())),
            )

    def list_chunk_count(self, post_id: str, kiosk_id: str, name: str) -> int:
        rows = self._rows("SELECT chunks FROM list_pushes WHERE post_id = ? AND kiosk_id = ? AND list = ?",
                          (post_id, kiosk_id, name))
        return rows[0][0] if rows else 0

    # --- reading ------------------------------------------------------------------------

    def crossings(self, post_id: str | None = None, kiosk_id: str | None = None) -> list[dict[str, Any]]:
        """Crossings HQ holds, per kiosk in the kiosk's own order (its seq)."""
        clause, params = where(post_id=post_id, kiosk_id=kiosk_id)
        rows = self._rows(f"SELECT data, outcome, received_at FROM crossings{clause} ORDER BY post_id, kiosk_id, seq",
                          params)
        out = []
        for data, outcome, received_at in rows:
            crossing = json.loads(data)
            if outcome:
                crossing["outcome"] = outcome
            crossing["received_at"] = received_at
            out.append(crossing)
        return out

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        where, params = (" WHERE kind = ?", [kind]) if kind else ("", [])
        rows = self._rows(f"SELECT post_id, kiosk_id, kind, id, created_at, data FROM events{where}"
                          " ORDER BY created_at", params)
        return [{"post_id": p, "kiosk_id": k, "kind": kd, "id": i, "created_at": c, "data": json.loads(d)}
                for p, k, kd, i, c, d in rows]

    def captures(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT id, post_id, kiosk_id, crossing_id, kind, format, total, data, complete"
                          " FROM captures ORDER BY received_at")
        return [{"id": i, "post_id": p, "kiosk_id": k, "crossing_id": c, "kind": kd, "format": f, "total": t,
                 "bytes": len(bytes(d)), "complete": bool(done), "data": bytes(d)}
                for i, p, k, c, kd, f, t, d, done in rows]

    def fleet(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT k.post_id, k.kiosk_id, f.state, f.boot_id, f.version, f.lists, f.health, f.state_at,"
            " f.health_at, f.last_seen, f.rejected FROM kiosks k LEFT JOIN fleet f"
            " ON f.post_id = k.post_id AND f.kiosk_id = k.kiosk_id ORDER BY k.post_id, k.kiosk_id"
        )
        out = []
        for post, kiosk, state, boot, version, lists, health, state_at, health_at, last_seen, rejected in rows:
            out.append({"post_id": post, "kiosk_id": kiosk, "state": state or "never seen", "boot_id": boot,
                        "version": version, "lists": json.loads(lists) if lists else {},
                        "health": json.loads(health) if health else None, "state_at": state_at,
                        "health_at": health_at, "last_seen": last_seen, "rejected": rejected or 0})
        return out
