"""paho-mqtt plumbing shared by the kiosk uplink and HQ ingest: broker URL, TLS, credentials, versions.

Both ends drive the client from their own thread with ``client.loop()`` rather than
paho's background thread, so reconnects follow our own jittered backoff and every
callback runs where the caller can see its exceptions.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.errors import UplinkError

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}
# CONNACK reason "unsupported protocol version" (MQTT 5) / "unacceptable protocol version" (3.1.1).
UNSUPPORTED_PROTOCOL = (132, 1)


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    transport: Literal["tcp", "websockets"]
    path: str

    @classmethod
    def from_url(cls, url: str) -> "Broker":
        """Raises UplinkError for an empty or malformed URL."""
        if not url:
            raise UplinkError("no broker_url is configured")
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise UplinkError(f"broker URL {url!r} must look like mqtt://host[:port] (or mqtts://, ws://, wss://)")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise UplinkError(f"broker URL {url!r}: {exc}") from None
        return cls(host=parts.hostname, port=port, tls=parts.scheme in ("mqtts", "wss"),
                   transport="websockets" if parts.scheme.startswith("ws") else "tcp", path=parts.path or "/mqtt")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}{' (TLS)' if self.tls else ''}"


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


def protocol_version(name: str) -> MQTTProtocolVersion:
    return MQTTProtocolVersion.MQTTv5 if name in ("5", "auto") else MQTTProtocolVersion.MQTTv311


def make_client(client_id: str, broker: Broker, credentials: Credentials, version: MQTTProtocolVersion,
                persistent: bool) -> paho.Client:
    """A configured, unconnected client. Raises UplinkError if a TLS file is unusable."""
    v5 = version == MQTTProtocolVersion.MQTTv5
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        # MQTT 5 says "clean start" at connect time instead; 3.1.1 needs it here.
        clean_session=None if v5 else not persistent,
        protocol=version,
        transport=broker.transport,
        reconnect_on_failure=False,
    )
    if broker.transport == "websockets":
        client.ws_set_options(path=broker.path)
    if credentials.username:
        client.username_pw_set(credentials.username, credentials.password)
    if broker.tls or credentials.cert_file:
        for path in (credentials.ca_file, credentials.cert_file, credentials.key_file):
            if path is not None and not Path(path).is_file():
                raise UplinkError(f"TLS file {path} does not exist")
        try:
            client.tls_set(
                ca_certs=str(credentials.ca_file) if credentials.ca_file else None,
                certfile=str(credentials.cert_file) if credentials.cert_file else None,
                keyfile=str(credentials.key_file) if credentials.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise UplinkError(f"TLS setup failed: {exc}") from None
    return client


def connect(client: paho.Client, broker: Broker, keepalive: int, persistent: bool,
            session_expiry_s: int) -> paho.MQTTErrorCode:
    """Open the socket and send CONNECT (the CONNACK arrives through ``client.loop()``).

    Raises OSError/ssl errors from the socket; the caller backs off and retries.
    """
    properties = None
    clean_start: paho.CleanStartOption = paho.MQTT_CLEAN_START_FIRST_ONLY
    if client.protocol == MQTTProtocolVersion.MQTTv5:
        clean_start = not persistent
        properties = Properties(PacketTypes.CONNECT)
        if persistent:
            properties.SessionExpiryInterval = session_expiry_s
    return client.connect(broker.host, broker.port, keepalive=keepalive, clean_start=clean_start,
                          properties=properties)


class Backoff:
    """Exponential reconnect delays with full jitter, so a fleet does not reconnect in step."""

    def __init__(self, first: float, cap: float, rng: random.Random | None = None) -> None:
        self.first, self.cap = first, max(cap, first)
        self.rng = rng or random.Random()
        self.failures = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.first * (2 ** self.failures))
        self.failures += 1
        # Half fixed, half random: never hammer the broker, never wait for nothing.
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


def wait_for(condition, timeout: float, client: paho.Client, step: float = 0.05) -> bool:
    """Run the client's network loop until ``condition()`` or ``timeout``; True if it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if client.loop(timeout=step) != paho.MQTT_ERR_SUCCESS:
            return condition()
    return condition()
