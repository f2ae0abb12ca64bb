"""Push a signed list bundle to kiosks over MQTT: retained chunks on each kiosk's ``lists/<list>/<i>``.

Retained, so a kiosk that is offline for days, or provisioned next month, gets the list
in force when it connects. The chunks of a bigger, older version that the new one does
not overwrite are cleared (empty retained message). The bundle itself is opaque here:
its signature, version chain and hashes are the kiosk's to check.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

from appliance.errors import ProtocolError, UplinkError
from appliance.uplink import protocol
from hq.config import HQConfig
from hq.db import HQDatabase
from hq.publisher import Publisher

CHUNK_BYTES = 256 * 1024
MAGIC = b"KIOSK-LIST-BUNDLE/1\n"


def bundle_identity(data: bytes) -> tuple[str, str]:
    """(list name, version) from a bundle's header; raises ProtocolError if it is not a bundle."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise ProtocolError("not a list bundle (bad magic)")
    (size,) = struct.unpack(">I", data[len(MAGIC): len(MAGIC) + 4])
    try:
        header = json.loads(data[len(MAGIC) + 4: len(MAGIC) + 4 + size])
        return str(header["list"]), str(header["version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"list bundle header is unreadable: {exc}") from None


def push(config: HQConfig, db: HQDatabase, data: bytes, kiosks: list[tuple[str, str]] | None = None,
         chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """Publish ``data`` to ``kiosks`` (default: every enrolled kiosk); returns what was sent."""
    name, version = bundle_identity(data)
    targets = kiosks if kiosks is not None else db.kiosks()
    if not targets:
        raise UplinkError("no kiosk to push to (enrol kiosks first)")
    chunks = [data[i: i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]
    digest = hashlib.sha256(data).hexdigest()
    with Publisher(config, "lists") as publisher:
        for post_id, kiosk_id in targets:
            previous = db.list_chunk_count(post_id, kiosk_id, name)
            for index, chunk in enumerate(chunks):
                topic = protocol.topic(post_id, kiosk_id, f"lists/{name}/{index}")
                publisher.publish(topic, "list_chunk", {"list": name, "version": version, "index": index,
                                                        "count": len(chunks), "sha256": digest, "data": chunk},
                                  retain=True)
            for index in range(len(chunks), previous):
                publisher.publish(protocol.topic(post_id, kiosk_id, f"lists/{name}/{index}"), "", None, retain=True)
            # Drain as we go: a big list to many kiosks is many megabytes.
            publisher.flush()
            db.record_list_push(post_id, kiosk_id, name, version, len(chunks))
    return {"list": name, "version": version, "bytes": len(data), "chunks": len(chunks),
            "kiosks": [f"{p}/{k}" for p, k in targets]}
