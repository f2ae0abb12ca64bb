"""The [security] section: PIN rules, lockout, sessions and the biometric key."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from appliance.config.common import StrictModel


class SecuritySection(StrictModel):
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
    draft_minutes: int = Field(
        default=30, ge=1, le=55, title="Crossing in progress kept",
        description="How long the crossing an officer had started (document, capture ids) is kept for them "
        "after its last change, through a reload or a new login; below the hour after which captures never "
        "linked to a crossing are purged.",
    )
    four_eyes: bool = Field(
        default=True, title="Four eyes on referrals",
        description="The officer who recorded a referred crossing cannot also decide its outcome: another "
        "supervisor's ID and PIN are needed. Set false only at a post with one supervisor on duty.",
    )
    biometric_key: SecretStr | None = Field(
        default=None,
        title="Biometric key",
        description="AES-256 key (64 hex characters) that encrypts face photos and fingerprint templates "
        "at rest; better given as $KIOSK_SECURITY_BIOMETRIC_KEY. No default: without it captures are refused.",
    )

    biometric_key_file: Path | None = Field(
        default=None,
        title="Biometric key file",
        description="File holding the biometric key (64 hex characters) instead of biometric_key: kept out of "
        "the database and the config file, owned by the kiosk's user with mode 0600 (or 0400). `kiosk run` "
        "refuses to start while group or others can read it. Not together with biometric_key.",
    )

    @model_validator(mode="after")
    def _one_key(self) -> "SecuritySection":
        if self.biometric_key is not None and self.biometric_key_file is not None:
            raise ValueError("set security.biometric_key or security.biometric_key_file, not both")
        return self

    @field_validator("biometric_key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value()
            if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
                # Never echo the value: it is a secret even when malformed.
                raise ValueError(f"biometric_key must be 64 hex characters (32 bytes), got {len(text)} characters")
        return value
