"""A card that never fills: keep the data partition under its budget by thinning photos, never crossings.

When the fill reaches ``storage.thin_percent`` of the budget, housekeeping first deletes
the photos of cleared travellers that HQ has receipted (the crossing and the photo: HQ
holds both), oldest first; if that is not enough, it replaces the remaining face photos by
small JPEG thumbnails, those HQ already holds first, then those not sent yet (a photo
half-way through its upload is left alone: HQ's copy would not match). Crossings,
fingerprint templates and the outbox are never touched. Each step, and each change of
level (ok, warn, thin, full), is audited; the level is what the officer's status bar and
HQ's health telemetry show.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from appliance.config import Config
from appliance.storage import audit
from appliance.storage.budget import DiskUsage, Fill, measure, statvfs_usage
from appliance.storage.store import Store
from appliance.uplink import status
from appliance.workflow import biometrics

log = logging.getLogger(__name__)

BATCH = 50
THUMBNAIL_FORMAT = "image/jpeg"
THUMBNAIL_QUALITY = 70

# Face photos of cleared travellers (the officer's decision or the supervisor's outcome)
# with neither the crossing nor the photo still waiting in the outbox for HQ's receipt.
_RECEIPTED_CLEARED = """
    SELECT c.id, length(c.ciphertext) FROM captures c JOIN crossings x ON x.id = c.crossing_id
    WHERE c.kind = 'face' AND (x.outcome = 'cleared' OR (x.outcome IS NULL AND x.decision = 'cleared'))
      AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id IN (c.id, x.id))
    ORDER BY c.created_at LIMIT ?"""
# Face photos not yet thumbnails and not half-way through an upload; HQ's already first.
_TO_THUMBNAIL = """
    SELECT c.id FROM captures c
    WHERE c.kind = 'face' AND c.crossing_id IS NOT NULL AND json_extract(c.quality, '$.thumbnail') IS NULL
      AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = c.id AND o.progress > 0)
    ORDER BY EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = c.id), c.created_at LIMIT ?"""


def enforce(store: Store, config: Config, disk_usage: DiskUsage = statvfs_usage,
            thumbnails_allowed: bool = True) -> dict[str, Any]:
    """One round: measure, thin photos while over ``thin_percent``; returns {level, percent, photos_deleted,
    thumbnails, thumbnails_unavailable}. Thumbnails (decoding photos: heavy) wait while
    ``thumbnails_allowed`` is False (the power policy defers heavy work); deleting does not.
    Raises OSError if the partition cannot be measured."""
    fill = measure(config, store, disk_usage)
    _note_level(store, fill)
    deleted = thumbnails = 0
    unavailable = "" if thumbnails_allowed else "deferred by the power policy"
    while fill.percent >= config.storage.thin_percent:
        count = _delete_receipted_cleared(store, fill)
        if not count:
            break
        deleted += count
        fill = _settle(store, config, disk_usage)
    while fill.percent >= config.storage.thin_percent and not unavailable:
        count, unavailable = _thumbnail_batch(store, config, fill)
        if not count:
            break
        thumbnails += count
        fill = _settle(store, config, disk_usage)
    _note_level(store, fill)
    return {"level": fill.level, "percent": fill.percent, "photos_deleted": deleted, "thumbnails": thumbnails,
            "thumbnails_unavailable": unavailable}


def level(store: Store, config: Config, disk_usage: DiskUsage = statvfs_usage) -> dict[str, Any]:
    """The fill now, as the status bar and telemetry show it; never raises (``level`` "unknown" and ``error``)."""
    try:
        return measure(config, store, disk_usage).to_dict()
    except OSError as exc:
        return {"level": "unknown", "error": str(exc)}


def _delete_receipted_cleared(store: Store, fill: Fill) -> int:
    with store.transaction():
        rows = store.conn.execute(_RECEIPTED_CLEARED, (BATCH,)).fetchall()
        if not rows:
            return 0
        store.conn.executemany("DELETE FROM captures WHERE id = ?", [(capture_id,) for capture_id, _ in rows])
        audit.append(store, "system", "storage.photos_deleted", "",
                     {"count": len(rows), "bytes": sum(size for _, size in rows), "fill_percent": fill.percent,
                      "reason": "cleared travellers, receipted by HQ"})
    return len(rows)


def _thumbnail_batch(store: Store, config: Config, fill: Fill) -> tuple[int, str]:
    """Thumbnails for one batch of photos; (how many, why none could be made or "")."""
    cv2 = _cv2()
    if cv2 is None:
        log.warning("the storage budget is tight but thumbnails need OpenCV, which is not installed")
        return 0, "OpenCV is not installed"
    key_bytes = biometrics.key(config)
    with store.lock:
        ids = [capture_id for (capture_id,) in store.conn.execute(_TO_THUMBNAIL, (BATCH,))]
    before = after = done = 0
    with store.transaction():
        for capture_id in ids:
            data, _fmt = biometrics.read(store, config, capture_id)
            small = _thumbnail(cv2, data, config.storage.thumbnail_width)
            row = store.conn.execute("SELECT quality FROM captures WHERE id = ?", (capture_id,)).fetchone()
            quality = json.loads(row[0]) if row and row[0] else {}
            quality["thumbnail"] = {"from_bytes": len(data), "width": config.storage.thumbnail_width}
            if small is None or len(small) >= len(data):
                # Not an image OpenCV reads, or already smaller than its thumbnail: marked, so
                # that it is not tried again, and kept as it is.
                quality["thumbnail"]["kept"] = "unreadable" if small is None else "already small"
                store.conn.execute("UPDATE captures SET quality = ? WHERE id = ?", (json.dumps(quality), capture_id))
                continue
            nonce, ciphertext = biometrics.encrypt(key_bytes, capture_id, "face", THUMBNAIL_FORMAT, small)
            store.conn.execute("UPDATE captures SET format = ?, nonce = ?, ciphertext = ?, quality = ? WHERE id = ?",
                               (THUMBNAIL_FORMAT, nonce, ciphertext, json.dumps(quality), capture_id))
            # A photo not sent yet goes to HQ as the thumbnail: its outbox row says so.
            store.conn.execute(
                "UPDATE outbox SET payload = json_set(payload, '$.format', ?) WHERE kind = 'capture' AND ref_id = ?",
                (THUMBNAIL_FORMAT, capture_id))
            before, after, done = before + len(data), after + len(small), done + 1
        if ids:
            audit.append(store, "system", "storage.thumbnails", "",
                         {"count": done, "tried": len(ids), "bytes_before": before, "bytes_after": after,
                          "fill_percent": fill.percent})
    return len(ids), ""


def _thumbnail(cv2: Any, data: bytes, width: int) -> bytes | None:
    import numpy as np

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    if image.shape[1] > width:
        image = cv2.resize(image, (width, max(1, round(image.shape[0] * width / image.shape[1]))),
                           interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    return encoded.tobytes() if ok else None


def _settle(store: Store, config: Config, disk_usage: DiskUsage) -> Fill:
    # The WAL holds the deleted and rewritten pages until a checkpoint; truncating it gives
    # the room back to the file system, so the next measure sees what the round freed.
    with store.lock:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return measure(config, store, disk_usage)


def _note_level(store: Store, fill: Fill) -> None:
    previous = status.read(store).get("storage_level", ("", ""))[0]
    if previous == fill.level:
        return
    with store.transaction():
        status.upsert(store, storage_level=fill.level)
        audit.append(store, "system", "storage.level", fill.level,
                     {"from": previous or None, "percent": fill.percent, "used_bytes": fill.used_bytes,
                      "budget_bytes": fill.budget_bytes})
    if fill.level in ("thin", "full"):
        log.warning("data partition at %.1f%% of its budget (%s)", fill.percent, fill.level)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2
