"""The kiosk's configuration: one strict TOML file plus environment overrides for secrets.

Where it comes from, first match wins: ``--config PATH``, then ``$KIOSK_CONFIG``, then
``/etc/kiosk/kiosk.toml``. Unknown keys are errors that name the key and the file, so a
typo never silently falls back to a default. Secrets (``SecretStr`` fields) may be left
out of the file and given as ``KIOSK_<SECTION>_<FIELD>`` in the environment instead,
e.g. ``KIOSK_UPLINK_PASSWORD``; the environment wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
ENV_CONFIG_PATH = "KIOSK_CONFIG"
ENV_PREFIX = "KIOSK_"

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KioskSection(_Strict):
    post_id: str = Field(
        title="Post id",
        description="Border post this kiosk belongs to; part of every record and MQTT topic.",
        pattern=_ID_PATTERN,
    )
    kiosk_id: str = Field(
        title="Kiosk id",
        description="This kiosk's id, unique within its post; part of every record and topic.",
        pattern=_ID_PATTERN,
    )
    data_dir: Path = Field(
        default=Path("/var/lib/kiosk"),
        title="Data directory",
        description="Where the SQLite store and captured files live; must be on persistent storage.",
    )
    timezone: str = Field(
        default="UTC",
        title="Post time zone",
        description="IANA zone used to cut statistics into the post's local days (records stay UTC).",
    )
    training: bool = Field(
        default=False,
        title="Training mode",
        description="Marks every record as training: never counted or uplinked as a real crossing.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ApiSection(_Strict):
    host: str = Field(
        default="127.0.0.1",
        title="Bind address",
        description="Address the local API and touchscreen UI listen on; keep it on loopback "
        "unless a second screen on the LAN needs it.",
    )
    port: int = Field(default=8080, ge=1, le=65535, title="Port", description="TCP port of the API.")


class SecuritySection(_Strict):
    pin_min_length: int = Field(
        default=6, ge=4, le=12, title="Minimum PIN length", description="Shortest PIN accepted for an officer."
    )
    max_failed_logins: int = Field(
        default=5, ge=1, le=100, title="Wrong PINs before lockout",
        description="Consecutive wrong PINs after which the officer is locked out.",
    )
    lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, title="Lockout duration", description="How long a lockout lasts."
    )
    session_idle_minutes: int = Field(
        default=10, ge=1, le=12 * 60, title="Session idle timeout",
        description="A session not used for this long expires and the officer must log in again.",
    )


class UplinkSection(_Strict):
    broker_url: str = Field(
        default="",
        title="Broker URL",
        description="MQTT broker of HQ, e.g. mqtts://hq.example:8883; empty while the kiosk has no uplink.",
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

    @field_validator("hq_public_key")
    @classmethod
    def _key_shape(cls, value: str) -> str:
        if value:
            import base64
            import binascii

            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("hq_public_key is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"hq_public_key must be 32 bytes (an Ed25519 public key), not {len(raw)}")
        return value

    @field_validator("broker_url")
    @classmethod
    def _mqtt_scheme(cls, value: str) -> str:
        if value and not value.startswith(("mqtt://", "mqtts://", "ws://", "wss://")):
            raise ValueError(f"broker_url {value!r} must start with mqtt://, mqtts://, ws:// or wss://")
        return value


class SimulatedDevices(_Strict):
    mrz_file: Path | None = Field(
        default=None,
        title="MRZ samples",
        description="Text file of MRZs (blank-line separated) the simulated reader replays; "
        "the package's specimens when unset.",
    )
    camera_dir: Path | None = Field(
        default=None,
        title="Camera images",
        description="Directory of JPEG/PNG files the simulated camera returns in turn; "
        "the package's sample when unset.",
    )
    battery_percent: float = Field(
        default=100.0, ge=0, le=100, title="Battery level", description="Starting charge of the simulated battery."
    )
    battery_file: Path | None = Field(
        default=None,
        title="Battery script file",
        description="If set, the simulated battery reads its level (a number, 0-100) from this file "
        "at each poll, so a test or technician can script a discharge.",
    )


class HardwareSection(_Strict):
    mrz_reader: Literal["simulated"] = Field(
        default="simulated", title="MRZ reader back-end", description="Passport reader back-end."
    )
    camera: Literal["simulated"] = Field(
        default="simulated", title="Camera back-end", description="Camera back-end."
    )
    power: Literal["simulated"] = Field(
        default="simulated", title="Power back-end", description="Battery/UPS/solar back-end."
    )
    simulated: SimulatedDevices = Field(
        default_factory=SimulatedDevices, title="Simulators", description="Settings of the simulated back-ends."
    )


class ScreeningSection(_Strict):
    refer_on_document_problem: bool = Field(
        default=True,
        title="Refer on document problem",
        description="When a check digit fails or the document is expired and the officer gave no "
        "decision, refer the traveller to secondary instead of clearing.",
    )


class Config(_Strict):
    kiosk: KioskSection
    api: ApiSection = Field(default_factory=ApiSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    uplink: UplinkSection = Field(default_factory=UplinkSection)
    hardware: HardwareSection = Field(default_factory=HardwareSection)
    screening: ScreeningSection = Field(default_factory=ScreeningSection)

    source: Path | None = Field(default=None, exclude=True, title="File this config was read from")

    @property
    def db_path(self) -> Path:
        return self.kiosk.data_dir / "kiosk.sqlite3"


def resolve_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: explicit path, else $KIOSK_CONFIG, else the system default."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(ENV_CONFIG_PATH)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH


def load(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read, override from the environment and validate the config.

    Raises ConfigError naming the file and, for an invalid or unknown key, the key.
    """
    source = resolve_path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {source} does not exist (give --config PATH or set ${ENV_CONFIG_PATH})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {source}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None
    return from_mapping(raw, source=source, environ=environ)


