"""``kiosk-hq import``: crossings a kiosk exported to a USB stick, ingested exactly once and receipted in a file.

The file is checked (the kiosk's enrolled signature), decrypted (HQ's stick key) and
stored through the same calls as an MQTT batch (``ingest.store_batch``/``store_capture``:
idempotent inserts), so a crossing that came both ways is held once. Each export is
imported once: HQ keeps the exports it took per kiosk and refuses the same one again or
an older one (its receipt was already written; a lost receipt is replaced by a new
export, which holds everything still unreceipted). If HQ stops between storing and
recording the import, importing the file again stores nothing twice.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterable

from appliance.domain import clock
from appliance.errors import ConfigError, ProtocolError
from appliance.lists import bundle as bundle_format
from appliance.uplink import protocol, stick
from hq import ingest
from hq.config import HQConfig
from hq.db import HQDatabase

TABLES = (
    """CREATE TABLE IF NOT EXISTS stick_imports (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, export_seq BIGINT NOT NULL, export_id TEXT NOT NULL,
        created_at TEXT NOT NULL, imported_at TEXT NOT NULL, items INTEGER NOT NULL, captures INTEGER NOT NULL,
        new_crossings INTEGER NOT NULL, kiosk_key TEXT NOT NULL, PRIMARY KEY (post_id, kiosk_id, kiosk_key, export_seq))""",
)
LISTS_DIR = "lists"


def import_file(config: HQConfig, db: HQDatabase, path: Path, receipt_out: Path | None = None,
                list_bundles: Iterable[Path] = ()) -> dict[str, Any]:
    """Import one export file; write its signed receipt (default: beside it) and any list bundles to carry back.

    Returns {post_id, kiosk_id, export_seq, export_id, items, crossings, new_crossings,
    captures, receipt, lists}. Raises ProtocolError (bad, foreign, replayed or truncated
    file: nothing stored, nothing written) or ConfigError (no stick key configured).
    """
    bundles = [_read_bundle(p) for p in list_bundles]  # a wrong bundle is refused before anything changes
    if config.hq.stick_key_file is None:
        raise ConfigError("hq.stick_key_file is not set: create the key with `kiosk-hq keygen --stick`")
    stick_key = stick.load_private_key(config.hq.stick_key_file)
    signing_key = protocol.load_private_key(config.hq.signing_key_file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(f"cannot read {path}: {exc.strerror or exc}") from None
    export = stick.open_export(data, lambda post, kiosk: _enrolled(db, post, kiosk), stick_key)
    post_id, kiosk_id, header = export.post_id, export.kiosk_id, export.header
    db.ensure(TABLES)
    # The export counter is the kiosk's: a re-provisioned kiosk (a new key) counts from 1 again.
    kiosk_key = db.public_key(post_id, kiosk_id) or ""
    _refuse_replay(db, post_id, kiosk_id, kiosk_key, header)

    captures = export.payload["captures"]
    for chunk in captures:  # all checked before the first row is stored
        if not isinstance(chunk, dict):
            raise ProtocolError("export capture is not a map")
        ingest.check_capture(chunk)
        if chunk["offset"] != 0 or len(chunk["chunk"]) != chunk["total"]:
            raise ProtocolError(f"export capture {chunk['id']!r} is not whole")
    items = export.payload["items"]
    crossing_ids = [item.get("id") for item in items if isinstance(item, dict) and item.get("kind") == "crossing"]
    already = _held(db, post_id, kiosk_id, [str(i) for i in crossing_ids])
    pairs = ingest.store_batch(db, post_id, kiosk_id, {"batch": header["export_id"], "items": items}) if items else []
    for chunk in captures:
        _held_bytes, complete = ingest.store_capture(db, post_id, kiosk_id, chunk)
        if complete:
            pairs.append([chunk["seq"], chunk["id"]])
    new_crossings = len(crossing_ids) - len(already)
    now = clock.iso(clock.utcnow())
    receipt = receipt_out or stick.receipt_path(path)
    payload = {"batch": header["export_id"], "export_seq": header["export_seq"], "items": pairs, "progress": [],
               "at": now}
    # The receipt and the bundles are on the stick (as .part) before the import is recorded:
    # a full or pulled stick then leaves nothing recorded, and the same file can be imported again.
    files = [(receipt, stick.seal_receipt(signing_key, post_id, kiosk_id, payload))]
    files += [(receipt.parent / LISTS_DIR / f"{index:02d}-{source.name}", content)
              for index, (source, content) in enumerate(bundles, start=1)]
    partials: list[Path] = []
    try:
        for target, content in files:
            partials.append(_write_partial(target, content))
        with db.transaction():
            db.run("INSERT INTO stick_imports(post_id, kiosk_id, export_seq, export_id, created_at, imported_at,"
                   " items, captures, new_crossings, kiosk_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (post_id, kiosk_id, header["export_seq"], header["export_id"], header["created_at"], now,
                    len(items), len(captures), new_crossings, kiosk_key))
    except BaseException:
        for partial in partials:
            partial.unlink(missing_ok=True)
        raise
    for partial, (target, _content) in zip(partials, files):
        stick.commit_file(partial, target)
    written = [str(target) for target, _content in files[1:]]
    return {"post_id": post_id, "kiosk_id": kiosk_id, "export_seq": header["export_seq"],
            "export_id": header["export_id"], "items": len(items), "crossings": len(crossing_ids),
            "new_crossings": new_crossings, "captures": len(captures), "receipted": len(pairs),
            "receipt": str(receipt), "lists": written}


def _enrolled(db: HQDatabase, post_id: str, kiosk_id: str) -> Any:
    text = db.public_key(post_id, kiosk_id)
    if text is None:
        raise ProtocolError(f"export is from kiosk {post_id}/{kiosk_id}, which is not enrolled at this HQ")
    return protocol.load_public_key(text)


def _refuse_replay(db: HQDatabase, post_id: str, kiosk_id: str, kiosk_key: str, header: dict[str, Any]) -> None:
    rows = db.query("SELECT export_seq, export_id, imported_at FROM stick_imports WHERE post_id = ? AND kiosk_id = ?"
                    " AND kiosk_key = ? ORDER BY export_seq DESC LIMIT 1", (post_id, kiosk_id, kiosk_key))
    if not rows:
        return
    last_seq, last_id, imported_at = rows[0]
    if header["export_seq"] == last_seq and header["export_id"] == last_id:
        raise ProtocolError(f"export #{last_seq} of {post_id}/{kiosk_id} was already imported at {imported_at}: "
                            "its crossings are held once; to receipt them again, make a new export on the kiosk")
    if header["export_seq"] <= last_seq:
        raise ProtocolError(f"export #{header['export_seq']} of {post_id}/{kiosk_id} is older than export "
                            f"#{last_seq} imported at {imported_at}: everything it holds came with that one")


def _held(db: HQDatabase, post_id: str, kiosk_id: str, ids: list[str]) -> set[str]:
    held: set[str] = set()
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ",".join("?" * len(part))
        held.update(row[0] for row in db.query(
            f"SELECT id FROM crossings WHERE post_id = ? AND kiosk_id = ? AND id IN ({marks})",
            (post_id, kiosk_id, *part)))
    return held


def _read_bundle(path: Path) -> tuple[Path, bytes]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(f"cannot read list bundle {path}: {exc.strerror or exc}") from None
    if not content.startswith(bundle_format.MAGIC):
        raise ProtocolError(f"{path} is not a list bundle (made by `kiosk-hq lists publish`)")
    return path, content


def _write_partial(path: Path, content: bytes) -> Path:
    """``content`` in ``<path>.part``, fsynced; renamed once the import is recorded, so a stick pulled out
    mid-write never holds half a receipt. Raises ProtocolError naming the file when it cannot be written."""
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):  # its folder may be what failed
            partial.unlink(missing_ok=True)
        raise ProtocolError(f"cannot write {path}: {exc.strerror or exc}; nothing was recorded, import the file "
                            "again once there is room") from None
    return partial
