"""The [hardware.fingerprint_r30x] settings: the R30x/ZFM fingerprint module."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from appliance.config.common import StrictModel


class FingerprintR30xSettings(StrictModel):
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
