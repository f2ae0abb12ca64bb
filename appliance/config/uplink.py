"""The [uplink] section: the MQTT broker of HQ, its keys, batching and reconnects."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from appliance.config.common import StrictModel, check_broker_url, check_plaintext_broker


class UplinkSection(StrictModel):
    broker_url: str = Field(
        default="",
        title="Broker URL",
        description="MQTT broker of HQ, e.g. mqtts://hq.example:8883; empty while the kiosk has no uplink.",
    )
    allow_plaintext: bool = Field(
        default=False, title="Allow a broker without TLS",
        description="Accept a plain mqtt:// or ws:// broker_url to a host other than this machine (loopback is "
        "always accepted). Off: such a URL is a config error, since the password and every message would cross "
        "the link in clear; turn on only for a broker reached through a VPN or another encrypted tunnel.",
    )
    username: str = Field(default="", title="Username", description="MQTT username, if the broker wants one.")
    password: SecretStr | None = Field(
        default=None, title="Password", description="MQTT password; better given as $KIOSK_UPLINK_PASSWORD."
    )
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        default="auto",
        title="MQTT protocol",
        description="MQTT version; 'auto' tries 5 and falls back to 3.1.1 when the broker refuses it.",
    )
    ca_file: Path | None = Field(
        default=None, title="CA certificate",
        description="PEM file of the CA that signed the broker's certificate (mqtts://); the system store when unset.",
    )
    cert_file: Path | None = Field(
        default=None, title="Client certificate", description="PEM client certificate of this kiosk, for brokers that require one."
    )
    key_file: Path | None = Field(
        default=None, title="Client key", description="PEM private key of the client certificate (keep it mode 0600)."
    )
    signing_key_file: Path | None = Field(
        default=None,
        title="Kiosk signing key",
        description="Ed25519 private key (made by `kiosk uplink keygen`) that signs every message to HQ; "
        "default <data_dir>/uplink/kiosk_ed25519.key.",
    )
    hq_public_key: str = Field(
        default="",
        title="HQ public key",
        description="HQ's Ed25519 public key (base64, from `kiosk-hq keygen`); receipts and commands not "
        "signed by it are dropped. Required when broker_url is set.",
    )
    hq_stick_key: str = Field(
        default="",
        title="HQ stick key",
        description="HQ's X25519 public key (base64, from `kiosk-hq keygen --stick`) that `kiosk export` encrypts "
        "USB-stick exports for, so a lost stick shows no traveller. `kiosk export` refuses to run without it.",
    )
    health_interval_s: int = Field(
        default=300, ge=5, le=24 * 3600, title="Health interval",
        description="Seconds between health telemetry messages while connected.",
    )
    batch_max_items: int = Field(
        default=500, ge=1, le=5000, title="Batch size", description="Most crossings in one uplink message."
    )
    batch_max_bytes: int = Field(
        default=256 * 1024, ge=1024, le=4 * 1024 * 1024, title="Batch bytes",
        description="Most uncompressed payload bytes in one uplink message (zstd typically shrinks it 8x).",
    )
    max_inflight_batches: int = Field(
        default=4, ge=1, le=100, title="Batches in flight",
        description="Batches sent but not yet receipted before the kiosk waits; bounds the work a thin "
        "link can queue up.",
    )
    max_inflight_captures: int = Field(
        default=3, ge=1, le=99, title="Photos and templates in flight",
        description="Captures sent at once, each one chunk at a time (its next chunk waits for HQ's answer); "
        "they share the max_inflight_batches window and leave at least one of its slots to crossings and "
        "alerts, so it must be below max_inflight_batches (with max_inflight_batches 1, one capture may hold it).",
    )
    receipt_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, title="Receipt timeout",
        description="Seconds without HQ's receipt after which unreceipted messages are sent again.",
    )
    reconnect_min_s: float = Field(
        default=1.0, gt=0, le=600, title="Reconnect delay (first)", description="First reconnect delay; doubles each failure."
    )
    reconnect_max_s: float = Field(
        default=300.0, gt=0, le=3600, title="Reconnect delay (cap)", description="Longest reconnect delay (jitter is added)."
    )
    keepalive_s: int = Field(
        default=60, ge=5, le=3600, title="Keep-alive", description="MQTT keep-alive; the last will fires after 1.5x this."
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0, title="Session expiry",
        description="How long the broker keeps this kiosk's session (subscriptions, queued receipts) while offline.",
    )
    compress: bool = Field(
        default=True, title="Compress", description="zstd-compress message bodies larger than a few hundred bytes."
    )
    send_captures: bool = Field(
        default=True, title="Send photos and templates",
        description="Send face photos and fingerprint templates to HQ (separate, lowest priority, resumable).",
    )
    capture_chunk_bytes: int = Field(
        default=32 * 1024, ge=1024, le=1024 * 1024, title="Capture chunk size",
        description="Bytes of a photo or template per message; smaller resumes better on a poor link.",
    )

    @field_validator("hq_public_key", "hq_stick_key")
    @classmethod
    def _key_shape(cls, value: str, info: ValidationInfo) -> str:
        if value:
            kind = "an Ed25519" if info.field_name == "hq_public_key" else "an X25519"
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{info.field_name} is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"{info.field_name} must be 32 bytes ({kind} public key), not {len(raw)}")
        return value

    @field_validator("broker_url")
    @classmethod
    def _mqtt_scheme(cls, value: str) -> str:
        # Empty is allowed: the kiosk then runs offline and queues.
        return check_broker_url(value, "broker_url") if value else value

    @model_validator(mode="after")
    def _captures_leave_a_slot(self) -> "UplinkSection":
        # Only a value someone wrote is held to the window: the default adapts to a smaller one.
        if "max_inflight_captures" in self.model_fields_set and self.max_inflight_captures > self._capture_cap():
            raise ValueError(
                f"uplink.max_inflight_captures ({self.max_inflight_captures}) must be at most "
                f"{self._capture_cap()} with uplink.max_inflight_batches {self.max_inflight_batches}: "
                "one slot of that window stays for crossings and alerts")
        return self

    def _capture_cap(self) -> int:
        return max(1, self.max_inflight_batches - 1)

    @property
    def capture_slots(self) -> int:
        """How many captures the sender keeps in flight: the setting, within what the window leaves."""
        return min(self.max_inflight_captures, self._capture_cap())

    @model_validator(mode="after")
    def _tls_unless_allowed(self) -> "UplinkSection":
        check_plaintext_broker(self.broker_url, self.allow_plaintext, "uplink.broker_url", "uplink.allow_plaintext")
        return self
