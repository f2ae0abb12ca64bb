"""A short-lived, signed MQTT connection for HQ's one-off publications (commands, list pushes)."""

from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as paho
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.errors import UplinkError
from appliance.uplink import mqtt, protocol
from hq.config import HQConfig


def credentials(config: HQConfig) -> mqtt.Credentials:
    section = config.broker
    return mqtt.Credentials(section.username, section.password.get_secret_value() if section.password else None,
                            section.ca_file, section.cert_file, section.key_file)


class Publisher:
    """``with Publisher(config, "cmd") as pub: pub.publish(topic, kind, payload)``; waits for every PUBACK."""

    def __init__(self, config: HQConfig, purpose: str, timeout_s: float = 60.0) -> None:
        self.key: Ed25519PrivateKey = protocol.load_private_key(config.hq.signing_key_file)
        self.broker = mqtt.Broker.from_url(config.broker.url)
        self.client = mqtt.make_client(f"hq-{purpose}-{int(time.time() * 1000)}", self.broker, credentials(config),
                                       mqtt.protocol_version(config.broker.protocol), persistent=False)
        self.timeout_s = timeout_s
        self.pending: list[paho.MQTTMessageInfo] = []

    def __enter__(self) -> "Publisher":
        try:
            mqtt.connect(self.client, self.broker, keepalive=30, persistent=False, session_expiry_s=0)
        except OSError as exc:
            raise UplinkError(f"cannot reach broker {self.broker}: {exc}") from None
        return self

    def publish(self, topic: str, kind: str, payload: dict[str, Any] | None, retain: bool = False) -> None:
        """Sign and publish; ``payload=None`` publishes an empty message (clears a retained one)."""
        data = b"" if payload is None else protocol.seal(self.key, topic, kind, payload)
        self.pending.append(self.client.publish(topic, data, qos=1, retain=retain))

    def flush(self) -> None:
        """Wait until the broker acknowledged everything published so far."""
        if not mqtt.wait_for(lambda: all(i.is_published() for i in self.pending), self.timeout_s, self.client):
            raise UplinkError(f"the broker {self.broker} did not acknowledge every message in time")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.client.disconnect()
