"""HQ ingest: receive what kiosks send, store it idempotently, then receipt it.

Crossings, alerts and captures arrive through a shared subscription
(``$share/<group>/kiosk/v1/+/+/crossings``), so several workers on a clustered broker
split the load; status and health are retained per kiosk and go to every worker
(retained messages are not delivered to shared subscriptions). A receipt is published
only after the rows are committed: if a worker dies in between, the kiosk sends again and
the insert is a no-op.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTProtocolVersion

from appliance.domain import clock
from appliance.errors import ProtocolError
from appliance.uplink import mqtt, protocol
from hq import counters, history, reanchor
from hq.config import HQConfig
from hq.db import HQDatabase
from hq.publisher import Publisher, credentials

log = logging.getLogger(__name__)

BATCH_ITEM_KEYS = {"seq": int, "kind": str, "id": str, "created_at": str, "data": str}
CHUNK_KEYS = {"seq": int, "id": str, "offset": int, "total": int, "chunk": bytes}
KNOWN_KINDS = set(protocol.TOPIC_OF_KIND)


class Ingest:
    def __init__(self, config: HQConfig, db: HQDatabase) -> None:
        self.config, self.db = config, db
        self.key = protocol.load_private_key(config.hq.signing_key_file)
        self.broker = mqtt.Broker.from_url(config.broker.url)
        self.credentials = credentials(config)
        self.version = mqtt.protocol_version(config.broker.protocol)
        self.backoff = mqtt.Backoff(0.5, 30.0)
        self.client: paho.Client | None = None
        self.connected = threading.Event()
        self.stored = 0
        self.rejected = 0
        # What /metrics shows, kept in the database so every worker's counts add up there.
        self.counts = counters.Counts(db, self.config.client_id)
        self._next_compaction = 0.0
        self._connack: int | None = None
        self._pending_subacks: set[int] = set()
        self._keys: dict[tuple[str, str], Any] = {}

    # --- lifecycle ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Connect, subscribe and ingest until ``stop`` is set; reconnects with backoff."""
        while not stop.is_set():
            try:
                if not self.connected.is_set():
                    if not self._connect():
                        stop.wait(self.backoff.next())
                        continue
                    self.backoff.reset()
                client = self.client
                assert client is not None  # _connect made it, and nothing unsets it
                if client.loop(timeout=0.2) != paho.MQTT_ERR_SUCCESS:
                    log.warning("lost the broker %s; reconnecting", self.broker)
                    self.connected.clear()
                self._housekeeping()
            except Exception:
                log.exception("ingest error; reconnecting")
                self.connected.clear()
                stop.wait(self.backoff.next())
        if self.client is not None and self.connected.is_set():
            self.client.disconnect()
        self.counts.flush()

    def _housekeeping(self) -> None:
        """Every few seconds the counters reach the database; every hour the health history is compacted."""
        self.counts.flush_if_due()
        if time.monotonic() >= self._next_compaction:
            self._next_compaction = time.monotonic() + 3600
            history.compact(self.db, raw_days=self.config.hq.history_raw_days,
                            keep_days=self.config.hq.history_keep_days)

    def _connect(self) -> bool:
        if self.client is None or self.client.protocol != self.version:
            self.client = mqtt.make_client(self.config.client_id, self.broker, self.credentials, self.version,
                                           persistent=True)
            self.client.on_connect = self._on_connect
            self.client.on_message = self._on_message
            self.client.on_subscribe = self._on_subscribe
            self.client.on_disconnect = lambda *args: self.connected.clear()
        self._connack = None
        try:
            mqtt.connect(self.client, self.broker, keepalive=30, persistent=True, session_expiry_s=24 * 3600)
        except OSError as exc:
            log.warning("cannot reach broker %s: %s", self.broker, exc)
            return False
        mqtt.wait_for(lambda: self._connack is not None, 15.0, self.client)
        if self._connack in mqtt.UNSUPPORTED_PROTOCOL and self.config.broker.protocol == "auto":
            self.version = MQTTProtocolVersion.MQTTv311
        return self._connack == 0 and mqtt.wait_for(self.connected.is_set, 15.0, self.client)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        self._connack = reason_code.value if hasattr(reason_code, "value") else int(reason_code)
        if self._connack != 0:
            log.error("broker %s refused the connection: %s", self.broker, reason_code)
            return
        group = self.config.broker.share_group
        topics = [f"$share/{group}/{protocol.TOPIC_ROOT}/+/+/{leaf}" for leaf in ("alerts", "crossings", "captures")]
        topics += [f"{protocol.TOPIC_ROOT}/+/+/{leaf}" for leaf in ("status", "health")]
        self._pending_subacks = {client.subscribe(t, qos=1)[1] for t in topics}
        log.info("ingest connected to %s as %s", self.broker, self.config.client_id)

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        failed = [code for code in reason_codes if getattr(code, "is_failure", False)]
        if failed:
            log.error("the broker refused a subscription: %s", failed)
            return
        self._pending_subacks.discard(mid)
        if not self._pending_subacks and not self.connected.is_set():
            self.connected.set()
            # Scripts and the benchmark wait for this line before they start sending.
            log.warning("ingest ready: subscribed on %s", self.broker)

    # --- messages -----------------------------------------------------------------------

    def _on_message(self, _client, _userdata, message) -> None:
        parts = None
        try:
            parts = protocol.parse_topic(message.topic)
            if parts.leaf not in protocol.KIOSK_TO_HQ:
                raise ProtocolError(f"{parts.leaf!r} is not a kiosk-to-HQ topic")
            if not message.payload:
                return  # a cleared retained message
            received = protocol.open_message(message.payload, message.topic, self._kiosk_key(parts))
            handler = getattr(self, f"_handle_{parts.leaf}")
            handler(parts, received)
            self.counts.add("messages", parts.leaf.split("/")[0])
        except ProtocolError as exc:
            self.rejected += 1
            self.counts.add("rejected", parts.leaf.split("/")[0] if parts is not None else "unknown")
            log.warning("dropped a message on %s: %s", message.topic, exc)
            if parts is not None:
                try:
                    self.db.record_rejected(parts.post_id, parts.kiosk_id)
                except Exception:
                    log.exception("could not count the rejected message")
        except Exception:
            # Not receipted, so the kiosk will send it again; log loudly, keep serving others.
            log.exception("storing a message from %s failed", message.topic)

    def _kiosk_key(self, parts: protocol.TopicParts):
        ident = (parts.post_id, parts.kiosk_id)
        if ident not in self._keys:
            text = self.db.public_key(*ident)
            if text is None:
                raise ProtocolError(f"kiosk {parts.post_id}/{parts.kiosk_id} is not enrolled")
            self._keys[ident] = protocol.load_public_key(text)
        return self._keys[ident]

    def _handle_status(self, parts, received) -> None:
        state = received.payload.get("state")
        if state not in ("online", "offline"):
            raise ProtocolError(f"status state {state!r} is not online/offline")
        self.db.record_status(parts.post_id, parts.kiosk_id, received.payload, received.sent_at)
        history.record_status(self.db, parts.post_id, parts.kiosk_id, received.payload, received.sent_at)

    def _handle_health(self, parts, received) -> None:
        self.db.record_health(parts.post_id, parts.kiosk_id, received.payload)
        history.record_health(self.db, parts.post_id, parts.kiosk_id, received.payload, received.sent_at)

    def _handle_crossings(self, parts, received) -> None:
        pairs = store_batch(self.db, parts.post_id, parts.kiosk_id, received.payload)
        self.stored += len(pairs)
        self._receipt(parts, {"batch": received.payload.get("batch"), "items": pairs})

    _handle_alerts = _handle_crossings

    def _handle_captures(self, parts, received) -> None:
        chunk = received.payload
        held, complete = store_capture(self.db, parts.post_id, parts.kiosk_id, chunk)
        if complete:
            self._receipt(parts, {"batch": chunk.get("batch"), "items": [[chunk["seq"], chunk["id"]]]})
        else:
            self._receipt(parts, {"batch": chunk.get("batch"), "items": [],
                                  "progress": [[chunk["seq"], chunk["id"], held]]})

    def _receipt(self, parts, payload: dict[str, Any]) -> None:
        topic = protocol.topic(parts.post_id, parts.kiosk_id, "receipts")
        payload["at"] = clock.iso(clock.utcnow())
        client = self.client
        assert client is not None  # a receipt answers a message this client delivered
        client.publish(topic, protocol.seal(self.key, topic, "receipt", payload), qos=1)
        self.counts.add("receipts", parts.leaf)


