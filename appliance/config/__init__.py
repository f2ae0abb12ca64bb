"""The kiosk's configuration: one strict TOML file plus environment overrides for secrets.

Where it comes from, first match wins: ``--config PATH``, then ``$KIOSK_CONFIG``, then
``/etc/kiosk/kiosk.toml``. Unknown keys are errors that name the key and the file, so a
typo never silently falls back to a default. Secrets (``SecretStr`` fields) may be left
out of the file and given as ``KIOSK_<SECTION>_<FIELD>`` in the environment instead,
e.g. ``KIOSK_UPLINK_PASSWORD``; the environment wins over the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from appliance.errors import ConfigError

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
    biometric_key: SecretStr | None = Field(
        default=None,
        title="Biometric key",
        description="AES-256 key (64 hex characters) that encrypts face photos and fingerprint templates "
        "at rest; better given as $KIOSK_SECURITY_BIOMETRIC_KEY. No default: without it captures are refused.",
    )

    @field_validator("biometric_key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value()
            if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
                # Never echo the value: it is a secret even when malformed.
                raise ValueError(f"biometric_key must be 64 hex characters (32 bytes), got {len(text)} characters")
        return value


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


SerialFraming = Literal["8N1", "8E1", "8O1", "8N2", "7E1", "7O1"]
_PIN = {"ge": 0, "le": 53}


class MRZSerialSettings(_Strict):
    port: str = Field(
        default="/dev/ttyUSB0",
        title="Serial port",
        description="Device of the MRZ reader (prefer a stable /dev/serial/by-id/... link), or a pyserial "
        "URL such as socket://host:port. The reader may be unplugged and plugged back while the kiosk runs.",
    )
    baudrate: int = Field(default=9600, ge=300, le=921600, title="Baud rate", description="Serial speed.")
    framing: SerialFraming = Field(
        default="8N1", title="Character framing", description="Data bits, parity (N/E/O) and stop bits."
    )
    line_end: Literal["any", "cr", "lf", "crlf"] = Field(
        default="any",
        title="Line terminator",
        description="What ends each MRZ line the reader sends; 'any' accepts CR, LF or CR LF.",
    )
    frame_start: int | None = Field(
        default=None, ge=0, le=255, title="Frame start byte",
        description="Byte the reader sends before a document (e.g. 2 for STX); unset when it sends none.",
    )
    frame_end: int | None = Field(
        default=None, ge=0, le=255, title="Frame end byte",
        description="Byte the reader sends after a document (e.g. 3 for ETX); unset when it sends none.",
    )
    document_gap_s: float = Field(
        default=0.5, gt=0, le=10, title="Document gap",
        description="Silence after which lines already received count as one (possibly incomplete) document.",
    )
    reconnect_interval_s: float = Field(
        default=1.0, gt=0, le=60, title="Reconnect interval",
        description="How often a disconnected reader's port is tried again.",
    )


class FingerprintR30xSettings(_Strict):
    port: str = Field(
        default="/dev/serial0", title="UART", description="Serial device of the R30x/ZFM fingerprint module."
    )
    baudrate: int = Field(
        default=57600, ge=9600, le=115200, title="Baud rate",
        description="Module speed; R30x modules ship at 57600 (a multiple of 9600).",
    )
    address: int = Field(
        default=0xFFFFFFFF, ge=0, le=0xFFFFFFFF, title="Module address",
        description="32-bit address in every packet; 0xFFFFFFFF (4294967295) unless it was changed.",
    )
    password: SecretStr | None = Field(
        default=None, title="Module password",
        description="Module password as 8 hex digits, if one was set on the module (unset: 00000000).",
    )
    response_timeout_s: float = Field(
        default=2.0, gt=0, le=30, title="Response timeout",
        description="Longest wait for the module's answer to one command.",
    )
    finger_timeout_s: float = Field(
        default=10.0, gt=0, le=60, title="Finger timeout",
        description="How long a capture waits for a finger on the glass.",
    )
    attempts: int = Field(
        default=3, ge=1, le=10, title="Image attempts",
        description="Images taken before a capture gives up on a finger too dry, wet or badly placed.",
    )

    @field_validator("password")
    @classmethod
    def _hex_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{8}", value.get_secret_value()):
            raise ValueError("password must be 8 hex digits (the module's 32-bit password)")
        return value


class CameraSettings(_Strict):
    device: str = Field(
        default="/dev/video0", title="V4L2 device",
        description="USB/V4L2 camera device (v4l2 back-end only).",
    )
    width: int = Field(default=1280, ge=160, le=4608, title="Width", description="Still width in pixels.")
    height: int = Field(default=960, ge=120, le=3456, title="Height", description="Still height in pixels.")
    settle_s: float = Field(
        default=1.0, ge=0, le=10, title="Exposure settling",
        description="Time the camera runs before the still is kept, so auto-exposure and white balance settle.",
    )
    jpeg_quality: int = Field(default=90, ge=50, le=100, title="JPEG quality", description="Quality of stored stills.")


class PowerSysfsSettings(_Strict):
    root: Path = Field(
        default=Path("/sys/class/power_supply"), title="Power supply class directory",
        description="Where the kernel lists power supplies (UPS HAT and PiJuice-style drivers).",
    )
    battery: str = Field(
        default="", title="Battery name",
        description="Supply to read (e.g. BAT0); empty: the first supply of type Battery.",
    )


class PowerINA219Settings(_Strict):
    bus: int = Field(default=1, ge=0, le=20, title="I2C bus", description="I2C bus number (/dev/i2c-N).")
    address: int = Field(default=0x40, ge=0x03, le=0x77, title="I2C address", description="INA219 address (0x40-0x4F).")
    shunt_ohms: float = Field(default=0.1, gt=0, le=10, title="Shunt resistor", description="Shunt value in ohms.")
    empty_voltage: float = Field(
        default=6.0, gt=0, le=60, title="Empty voltage",
        description="Battery voltage counted as 0% (default: a 2S Li-ion UPS HAT).",
    )
    full_voltage: float = Field(
        default=8.4, gt=0, le=60, title="Full voltage", description="Battery voltage counted as 100%."
    )
    charging_current_a: float = Field(
        default=0.05, ge=0, le=20, title="Charging current threshold",
        description="Current into the battery (amps) above which it counts as charging.",
    )

    @model_validator(mode="after")
    def _voltage_range(self):
        if not self.empty_voltage < self.full_voltage:
            raise ValueError(
                f"empty_voltage ({self.empty_voltage:g} V) must be below full_voltage ({self.full_voltage:g} V)"
            )
        return self


class PowerGpioSettings(_Strict):
    mains_lost_pin: int | None = Field(
        default=None, **_PIN, title="Mains lost pin",
        description="BCM pin the UPS drives when external power (mains/charger) is lost.",
    )
    low_battery_pin: int | None = Field(
        default=None, **_PIN, title="Low battery pin", description="BCM pin the UPS drives when its battery is low."
    )
    active_low: bool = Field(
        default=True, title="Active low",
        description="The signals pull the pin low when active (open collector, internal pull-up).",
    )


class PowerModbusSettings(_Strict):
    port: str = Field(
        default="/dev/ttyUSB1", title="Serial port", description="RS485 adapter of the solar charge controller."
    )
    baudrate: int = Field(default=115200, ge=1200, le=921600, title="Baud rate", description="EPever default 115200.")
    framing: SerialFraming = Field(default="8N1", title="Character framing", description="Data, parity, stop bits.")
    unit: int = Field(default=1, ge=1, le=247, title="Unit id", description="Modbus slave id of the controller.")
    timeout_s: float = Field(default=1.0, gt=0, le=10, title="Timeout", description="Seconds to wait for an answer.")
    register_type: Literal["input", "holding"] = Field(
        default="input", title="Register type", description="Where the readings live (EPever: input registers)."
    )
    battery_voltage_register: int = Field(
        default=0x3104, ge=0, le=0xFFFF, title="Battery voltage register", description="Battery volts x scale."
    )
    charge_current_register: int | None = Field(
        default=0x3105, ge=0, le=0xFFFF, title="Charge current register", description="Charging amps x scale."
    )
    pv_power_register: int | None = Field(
        default=0x3102, ge=0, le=0xFFFE, title="PV power register",
        description="Solar watts x scale, 32 bits over this register and the next (low word first).",
    )
    soc_register: int | None = Field(
        default=0x311A, ge=0, le=0xFFFF, title="State-of-charge register",
        description="Battery percent as an integer; unset: derived from the voltage.",
    )
    scale: float = Field(default=100.0, gt=0, title="Scale", description="Raw value / scale = volts, amps, watts.")
    empty_voltage: float = Field(default=11.8, gt=0, le=60, title="Empty voltage", description="Volts counted as 0%.")
    full_voltage: float = Field(default=12.8, gt=0, le=60, title="Full voltage", description="Volts counted as 100%.")

    @model_validator(mode="after")
    def _voltage_range(self):
        if not self.empty_voltage < self.full_voltage:
            raise ValueError(
                f"empty_voltage ({self.empty_voltage:g} V) must be below full_voltage ({self.full_voltage:g} V)"
            )
        return self


class IndicatorPins(_Strict):
    ready_led: int | None = Field(default=None, **_PIN, title="Ready LED pin", description="Green: ready for a traveller.")
    busy_led: int | None = Field(default=None, **_PIN, title="Busy LED pin", description="Amber: reading or capturing.")
    alert_led: int | None = Field(default=None, **_PIN, title="Alert LED pin", description="Red: watchlist hit, power alarm.")
    buzzer: int | None = Field(default=None, **_PIN, title="Buzzer pin", description="Active buzzer.")
    supervisor_button: int | None = Field(
        default=None, **_PIN, title="Call-supervisor button pin", description="Push button to call a supervisor."
    )


class PowerPolicySettings(_Strict):
    enabled: bool = Field(default=True, title="Enabled", description="Run the power policy in `kiosk run`.")
    poll_interval_s: float = Field(
        default=30.0, gt=0, le=3600, title="Poll interval", description="Seconds between battery readings."
    )
    warn_percent: float = Field(
        default=35.0, ge=0, le=100, title="Warn level", description="At or below: banner and one buzzer pattern."
    )
    defer_percent: float = Field(
        default=25.0, ge=0, le=100, title="Defer level",
        description="At or below: heavy work (list rebuilds, photo uploads) waits.",
    )
    critical_percent: float = Field(
        default=12.0, ge=0, le=100, title="Critical level",
        description="At or below, not charging: finish the crossing, flush, notify HQ, shut down.",
    )
    hysteresis_percent: float = Field(
        default=3.0, ge=0, le=20, title="Hysteresis",
        description="A level is left only once the battery is this much above its threshold, so a "
        "battery hovering at a threshold does not flap.",
    )
    shutdown_command: list[str] = Field(
        default_factory=lambda: ["systemctl", "poweroff"], min_length=1, title="Shutdown command",
        description="Command (argument list) run at the critical level.",
    )
    shutdown_grace_s: float = Field(
        default=20.0, ge=0, le=600, title="Shutdown grace",
        description="Longest wait for HQ to receipt the shutdown notice before powering off.",
    )
    history_interval_s: float = Field(
        default=300.0, ge=0, le=24 * 3600, title="History interval",
        description="Seconds between battery history rows (a level change is always kept).",
    )
    history_days: int = Field(
        default=30, ge=1, le=3650, title="History retention", description="Days of battery history kept."
    )

    @model_validator(mode="after")
    def _ordered(self):
        if not self.critical_percent < self.defer_percent < self.warn_percent:
            raise ValueError(
                "levels must satisfy critical_percent < defer_percent < warn_percent, got "
                f"{self.critical_percent:g} / {self.defer_percent:g} / {self.warn_percent:g}"
            )
        return self


class HardwareSection(_Strict):
    mrz_reader: Literal["simulated", "serial"] = Field(
        default="simulated", title="MRZ reader back-end", description="Passport reader back-end."
    )
    camera: Literal["simulated", "v4l2", "picamera2"] = Field(
        default="simulated", title="Camera back-end", description="Camera back-end."
    )
    power: Literal["simulated", "sysfs", "ina219", "gpio", "modbus"] = Field(
        default="simulated", title="Power back-end", description="Battery/UPS/solar back-end."
    )
    power_signals: Literal["none", "gpio"] = Field(
        default="none", title="UPS signal pins beside the power back-end",
        description="'gpio' also reads the pins of [hardware.power_gpio] (mains lost, battery low) next to a "
                    "gauge or charge controller that cannot see them; the pins' flags win.",
    )
    fingerprint: Literal["none", "simulated", "r30x"] = Field(
        default="simulated", title="Fingerprint back-end",
        description="Fingerprint module back-end; 'simulated' runs an R30x simulator on an in-process pty.",
    )
    indicators: Literal["none", "simulated", "gpio"] = Field(
        default="simulated", title="Indicators back-end",
        description="LEDs, buzzer and button; 'simulated' drives them on gpiozero's mock pins.",
    )
    mrz_serial: MRZSerialSettings = Field(
        default_factory=MRZSerialSettings, title="Serial MRZ reader", description="Settings of the serial back-end."
    )
    fingerprint_r30x: FingerprintR30xSettings = Field(
        default_factory=FingerprintR30xSettings, title="R30x fingerprint module",
        description="Settings of the r30x back-end.",
    )
    camera_settings: CameraSettings = Field(
        default_factory=CameraSettings, title="Camera settings", description="Still size, settling, device."
    )
    power_sysfs: PowerSysfsSettings = Field(
        default_factory=PowerSysfsSettings, title="sysfs power", description="Settings of the sysfs back-end."
    )
    power_ina219: PowerINA219Settings = Field(
        default_factory=PowerINA219Settings, title="INA219 gauge", description="Settings of the ina219 back-end."
    )
    power_gpio: PowerGpioSettings = Field(
        default_factory=PowerGpioSettings, title="UPS signal pins", description="Settings of the gpio back-end."
    )
    power_modbus: PowerModbusSettings = Field(
        default_factory=PowerModbusSettings, title="Modbus charge controller",
        description="Settings of the modbus back-end (EPever-style register map by default).",
    )
    indicator_pins: IndicatorPins = Field(
        default_factory=IndicatorPins, title="Indicator pins",
        description="BCM pins of the LEDs, buzzer and button; an unset pin means not fitted.",
    )
    power_policy: PowerPolicySettings = Field(
        default_factory=PowerPolicySettings, title="Power policy", description="Thresholds and shutdown."
    )
    simulated: SimulatedDevices = Field(
        default_factory=SimulatedDevices, title="Simulators", description="Settings of the simulated back-ends."
    )

    @model_validator(mode="after")
    def _signals_beside_another_backend(self):
        if self.power_signals == "gpio" and self.power == "gpio":
            raise ValueError("power_signals = 'gpio' adds the UPS pins to another power back-end; with power = 'gpio' "
                             "the pins are already read: set power_signals = 'none'")
        if self.power_signals == "gpio" and self.power_gpio.mains_lost_pin is None \
                and self.power_gpio.low_battery_pin is None:
            raise ValueError("power_signals = 'gpio' needs power_gpio.mains_lost_pin or power_gpio.low_battery_pin")
        return self


class ScreeningSection(_Strict):
    refer_on_document_problem: bool = Field(
        default=True,
        title="Refer on document problem",
        description="When a check digit fails or the document is expired and the officer gave no "
        "decision, refer the traveller to secondary instead of clearing.",
    )
    threshold: float = Field(
        default=0.7, ge=0, le=1, title="Hit threshold",
        description="Document and name hits scoring at least this (0-1) are reported and refer the traveller.",
    )
    face_threshold: float = Field(
        default=0.6, ge=-1, le=1, title="Face hit threshold",
        description="Cosine similarity (-1..1) at or above which a listed face is a hit; depends on the "
        "embedding model, so set it from the model's calibration.",
    )
    max_list_age_hours: float = Field(
        default=14 * 24, gt=0, title="Stale list age",
        description="A list older than this (hours since HQ published it, or since its import) is stale.",
    )
    stale_policy: Literal["warn", "refer"] = Field(
        default="warn", title="Stale list policy",
        description="What a stale list does to each crossing: 'warn' shows it, 'refer' sends every "
        "traveller to secondary until a fresh list arrives.",
    )
    face_model_mismatch: Literal["warn", "refer"] = Field(
        default="warn", title="Face model mismatch policy",
        description="When the kiosk's embedder is not the model that made a persons list's faces, those "
        "faces are not searched (names and documents still are): 'warn' shows it with each crossing, "
        "'refer' sends the traveller to secondary, as a face screening that did not happen.",
    )
    trusted_key: Path | None = Field(
        default=None, title="HQ list signing key",
        description="PEM file of HQ's Ed25519 public key; list bundles signed by any other key are "
        "refused. Without it no bundle can be applied.",
    )
    index_dir: Path | None = Field(
        default=None, title="Index directory",
        description="Where each list version's index files live (default: <data_dir>/lists); "
        "must be on the same persistent storage as the database.",
    )
    face_embedder_model: Path | None = Field(
        default=None, title="Face embedder model",
        description="TFLite model turning the traveller's face photo into an embedding (docs/faces.md); "
        "unset or empty: photos are not screened by face. HQ must embed the listed faces with the same model.",
    )
    face_detector_model: Path | None = Field(
        default=None, title="Face detector model",
        description="TFLite face detector (boxes and scores) whose best box is cropped for the embedder; "
        "unset or empty: the centred square of the photo is used.",
    )
    face_detector_min_score: float = Field(
        default=0.5, ge=0, le=1, title="Face detector minimum score",
        description="A detected box scoring below this (0-1) is no face: the crossing is recorded and "
        "says the face was not screened.",
    )
    inference_threads: int = Field(
        default=1, ge=1, le=4, title="Inference threads",
        description="CPU threads each face model may use (1-4); more is faster on a Pi 4/5 but competes "
        "with the UI and the uplink.",
    )

    @field_validator("face_embedder_model", "face_detector_model", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("face_embedder_model", "face_detector_model")
    @classmethod
    def _model_file_exists(cls, value: Path | None, info: Any) -> Path | None:
        # Checked at load time: a typo must stop `kiosk run`, not surface at the first traveller.
        if value is not None and not value.is_file():
            state = "is not a file" if value.exists() else "does not exist"
            raise ValueError(f"{info.field_name} {value} {state}")
        return value

    @model_validator(mode="after")
    def _detector_needs_embedder(self):
        if self.face_detector_model is not None and self.face_embedder_model is None:
            raise ValueError(f"face_detector_model {self.face_detector_model} is set but face_embedder_model is "
                             "not: a detector alone screens nothing")
        return self


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
