"""Ingest counters (messages, rejected, receipts per topic) kept per worker in the database.

The console's ``/metrics`` runs in another process than the ingest workers, and there may
be several workers: each keeps its running totals in memory and writes them every few
seconds under its own client id, so the metrics add up over the whole fleet of workers.
A worker restarted with the same client id carries on from its stored totals, so the
counters stay monotonic as Prometheus expects.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from hq.db import HQDatabase

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ingest_counters (
        worker TEXT NOT NULL, name TEXT NOT NULL, topic TEXT NOT NULL, value BIGINT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (worker, name, topic))""",
)
FLUSH_EVERY_S = 5.0


class Counts:
    """``add(name, topic)`` from the ingest thread; ``flush()`` writes the totals."""

    def __init__(self, db: HQDatabase, worker: str) -> None:
        self.db, self.worker = db, worker
        db.ensure(SCHEMA)
        self.totals: Counter[tuple[str, str]] = Counter({
            (name, topic): value for name, topic, value in
            db.query("SELECT name, topic, value FROM ingest_counters WHERE worker = ?", (worker,))})
        self._dirty = False
        self._lock = threading.Lock()
        self._next_flush = time.monotonic() + FLUSH_EVERY_S

    def add(self, name: str, topic: str, count: int = 1) -> None:
        with self._lock:
            self.totals[(name, topic)] += count
            self._dirty = True

    def flush_if_due(self) -> None:
        if time.monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> None:
        self._next_flush = time.monotonic() + FLUSH_EVERY_S
        with self._lock:
            if not self._dirty:
                return
            totals, self._dirty = dict(self.totals), False
        with self.db.transaction():
            for (name, topic), value in totals.items():
                self.db.run("INSERT INTO ingest_counters(worker, name, topic, value, updated_at) VALUES (?, ?, ?, ?, ?)"
                            " ON CONFLICT (worker, name, topic) DO UPDATE SET value = excluded.value,"
                            " updated_at = excluded.updated_at", (self.worker, name, topic, value, time.time()))


def totals(db: HQDatabase) -> list[dict[str, Any]]:
    """Every worker's stored totals: [{worker, name, topic, value}]."""
    db.ensure(SCHEMA)
    return [{"worker": w, "name": n, "topic": t, "value": v}
            for w, n, t, v in db.query("SELECT worker, name, topic, value FROM ingest_counters ORDER BY worker, name, topic")]