def from_mapping(raw: dict[str, Any], source: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Validate an already-parsed mapping (used by ``load`` and by ``kiosk demo``)."""
    environ = os.environ if environ is None else environ
    _apply_secret_env(raw, environ)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    config.source = source
    return config


def _secret_fields() -> list[tuple[str, str]]:
    """(section, field) of every secret, found from the model so a new secret needs no code here."""
    pairs = []
    for section_name, section_field in Config.model_fields.items():
        model = section_field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            if "SecretStr" in str(field.annotation):
                pairs.append((section_name, name))
    return pairs


def _apply_secret_env(raw: dict[str, Any], environ: dict[str, str]) -> None:
    for section, name in _secret_fields():
        value = environ.get(f"{ENV_PREFIX}{section.upper()}_{name.upper()}")
        if value is not None:
            section_table = raw.setdefault(section, {})
            if isinstance(section_table, dict):
                section_table[name] = value


def _describe(exc: ValidationError, source: Path | None) -> str:
    where = f"config file {source}" if source else "config"
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key {key!r}")
        elif error["type"] == "missing":
            lines.append(f"{where}: required key {key!r} is missing")
        else:
            lines.append(f"{where}: key {key!r}: {error['msg']}")
    return "\n".join(lines)


def masked(config: Config) -> dict[str, Any]:
    """The effective config as plain data, every secret replaced by '********' (or None if unset)."""
    data = config.model_dump(mode="json")
    for section, name in _secret_fields():
        if data.get(section, {}).get(name) is not None:
            data[section][name] = "********"
    return data


def to_toml(data: dict[str, Any]) -> str:
    """Render nested plain data as TOML (enough for config: tables, strings, numbers, bools)."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    def table(prefix: str, mapping: dict[str, Any]) -> None:
        scalars = {k: v for k, v in mapping.items() if not isinstance(v, dict) and v is not None}
        if prefix:
            lines.append(f"[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{key} = {scalar(value)}")
        if prefix or scalars:
            lines.append("")
        for key, value in mapping.items():
            if isinstance(value, dict):
                table(f"{prefix}.{key}" if prefix else key, value)

    table("", data)
    return "\n".join(lines).rstrip() + "\n"
