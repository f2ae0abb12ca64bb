"""Crossings by USB stick, the kiosk's side: export what HQ has not receipted, apply HQ's receipt file,
take the list bundles the stick brought back.

An export holds every outbox row HQ has not receipted (crossings, outcomes, alerts; with
``photos``, the photos and templates too, up to a byte budget): nothing leaves the outbox
when it is written, exactly as a batch sent over MQTT. Rows go only when HQ's signed
receipt file is applied, through the same ``outbox.acknowledge`` as an MQTT receipt. Each
export has a number from a counter that never goes back; a receipt is applied once, and
never one older than a receipt already applied (everything it names went with the newer
one). Files formats: ``appliance/uplink/stick.py``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterator

from appliance.config import Config
from appliance.domain import clock
from appliance.errors import BundleError, ConfigError, NotFound, ProtocolError, UplinkError
from appliance.lists.apply import apply_bundle
from appliance.storage import audit
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol, status, stick
from appliance.uplink.client import signing_key_path
from appliance.uplink.sender import CAPTURE_PRIORITY, receipt_pairs
from appliance.workflow import biometrics

EXPORT_COUNTER = "stick_export"
RECEIPT_COUNTER = "stick_receipt"
DEFAULT_PHOTO_BYTES = 256 * 1024 * 1024
LISTS_DIR = "lists"


def export(store: Store, config: Config, directory: Path, *, photos: bool = False,
           max_photo_bytes: int = DEFAULT_PHOTO_BYTES, actor: str = "cli") -> dict[str, Any]:
    """Write one signed, encrypted export of everything HQ has not receipted into ``directory``.

    Returns {file, export_seq, export_id, items, crossings, captures, captures_left, bytes}.
    Raises ConfigError without ``uplink.hq_stick_key``, UplinkError without the kiosk's
    signing key or when ``directory`` cannot be written (nothing counted or audited then).
    """
    if not config.uplink.hq_stick_key:
        raise ConfigError("uplink.hq_stick_key is not set: put HQ's stick key (`kiosk-hq keygen --stick`) in "
                          "the config; exports are encrypted for HQ and are not written without it")
    hq_key = stick.load_public_key(config.uplink.hq_stick_key)
    signing_key = protocol.load_private_key(signing_key_path(config))
    if not directory.is_dir():
        raise UplinkError(f"{directory} is not a directory (is the stick mounted?)")
    items = [row.item() for row in _rows(store, exclude=CAPTURE_PRIORITY)]
    captures, left = _captures(store, config, max_photo_bytes) if photos else ([], 0)
    with store.lock:
        export_seq = _counter(store, EXPORT_COUNTER) + 1
    export_id = str(uuid.uuid4())
    post_id, kiosk_id = config.kiosk.post_id, config.kiosk.kiosk_id
    data = stick.seal_export(signing_key, hq_key, post_id=post_id, kiosk_id=kiosk_id, export_id=export_id,
                             export_seq=export_seq, payload={"batch": export_id, "items": items, "captures": captures})
    target = directory / stick.export_name(post_id, kiosk_id, export_seq)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UplinkError(f"cannot write the export to {directory}: {exc.strerror or exc}") from None
    crossings = sum(item["kind"] == "crossing" for item in items)
    summary = {"file": str(target), "export_seq": export_seq, "export_id": export_id, "items": len(items),
               "crossings": crossings, "captures": len(captures), "captures_left": left, "bytes": len(data)}
    try:
        with store.transaction():
            if store.next_counter(EXPORT_COUNTER) != export_seq:
                raise UplinkError("another export was made at the same time; export again")
            status.upsert(store, **{f"stick_export_{export_seq}": export_id})
            audit.append(store, actor, "stick.export", export_id,
                         {k: v for k, v in summary.items() if k not in ("export_id", "file")} | {"file": target.name})
        # Only now the file gets its name: a stick pulled out before this holds no export.
        stick.commit_file(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return summary


def apply_receipt(store: Store, config: Config, path: Path, *, actor: str = "cli",
                  lists: bool = True) -> dict[str, Any]:
    """Apply HQ's receipt file: drop the outbox rows it names; then apply the list bundles beside it.

    Returns {export_seq, export_id, released, lists: [result or {"file", "error"}]}. Raises
    ProtocolError (not a receipt, truncated, another kiosk's, not signed by HQ, for an export
    this kiosk did not make, already applied or older than one applied: nothing changes),
    ConfigError without ``uplink.hq_public_key``.
    """
    if not config.uplink.hq_public_key:
        raise ConfigError("uplink.hq_public_key is not set: a receipt cannot be checked without HQ's public key")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(f"cannot read {path}: {exc.strerror or exc}") from None
    payload = stick.open_receipt(data, config.kiosk.post_id, config.kiosk.kiosk_id,
                                 protocol.load_public_key(config.uplink.hq_public_key))
    pairs = receipt_pairs(payload.get("items", []))
    export_seq, export_id = payload["export_seq"], payload["batch"]
    with store.transaction():
        made = status.read(store).get(f"stick_export_{export_seq}", ("", ""))[0]
        if made != export_id:
            raise ProtocolError(f"receipt names export #{export_seq} ({export_id}), which this kiosk did not make")
        applied = _counter(store, RECEIPT_COUNTER)
        if export_seq == applied:
            raise ProtocolError(f"the receipt of export #{export_seq} was already applied: nothing to do")
        if export_seq < applied:
            raise ProtocolError(f"receipt of export #{export_seq} is older than the receipt of export #{applied} "
                                "already applied: everything it names went with that one")
        released = outbox.acknowledge(store, pairs)
        store.conn.execute("INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET"
                           " value = excluded.value", (RECEIPT_COUNTER, export_seq))
        status.upsert(store, last_receipt_at=clock.iso(clock.utcnow()))
        audit.append(store, actor, "stick.receipt", export_id,
                     {"export_seq": export_seq, "named": len(pairs), "released": released, "file": path.name})
    results = apply_lists(store, config, path.parent / LISTS_DIR, actor=actor) if lists else []
    return {"export_seq": export_seq, "export_id": export_id, "named": len(pairs), "released": released,
            "lists": results}


def apply_lists(store: Store, config: Config, directory: Path, *, actor: str = "cli") -> list[dict[str, Any]]:
    """Apply every list bundle in ``directory`` in name order (HQ numbers them), each as `kiosk lists apply`.

    A bad bundle is refused (its row says why) and changes nothing; the others still apply.
    """
    results: list[dict[str, Any]] = []
    if not directory.is_dir():
        return results
    for file in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.endswith(".part")):
        try:
            results.append({"file": file.name, **apply_bundle(store, config, file.read_bytes(), actor=actor)})
        except (BundleError, OSError) as exc:
            results.append({"file": file.name, "error": str(exc)})
    return results


def survey(store: Store, config: Config, directory: Path) -> dict[str, Any]:
    """What a supervisor's screen shows before a stick is touched: whether one is there, what waits for HQ,
    and HQ's files for this kiosk on it. Reads only, and never raises for a missing or unreadable stick.

    Returns {directory, mounted, crossings, captures, items, receipts, lists}: ``mounted`` while
    ``directory`` is a folder this process can write (the image's mount point without a stick is
    on the read-only root); ``receipts`` the names of this kiosk's receipt files, newest export
    first (``kiosk-hq import`` names each after its export); ``lists`` the bundles in ``lists/``.
    """
    prefix = stick.export_name(config.kiosk.post_id, config.kiosk.kiosk_id, 0).rsplit("-", 1)[0] + "-"
    suffix = stick.RECEIPT_SUFFIX
    receipts: list[tuple[int, str]] = []
    lists: list[str] = []
    try:
        mounted = directory.is_dir() and os.access(directory, os.W_OK)
        for file in directory.iterdir() if mounted else ():
            name = file.name
            seq = name[len(prefix):-len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
            if seq.isascii() and seq.isdigit() and file.is_file():
                receipts.append((int(seq), name))
        bundles = directory / LISTS_DIR
        if mounted and bundles.is_dir():
            lists = sorted(p.name for p in bundles.iterdir() if p.is_file() and not p.name.endswith(".part"))
    except OSError:
        mounted, receipts, lists = False, [], []  # a stick pulled out (or failing) while it was read
    return {"directory": str(directory), "mounted": mounted, "crossings": outbox.depth(store, "crossing"),
            "captures": outbox.depth(store, "capture"), "items": outbox.depth(store),
            "receipts": [name for _seq, name in sorted(receipts, reverse=True)], "lists": lists}


def _rows(store: Store, exclude: int) -> Iterator[outbox.Row]:
    for priority in outbox.priorities(store):
        if priority == exclude:
            continue
        after = 0
        while rows := outbox.next_rows(store, priority, after, 1000):
            yield from rows
            after = rows[-1].seq


def _captures(store: Store, config: Config, budget: int) -> tuple[list[dict[str, Any]], int]:
    """Whole capture chunks for HQ, oldest first, up to ``budget`` bytes; and how many did not fit."""
    chunks: list[dict[str, Any]] = []
    used = left = 0
    after = 0
    while rows := outbox.next_rows(store, CAPTURE_PRIORITY, after, 200):
        after = rows[-1].seq
        for row in rows:
            meta = row.payload
            try:
                data, fmt = biometrics.read(store, config, meta.get("capture_id", row.ref_id))
            except NotFound:
                data, fmt = b"", "missing"  # purged before it could go: HQ is told it is gone, as over MQTT
            if used + len(data) > budget:
                left += 1
                continue
            used += len(data)
            chunks.append({"batch": None, "seq": row.seq, "id": row.ref_id, "crossing_id": meta.get("crossing_id"),
                           "kind": meta.get("kind"), "format": fmt, "offset": 0, "total": len(data), "chunk": data})
    return chunks, left


def _counter(store: Store, name: str) -> int:
    row = store.conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0