def store_batch(db: HQDatabase, post_id: str, kiosk_id: str, payload: dict[str, Any]) -> list[list[Any]]:
    """Check and store one batch of items (from MQTT or a USB stick); returns the [seq, id] pairs to receipt.

    Raises ProtocolError for a malformed batch, before anything is stored. The batch's crossings
    are then re-anchored with their boots (hq.reanchor); a resend re-anchors nothing twice.
    """
    items = _checked_items(payload)
    pairs = db.store_items(post_id, kiosk_id, items)
    reanchor.note_batch(db, post_id, kiosk_id, items)
    return pairs


def store_capture(db: HQDatabase, post_id: str, kiosk_id: str, chunk: dict[str, Any]) -> tuple[int, bool]:
    """Check and store one capture chunk; returns (bytes held, complete). Raises ProtocolError when malformed."""
    check_capture(chunk)
    return db.store_capture_chunk(post_id, kiosk_id, chunk)


def check_capture(chunk: dict[str, Any]) -> None:
    """Raises ProtocolError naming the first field of a capture chunk that is missing or of the wrong type."""
    for key, kind in CHUNK_KEYS.items():
        if not isinstance(chunk.get(key), kind):
            raise ProtocolError(f"capture chunk field {key!r} is missing or not {kind.__name__}")


