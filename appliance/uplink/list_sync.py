"""List bundles arriving over MQTT: reassemble the retained chunks, then hand the bundle to the list code.

HQ publishes each bundle as retained chunks on ``lists/<list>/<index>`` (see
hq/list_push.py), each ``{"list", "version", "index", "count", "sha256", "data"}``. The
transport checks only that the pieces fit together (count, SHA-256 of the whole); the
bundle's own Ed25519 signature, version chain and hashes are checked by
``appliance.lists.apply_bundle``, exactly as for a bundle from a USB stick. Applying can
take a while (index builds), so it runs in its own thread, never in the MQTT loop.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any, Callable

from appliance.errors import KioskError, ProtocolError

log = logging.getLogger(__name__)

# A bundle bigger than this never travels over MQTT (full SLTD copies go by USB stick).
MAX_BUNDLE_BYTES = 512 * 1024 * 1024


class ListAssembler:
    def __init__(self, apply: Callable[[bytes], dict], current_version: Callable[[str], str | None],
                 record: Callable[..., None] | None = None,
                 heavy_work_allowed: Callable[[], bool] | None = None, recheck_s: float = 30.0) -> None:
        self.apply = apply
        self.current_version = current_version
        self.record = record or (lambda **_: None)
        # Index builds are heavy: on a low battery they wait for the power policy's go.
        self.heavy_work_allowed = heavy_work_allowed or (lambda: True)
        self.recheck_s = recheck_s
        self._parts: dict[tuple[str, str, str], dict[int, bytes]] = {}
        self._lock = threading.Lock()
        self._applying: set[tuple[str, str]] = set()
        self.applied: list[dict] = []
        self.failed: list[str] = []

    def on_message(self, leaf: str, payload: dict[str, Any]) -> None:
        """One chunk from ``lists/<list>/<index>``; raises ProtocolError for a malformed one."""
        name, version, index, count, digest, data = _checked(leaf, payload)
        if self.current_version(name) == version:
            return  # already in force (the retained chunks come again at every reconnect)
        key = (name, version, digest)
        with self._lock:
            parts = self._parts.setdefault(key, {})
            parts[index] = data
            # Older versions' chunks are superseded by any newer arrival for the same list.
            for other in [k for k in self._parts if k[0] == name and k != key]:
                del self._parts[other]
            if len(parts) < count or (name, version) in self._applying:
                return
            bundle = b"".join(parts[i] for i in range(count))
            del self._parts[key]
            self._applying.add((name, version))
        if hashlib.sha256(bundle).hexdigest() != digest:
            with self._lock:
                self._applying.discard((name, version))
            raise ProtocolError(f"list {name} {version}: reassembled bundle does not match its SHA-256")
        threading.Thread(target=self._apply, args=(name, version, bundle), name=f"list-apply-{name}",
                         daemon=True).start()

    def _apply(self, name: str, version: str, bundle: bytes) -> None:
        try:
            if not self.heavy_work_allowed():
                log.warning("list %s version %s waits: battery too low for an index build", name, version)
                self.record(last_list_error=f"{name} {version}: deferred until the battery recovers")
                while not self.heavy_work_allowed():
                    time.sleep(self.recheck_s)
            result = self.apply(bundle)
            self.applied.append(result)
            log.info("list %s version %s applied from MQTT", name, version)
            self.record(last_list_applied=f"{name} {version}", last_list_error=None)
        except KioskError as exc:
            # A bad bundle leaves the old list in force; HQ sees the reason in health/status.
            self.failed.append(f"{name} {version}: {exc}")
            log.error("list %s version %s refused: %s", name, version, exc)
            self.record(last_list_error=f"{name} {version}: {exc}")
        except Exception:
            self.failed.append(f"{name} {version}: internal error")
            log.exception("applying list %s version %s failed", name, version)
        finally:
            with self._lock:
                self._applying.discard((name, version))


def _checked(leaf: str, payload: dict[str, Any]) -> tuple[str, str, int, int, str, bytes]:
    parts = leaf.split("/")
    if len(parts) != 3 or parts[0] != "lists":
        raise ProtocolError(f"list topic leaf {leaf!r} is not lists/<list>/<index>")
    name, version = payload.get("list"), payload.get("version")
    index, count, digest, data = payload.get("index"), payload.get("count"), payload.get("sha256"), payload.get("data")
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(digest, str)
            and isinstance(index, int) and isinstance(count, int) and isinstance(data, bytes)):
        raise ProtocolError("list chunk needs list, version, index, count, sha256 and data")
    if name != parts[1] or str(index) != parts[2]:
        raise ProtocolError(f"list chunk {name}/{index} arrived on {leaf!r}")
    if not 0 <= index < count or count * len(data) > MAX_BUNDLE_BYTES + len(data):
        raise ProtocolError(f"list chunk index {index} of {count} is out of range or too large")
    return name, version, index, count, digest, data
