"""HQ's configuration: one strict TOML file (``kiosk-hq --config F``), secrets from the environment.

Like the kiosk's: unknown keys are errors naming the key and file; ``SecretStr`` fields may
come from ``KIOSK_HQ_<SECTION>_<FIELD>`` (e.g. ``KIOSK_HQ_BROKER_PASSWORD``) instead.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from appliance.config import _describe as describe_validation_error
from appliance.errors import ConfigError

ENV_PREFIX = "KIOSK_HQ_"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BrokerSection(_Strict):
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

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("mqtt://", "mqtts://", "ws://", "wss://")):
            raise ValueError(f"url {value!r} must start with mqtt://, mqtts://, ws:// or wss://")
        return value


class HQSection(_Strict):
    database: str = Field(
        title="Database",
        description="Where HQ stores what it receives: a SQLite file path (or sqlite:///path) or a "
        "postgresql://user@host/db URL.",
    )
    signing_key_file: Path = Field(
        title="HQ signing key",
        description="Ed25519 private key (made by `kiosk-hq keygen`) that signs receipts and commands.",
    )
    offline_after_s: int = Field(
        default=900, ge=10, title="Silent after",
        description="A kiosk that says it is online but has sent nothing for this long is shown as 'silent'.",
    )


class HQConfig(_Strict):
    hq: HQSection
    broker: BrokerSection
    source: Path | None = Field(default=None, exclude=True, title="File this config was read from")

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hq-ingest-{socket.gethostname()}-{os.getpid()}"


def load(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> HQConfig:
    """Raises ConfigError naming the file and, for a bad or unknown key, the key."""
    source = Path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {source}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None
    secret = environ.get(f"{ENV_PREFIX}BROKER_PASSWORD")
    if secret is not None and isinstance(raw.get("broker", {}), dict):
        raw.setdefault("broker", {})["password"] = secret
    try:
        config = HQConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
    config.source = source
    return config
