"""The [kiosk] section: who this kiosk is, where its data lives, its post's time zone."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from appliance.config.common import StrictModel

# Ids become parts of MQTT topics and file names: no separators, no wildcards, bounded length.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class KioskSection(StrictModel):
    post_id: str = Field(
        title="Post id",
        description="Border post this kiosk belongs to; part of every record and MQTT topic.",
        pattern=ID_PATTERN,
    )
    kiosk_id: str = Field(
        title="Kiosk id",
        description="This kiosk's id, unique within its post; part of every record and topic.",
        pattern=ID_PATTERN,
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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
