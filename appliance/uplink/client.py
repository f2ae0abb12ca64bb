"""The kiosk's MQTT uplink: one thread that connects, announces, drains the outbox and listens.

Start-up order inside the thread, each connection: CONNECT with a retained, signed
``offline`` last will → on CONNACK subscribe to receipts, commands and lists, publish the
retained ``online`` birth → then each turn of the loop: heartbeat, health when due, fill
the batch window from the outbox. Messages from HQ are verified (Ed25519, topic, schema)
before anything is done with them; anything else is logged and dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTProtocolVersion

from appliance import __version__
from appliance.config import Config
from appliance.domain import clock
from appliance.errors import ProtocolError, UplinkError
from appliance.storage.store import Store
from appliance.uplink import mqtt, protocol, status
from appliance.uplink.telemetry import list_versions
from appliance.uplink.sender import CaptureBytes, Sender

log = logging.getLogger(__name__)

CONNACK_TIMEOUT_S = 15.0
# The uplink thread runs at a lower CPU priority than the UI and screening: draining a
# backlog of days must never make the officer's screen lag.
UPLINK_NICE = 10


def signing_key_path(config: Config):
    return config.uplink.signing_key_file or config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key"


class Uplink:
    """Owns the MQTT connection of one kiosk. ``start()`` returns at once; ``stop()`` says goodbye."""

    def __init__(self, config: Config, store: Store, health: Callable[[], dict[str, Any]] | None = None,
                 capture_bytes: CaptureBytes | None = None,
                 on_list_message: Callable[[str, dict[str, Any]], None] | None = None,
                 heavy_work_allowed: Callable[[], bool] | None = None,
                 on_hq_time: Callable[[str], object] | None = None) -> None:
        section = config.uplink
        self.config, self.section, self.store = config, section, store
        self.broker = mqtt.Broker.from_url(section.broker_url)
        if not section.hq_public_key:
            raise UplinkError("uplink.hq_public_key is not set: receipts from HQ could not be checked")
        self.hq_key = protocol.load_public_key(section.hq_public_key)
        self.key = protocol.load_private_key(signing_key_path(config))
        self.credentials = mqtt.Credentials(
            username=section.username,
            password=section.password.get_secret_value() if section.password else None,
            ca_file=section.ca_file, cert_file=section.cert_file, key_file=section.key_file,
        )
        self.post_id, self.kiosk_id = config.kiosk.post_id, config.kiosk.kiosk_id
        self.client_id = f"kiosk-{self.post_id}-{self.kiosk_id}"
        self.boot_id = str(uuid.uuid4())
        self.health = health
        self.on_list_message = on_list_message
        # HQ's signed time of each receipt ("at"), a trusted time source (workflow.timekeeping).
        self.on_hq_time = on_hq_time
        self.sender = Sender(store, section, self._publish_sealed, capture_bytes, heavy_work_allowed)
        self.version = mqtt.protocol_version(section.protocol)
        self.backoff = mqtt.Backoff(section.reconnect_min_s, section.reconnect_max_s)
        self.dropped_messages = 0
        self._client: paho.Client | None = None
        self._connected = threading.Event()
        self._connack: int | None = None
        self._stop = threading.Event()
        self._health_now = threading.Event()
        self._rebirth = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_health = 0.0
        self._next_heartbeat = 0.0

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        status.write(self.store, connected=0, broker=str(self.broker), last_error=None)
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline`` (a clean stop does not fire the last will) and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        client = self._client
        if client is not None and self._connected.is_set():
            try:
                info = client.publish(self._topic("status"), self._status_payload("offline"), qos=1, retain=True)
                mqtt.wait_for(info.is_published, 2.0, client)
                client.disconnect()
            except Exception as exc:  # stopping must not fail because the link did
                log.warning("could not say goodbye to the broker: %s", exc)
        self._connected.clear()
        try:
            status.write(self.store, connected=0, heartbeat=None)
        except Exception:
            log.exception("could not record the uplink as stopped")

    def request_health(self) -> None:
        self._health_now.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), UPLINK_NICE)
        except (OSError, AttributeError):
            pass  # not Linux, or not allowed: run at normal priority
        while not self._stop.is_set():
            try:
                if not self._connected.is_set():
                    if not self._connect_once():
                        self._stop.wait(self.backoff.next())
                        continue
                    self.backoff.reset()
                client = self._client
                # Connected implies a client: only a failed _connect_once (never a connected state) drops it.
                assert client is not None
                rc = client.loop(timeout=0.02 if not self.sender.idle() else 0.25)
                if rc != paho.MQTT_ERR_SUCCESS or not self._connected.is_set():
                    self._lost(f"connection lost ({paho.error_string(rc)})")
                    continue
                self._turn()
            except Exception as exc:
                # The uplink must outlive any one bad moment; log it, drop the connection,
                # and come back through the backoff.
                log.exception("uplink error")
                self._lost(f"uplink error: {exc}")
                self._stop.wait(self.backoff.next())

    def _connect_once(self) -> bool:
        self._heartbeat(force=True)
        try:
            client = self._client_for(self.version)
            self._connack = None
            mqtt.connect(client, self.broker, self.section.keepalive_s, persistent=True,
                         session_expiry_s=self.section.session_expiry_s)
        except (OSError, UplinkError) as exc:
            self._record_error(f"cannot reach broker {self.broker}: {exc}")
            return False
        mqtt.wait_for(lambda: self._connack is not None, CONNACK_TIMEOUT_S, client)
        if self._connack == 0:
            return True
        if self._connack in mqtt.UNSUPPORTED_PROTOCOL and self.section.protocol == "auto" \
                and self.version == MQTTProtocolVersion.MQTTv5:
            log.info("broker %s does not speak MQTT 5; using 3.1.1", self.broker)
            self.version = MQTTProtocolVersion.MQTTv311
            self._client = None
        self._record_error(f"broker {self.broker} refused the connection (reason {self._connack})"
                           if self._connack is not None else f"no CONNACK from {self.broker}")
        try:
            client.disconnect()
        except Exception:
            pass
        return False

    def _client_for(self, version: MQTTProtocolVersion) -> paho.Client:
        if self._client is not None and self._client.protocol == version:
            return self._client
        client = mqtt.make_client(self.client_id, self.broker, self.credentials, version, persistent=True)
        client.will_set(self._topic("status"), self._status_payload("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        self._connack = reason_code.value if hasattr(reason_code, "value") else int(reason_code)
        if self._connack != 0:
            return
        for leaf in ("receipts", "commands", "lists/#"):
            client.subscribe(self._topic(leaf), qos=1)
        client.publish(self._topic("status"), self._status_payload("online"), qos=1, retain=True)
        self.sender.reset()  # whatever was in flight before may be lost: start from the oldest row
        self._next_health = 0.0  # health right after the birth
        self._connected.set()
        log.info("uplink connected to %s (MQTT %s)", self.broker, "5" if client.protocol == 5 else "3.1.1")
        status.write(self.store, connected=1, connected_at=clock.iso(clock.utcnow()), last_error=None,
                     protocol="5" if client.protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if self._connected.is_set():
            log.info("uplink disconnected: %s", reason_code)
        self._connected.clear()

    def _lost(self, why: str) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self.sender.reset()
        if was:
            log.warning("uplink: %s", why)
        self._record_error(why)
        try:
            status.write(self.store, connected=0)
        except Exception:
            log.exception("could not record the uplink as disconnected")

    def _turn(self) -> None:
        client = self._client
        assert client is not None  # _run turns only while connected, and connected implies a client
        now = time.monotonic()
        self._heartbeat()
        if self._rebirth.is_set():
            self._rebirth.clear()
            client.publish(self._topic("status"), self._status_payload("online"), qos=1, retain=True)
        if self.health is not None and (now >= self._next_health or self._health_now.is_set()):
            self._health_now.clear()
            self._next_health = now + self.section.health_interval_s
            self._publish_sealed("health", "health", self.health(), retain=True)
        self.sender.pump(now)

    def _heartbeat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now >= self._next_heartbeat:
            self._next_heartbeat = now + status.HEARTBEAT_S
            status.write(self.store, heartbeat=clock.iso(clock.utcnow()),
                         dropped_messages=self.dropped_messages)

    def _record_error(self, why: str) -> None:
        try:
            status.write(self.store, last_error=why)
        except Exception:
            log.exception("could not record the uplink error")

    # --- messages -----------------------------------------------------------------------

    def _topic(self, leaf: str) -> str:
        return protocol.topic(self.post_id, self.kiosk_id, leaf)

    def _status_payload(self, state: str) -> bytes:
        lists: dict[str, Any] = {}
        try:
            lists = {name: info["version"] for name, info in list_versions(self.store).items()}
        except Exception:
            log.exception("could not read list versions for the status message")
        return protocol.seal(self.key, self._topic("status"), "status",
                             {"state": state, "boot_id": self.boot_id, "version": __version__,
                              "lists": lists, "training": self.config.kiosk.training},
                             compress=self.section.compress)

    def _publish_sealed(self, leaf: str, kind: str, payload: dict[str, Any], retain: bool = False) -> bool:
        client = self._client
        if client is None or not self._connected.is_set():
            return False
        data = protocol.seal(self.key, self._topic(leaf), kind, payload, compress=self.section.compress)
        info = client.publish(self._topic(leaf), data, qos=1, retain=retain)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def _on_message(self, _client, _userdata, message) -> None:
        try:
            parts = protocol.parse_topic(message.topic)
            if (parts.post_id, parts.kiosk_id) != (self.post_id, self.kiosk_id):
                raise ProtocolError(f"message for another kiosk on {message.topic!r}")
            if not message.payload and message.retain and parts.leaf.startswith("lists/"):
                return  # HQ cleared a retained chunk a newer, smaller bundle no longer uses
            received = protocol.open_message(message.payload, message.topic, self.hq_key)
            leaf = parts.leaf.split("/", 1)[0]
            if leaf == "receipts":
                released = self.sender.on_receipt(received.payload)
                log.debug("receipt released %d outbox rows", released)
                if self.on_hq_time is not None and isinstance(received.payload.get("at"), str):
                    self.on_hq_time(received.payload["at"])
            elif leaf == "commands":
                self._command(received.payload)
            elif leaf == "lists" and self.on_list_message is not None:
                self.on_list_message(parts.leaf, received.payload)
            else:
                raise ProtocolError(f"nothing handles {message.topic!r} on a kiosk")
        except ProtocolError as exc:
            self.dropped_messages += 1
            log.warning("dropped a message on %s: %s", message.topic, exc)
        except Exception:
            # A bug in a handler must not take the uplink down with it.
            self.dropped_messages += 1
            log.exception("handling a message on %s failed; dropped", message.topic)

    def _command(self, payload: dict[str, Any]) -> None:
        name, expires = payload.get("command"), payload.get("expires_at")
        if not isinstance(expires, str):
            raise ProtocolError("command has no expires_at")
        try:
            expired = clock.parse_iso(expires) < clock.utcnow()
        except ValueError:
            raise ProtocolError(f"command expires_at {expires!r} is not a timestamp") from None
        if expired:
            raise ProtocolError(f"command {name!r} expired at {expires}")
        if name == "health":
            self.request_health()
        elif name == "rebirth":
            self._rebirth.set()
        else:
            raise ProtocolError(f"unknown command {name!r}")
        log.info("HQ command %r accepted", name)
