"""What to send next, and what HQ has receipted: the outbox drained in batches, in order.

The sender keeps a small window of batches in flight (sent, not yet receipted). A row
leaves the outbox only when HQ's receipt names it; PUBACK means nothing here, because the
broker having a message is not HQ having stored it. When receipts stop coming (timeout)
or the link drops, the whole window is forgotten and sent again from the oldest row:
HQ stores idempotently, so a resend costs bytes, never a duplicate.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from appliance.config import UplinkSection
from appliance.domain import clock
from appliance.errors import ProtocolError
from appliance.storage.store import Store
from appliance.uplink import outbox, status
from appliance.uplink.protocol import PRIORITY_OF_KIND

log = logging.getLogger(__name__)

CAPTURE_PRIORITY = 3
# Every priority a row can have, most urgent first. Asking each through the (priority, seq) index
# is a lookup; asking the outbox which priorities it holds (DISTINCT) reads the whole index, every
# turn of the uplink's loop, which a backlog of 100,000 rows makes the thread's main work.
PRIORITIES = sorted(set(PRIORITY_OF_KIND.values()))
# What an SQLite INTEGER holds: a receipt naming a seq outside it cannot name a row (and would
# make the DELETE itself fail rather than match nothing).
SQL_INT = range(-(1 << 63), 1 << 63)

# publish(leaf, kind, payload) -> True if handed to the client (False: link busy or down).
Publish = Callable[[str, str, dict[str, Any]], bool]
# capture_bytes(capture_id) -> (bytes, format) of a photo or template, or None if it is gone.
CaptureBytes = Callable[[str], "tuple[bytes, str] | None"]


@dataclass
class Batch:
    id: str
    leaf: str
    rows: dict[int, str]  # seq -> ref_id still waiting for a receipt
    sent_at: float
    priority: int
    capture: bool = False


@dataclass
class SenderStats:
    batches_sent: int = 0
    items_sent: int = 0
    receipted: int = 0
    resends: int = 0
    last_receipt_monotonic: float | None = None
    dropped: list[str] = field(default_factory=list)


class Sender:
    def __init__(self, store: Store, section: UplinkSection, publish: Publish,
                 capture_bytes: CaptureBytes | None = None,
                 heavy_work_allowed: Callable[[], bool] | None = None) -> None:
        self.store = store
        self.section = section
        self.publish = publish
        self.capture_bytes = capture_bytes
        # The power policy's say: photos and templates wait while the battery is low.
        self.heavy_work_allowed = heavy_work_allowed or (lambda: True)
        self.inflight: dict[str, Batch] = {}
        self.high_water: dict[int, int] = {}
        self.stats = SenderStats()

    # --- sending ------------------------------------------------------------------------

    def pump(self, now: float | None = None) -> int:
        """Fill the window; returns how many messages were handed to the client."""
        now = time.monotonic() if now is None else now
        self._expire(now)
        sent = 0
        while len(self.inflight) < self.section.max_inflight_batches:
            batch = self._next(now)
            if batch is None:
                break
            batch_obj, kind, payload = batch
            if not self.publish(batch_obj.leaf, kind, payload):
                break
            self.inflight[batch_obj.id] = batch_obj
            if not batch_obj.capture:
                self.high_water[batch_obj.priority] = max(batch_obj.rows)
            self.stats.batches_sent += 1
            self.stats.items_sent += len(batch_obj.rows)
            sent += 1
        return sent

    def idle(self) -> bool:
        return not self.inflight

    def _next(self, now: float) -> tuple[Batch, str, dict[str, Any]] | None:
        for priority in PRIORITIES:
            if priority == CAPTURE_PRIORITY:
                capture = self._next_capture(now)
                if capture is not None:
                    return capture
                continue
            rows = outbox.next_rows(self.store, priority, self.high_water.get(priority, 0),
                                    self.section.batch_max_items)
            if not rows:
                continue
            items: list[dict[str, Any]] = []
            size = 0
            for row in rows:
                if items and size + row.size > self.section.batch_max_bytes:
                    break
                items.append(row.item())
                size += row.size
            batch = Batch(id=str(uuid.uuid4()), leaf=rows[0].topic_leaf,
                          rows={item["seq"]: item["id"] for item in items}, sent_at=now, priority=priority)
            return batch, "batch", {"batch": batch.id, "items": items}
        return None

    def _next_capture(self, now: float) -> tuple[Batch, str, dict[str, Any]] | None:
        # Several captures may be in flight, each one chunk at a time: a capture's next
        # chunk's offset depends on HQ's answer to the one before. The slots are capped below
        # max_inflight_batches (UplinkSection.capture_slots), so captures, the lowest priority,
        # never take the whole window from crossings and alerts.
        if not self.section.send_captures or self.capture_bytes is None or not self.heavy_work_allowed():
            return None
        busy = {seq for batch in self.inflight.values() if batch.capture for seq in batch.rows}
        if len(busy) >= self.section.capture_slots:
            return None
        # Every capture in flight is still in the outbox, so one more row than there are
        # captures in flight always holds one that is not.
        for row in outbox.next_rows(self.store, CAPTURE_PRIORITY, 0, len(busy) + 1):
            if row.seq in busy:
                continue
            meta = row.payload
            found = self.capture_bytes(meta.get("capture_id", row.ref_id))
            if found is None:
                # The capture was purged (retention) before it could be sent: tell HQ it is
                # gone rather than block every capture behind it.
                data, fmt = b"", "missing"
            else:
                data, fmt = found
            offset = min(row.progress, len(data))
            chunk = data[offset: offset + self.section.capture_chunk_bytes]
            batch = Batch(id=str(uuid.uuid4()), leaf=row.topic_leaf, rows={row.seq: row.ref_id}, sent_at=now,
                          priority=CAPTURE_PRIORITY, capture=True)
            payload = {"batch": batch.id, "seq": row.seq, "id": row.ref_id, "crossing_id": meta.get("crossing_id"),
                       "kind": meta.get("kind"), "format": fmt, "offset": offset, "total": len(data),
                       "chunk": chunk}
            return batch, "capture_chunk", payload
        return None

    def _expire(self, now: float) -> None:
        if not self.inflight:
            return
        oldest = min(batch.sent_at for batch in self.inflight.values())
        if now - oldest > self.section.receipt_timeout_s:
            log.info("no receipt for %.0f s: sending %d unreceipted batch(es) again", now - oldest, len(self.inflight))
            self.stats.resends += len(self.inflight)
            self.reset()

    def reset(self) -> None:
        """Forget the window (link lost or receipts late): the next pump starts from the oldest row."""
        self.inflight.clear()
        self.high_water.clear()

    # --- receipts -----------------------------------------------------------------------

    def on_receipt(self, payload: dict[str, Any]) -> int:
        """Apply one receipt from HQ; returns how many outbox rows it released.

        Raises ProtocolError if the receipt is malformed (nothing is deleted then).
        """
        items = receipt_pairs(payload.get("items", []))
        progress = payload.get("progress", [])
        if not isinstance(progress, list) or not all(
            isinstance(p, list) and len(p) == 3 and isinstance(p[0], int) and p[0] in SQL_INT
            and isinstance(p[1], str) and isinstance(p[2], int) and 0 <= p[2] < SQL_INT.stop for p in progress
        ):
            raise ProtocolError("receipt 'progress' must be a list of [seq, id, offset]")
        # One transaction (one fsync) per receipt: the rows go and the receipt time is noted together.
        with self.store.transaction():
            released = outbox.acknowledge(self.store, items)
            for seq, ref_id, offset in progress:
                outbox.set_progress(self.store, seq, ref_id, offset)
            status.upsert(self.store, last_receipt_at=clock.iso(clock.utcnow()))
        done = {seq for seq, _ in items} | {p[0] for p in progress}
        for batch_id in list(self.inflight):
            batch = self.inflight[batch_id]
            for seq in done & batch.rows.keys():
                del batch.rows[seq]
            # A batch with rows HQ did not receipt stays in flight, so the timeout resends them.
            if not batch.rows:
                del self.inflight[batch_id]
        self.stats.receipted += released
        self.stats.last_receipt_monotonic = time.monotonic()
        return released


def receipt_pairs(items: Any) -> list[tuple[int, str]]:
    """The [seq, id] pairs of a receipt's ``items`` (MQTT or stick); raises ProtocolError for anything else."""
    if not isinstance(items, list):
        raise ProtocolError("receipt 'items' must be a list")
    pairs = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) and item[0] in SQL_INT
                and isinstance(item[1], str)):
            raise ProtocolError(f"receipt item {item!r} is not [seq, id]")
        pairs.append((item[0], item[1]))
    return pairs