def _checked_items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise ProtocolError("batch has no items")
    for item in items:
        if not isinstance(item, dict):
            raise ProtocolError("batch item is not a map")
        for key, kind in BATCH_ITEM_KEYS.items():
            if not isinstance(item.get(key), kind):
                raise ProtocolError(f"batch item field {key!r} is missing or not {kind.__name__}")
        if item["kind"] not in KNOWN_KINDS:
            raise ProtocolError(f"batch item kind {item['kind']!r} is unknown")
        try:
            record = json.loads(item["data"])
        except ValueError as exc:
            raise ProtocolError(f"batch item {item['id']!r}: data is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise ProtocolError(f"batch item {item['id']!r}: data is not a JSON object")
        _check_columns(item, record)
        item["text"], item["data"] = item["data"], record
    return items


SQL_INT = range(-(1 << 63), 1 << 63)  # SQLite INTEGER, PostgreSQL BIGINT


def _check_columns(item: dict[str, Any], record: dict[str, Any]) -> None:
    """The record's fields HQ stores in columns of their own must fit them, or the insert would fail
    after the batch was accepted (and the kiosk would send it again for ever)."""
    where = f"batch item {item['id']!r}"
    if item["seq"] not in SQL_INT:
        raise ProtocolError(f"{where}: seq {item['seq']} does not fit 64 bits")
    if item["kind"] == "crossing":
        seq = record.get("seq", 0)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq not in SQL_INT:
            raise ProtocolError(f"{where}: the crossing's seq {seq!r:.40} is not a 64-bit integer")
        if not isinstance(record.get("recorded_at", ""), str):
            raise ProtocolError(f"{where}: recorded_at is not text")
    for key in ("direction", "decision", "outcome"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise ProtocolError(f"{where}: {key} is not text")


def send_command(config: HQConfig, post_id: str, kiosk_id: str, command: str, ttl_s: int = 600) -> None:
    """Publish one signed, time-limited command to a kiosk (delivered when it next connects).

    Raises UplinkError if the broker cannot be reached or does not acknowledge it.
    """
    topic = protocol.topic(post_id, kiosk_id, "commands")
    expires = clock.iso(clock.utcnow() + timedelta(seconds=ttl_s))
    with Publisher(config, "cmd", timeout_s=10.0) as publisher:
        publisher.publish(topic, "command", {"command": command, "expires_at": expires})
