"""HQ's configuration: one strict TOML file (``kiosk-hq --config F``), secrets from the environment.

Like the kiosk's: unknown keys are errors naming the key and file; ``SecretStr`` fields, at
any depth, may come from ``KIOSK_HQ_`` and their path of keys joined by ``_`` in upper case
(``KIOSK_HQ_BROKER_PASSWORD`` for ``[broker] password``) instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from appliance.config.common import (
    StrictModel,
    check_broker_url,
    check_plaintext_broker,
    read_toml,
    validate,
)
from appliance.domain import clock

ENV_PREFIX = "KIOSK_HQ_"


class BrokerSection(StrictModel):
    url: str = Field(title="Broker URL", description="MQTT broker the kiosks publish to, e.g. mqtts://broker:8883.")
    username: str = Field(default="", title="Username", description="MQTT username of the ingest service.")
    password: SecretStr | None = Field(
        default=None, title="Password", description="MQTT password; better given as $KIOSK_HQ_BROKER_PASSWORD."
    )
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        default="auto", title="MQTT protocol", description="MQTT version; 'auto' tries 5, then 3.1.1."
    )
    ca_file: Path | None = Field(default=None, title="CA certificate", description="PEM CA of the broker's certificate.")
    cert_file: Path | None = Field(default=None, title="Client certificate", description="PEM client certificate.")
    key_file: Path | None = Field(default=None, title="Client key", description="PEM key of the client certificate.")
    client_id: str = Field(
        default="",
        title="Client id",
        description="MQTT client id of this ingest worker; default hq-ingest-<host>-<pid>. Give each worker its own.",
    )
    share_group: str = Field(
        default="hq-ingest",
        title="Shared subscription group",
        description="Workers in the same group share the crossings between them ($share/<group>/...).",
        pattern=r"^[A-Za-z0-9_-]+$",
    )

    allow_plaintext: bool = Field(
        default=False, title="Allow a broker without TLS",
        description="Accept a plain mqtt:// or ws:// url to a host other than this machine (loopback is always "
        "accepted); off, such a URL is a config error. Turn on only behind a VPN or another encrypted tunnel.",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        return check_broker_url(value, "url")

    @model_validator(mode="after")
    def _tls_unless_allowed(self) -> "BrokerSection":
        check_plaintext_broker(self.url, self.allow_plaintext, "broker.url", "broker.allow_plaintext")
        return self


class HQSection(StrictModel):
    database: str = Field(
        title="Database",
        description="Where HQ stores what it receives: a SQLite file path (or sqlite:///path) or a "
        "postgresql://user@host/db URL.",
    )
    signing_key_file: Path = Field(
        title="HQ signing key",
        description="Ed25519 private key (made by `kiosk-hq keygen`) that signs receipts and commands.",
    )
    stick_key_file: Path | None = Field(
        default=None, title="HQ stick key",
        description="X25519 private key (made by `kiosk-hq keygen --stick`) that opens the crossings kiosks "
        "export to USB sticks; `kiosk-hq import` needs it. Its public key is uplink.hq_stick_key on the kiosks.",
    )
    offline_after_s: int = Field(
        default=900, ge=10, title="Silent after",
        description="A kiosk that says it is online but has sent nothing for this long is shown as 'silent'.",
    )
    history_raw_days: int = Field(
        default=7, ge=1, le=90, title="Raw health history",
        description="Days each health message is kept as it came; older ones are folded into hourly averages.",
    )
    history_keep_days: int = Field(
        default=400, ge=7, le=3660, title="Health history kept",
        description="Days of (hourly) health history and kiosk log kept; older rows are deleted.",
    )


class WebSection(StrictModel):
    host: str = Field(default="127.0.0.1", title="Listen address", description="Address `kiosk-hq web` listens on.")
    port: int = Field(default=8090, ge=1, le=65535, title="Port", description="Port `kiosk-hq web` listens on.")
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, title="Idle logout", description="A console session unused this long ends.",
    )
    max_failed_logins: int = Field(
        default=5, ge=1, le=100, title="Failed logins before lockout",
        description="Wrong passwords in a row after which an HQ user is locked out.",
    )
    lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, title="Lockout", description="How long a locked-out HQ user must wait.",
    )
    secure_cookies: bool = Field(
        default=False, title="Secure cookies",
        description="Mark the session cookie Secure (set it when the console is served over HTTPS).",
    )
    metrics_token: SecretStr | None = Field(
        default=None, title="Metrics token",
        description="Bearer token Prometheus sends to scrape /metrics (better given as $KIOSK_HQ_WEB_METRICS_TOKEN); "
        "unset, /metrics answers 401.",
    )


class HQConfig(StrictModel):
    hq: HQSection
    broker: BrokerSection
    web: WebSection = Field(default_factory=WebSection, title="Console", description="The `kiosk-hq web` console.")
    source: Path | None = Field(default=None, exclude=True, title="File this config was read from")

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hq-ingest-{socket.gethostname()}-{os.getpid()}"


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> HQConfig:
    """Read, override secrets from the environment (default: the process's) and validate.

    Raises ConfigError naming the file and, for a bad or unknown key, the key.
    """
    source = Path(path)
    raw = read_toml(source)
    clock.offset()  # a rehearsal's calendar that is not a number stops the start, not a thread later
    return validate(HQConfig, raw, source, ENV_PREFIX, os.environ if environ is None else environ)
