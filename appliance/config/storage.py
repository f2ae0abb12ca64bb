"""The [storage] section: the data partition's budget, when housekeeping thins photos, the card's health."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from appliance.config.common import StrictModel

MIB = 1024 * 1024


class StorageSection(StrictModel):
    budget_percent: float = Field(
        default=85.0, gt=0, le=98, title="Budget (% of the data partition)",
        description="Share of the data partition the kiosk may fill; everything on it counts (database, lists, "
        "indexes, logs). Housekeeping keeps the partition under it by thinning photos; crossings are never dropped.",
    )
    budget_bytes: int | None = Field(
        default=None, ge=16 * MIB, title="Budget (bytes)",
        description="A fixed budget in bytes of used space on the data partition, used instead of budget_percent "
        "when set (a card shared with something else).",
    )
    warn_percent: float = Field(
        default=80.0, gt=0, lt=100, title="Warn at (% of budget)",
        description="Fill of the budget at which the officer's status bar and HQ's health telemetry warn.",
    )
    thin_percent: float = Field(
        default=90.0, gt=0, le=100, title="Thin photos at (% of budget)",
        description="Fill of the budget at which housekeeping deletes the photos of cleared travellers HQ has "
        "receipted, then replaces the remaining photos by thumbnails, until the fill is under it again.",
    )
    housekeeping_interval_s: float = Field(
        default=900.0, ge=1, le=86400, title="Housekeeping interval (s)",
        description="How often `kiosk run` keeps the partition under its budget (and applies [retention] and "
        "removes photos no crossing took); a rehearsal that plays a day in a minute shortens it.",
    )
    thumbnail_width: int = Field(
        default=160, ge=64, le=640, title="Thumbnail width",
        description="Width in pixels of the JPEG thumbnail that replaces a photo when the budget is tight.",
    )
    card_rated_cycles: int = Field(
        default=1000, ge=10, le=100_000, title="Card endurance (full writes)",
        description="How many times the whole card may be written over before it wears out (consumer TLC "
        "cards about 500-1000, industrial pSLC tens of thousands); `kiosk selftest` turns the bytes written into "
        "an age estimate with it.",
    )
    data_device: str = Field(
        default="", pattern=r"^[A-Za-z0-9_-]{0,32}$", title="Data partition device",
        description="Kernel name of the data partition (e.g. mmcblk0p3) for the card's counters in sysfs; empty: "
        "found from the data directory's device number.",
    )
    sysfs_root: Path = Field(
        default=Path("/sys"), title="sysfs",
        description="Where sysfs is mounted; tests point it at a folder that plays the card.",
    )

    @model_validator(mode="after")
    def _warn_before_thinning(self) -> "StorageSection":
        if self.warn_percent >= self.thin_percent:
            raise ValueError(f"storage.warn_percent ({self.warn_percent:g}) must be below storage.thin_percent "
                             f"({self.thin_percent:g}): the officer and HQ are warned before photos are thinned")
        return self
