"""The whole kiosk config: one field per section, and the paths derived from it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from appliance.config.api import ApiSection
from appliance.config.common import StrictModel
from appliance.config.crossings import CrossingsSection
from appliance.config.hardware import HardwareSection
from appliance.config.kiosk import KioskSection
from appliance.config.retention import RetentionSection
from appliance.config.screening import ScreeningSection
from appliance.config.security import SecuritySection
from appliance.config.stick import StickSection
from appliance.config.storage import StorageSection
from appliance.config.time import TimeSection
from appliance.config.ui import UiSection
from appliance.config.uplink import UplinkSection


class Config(StrictModel):
    """The kiosk's config file, validated; ``source`` is the file it came from (None when built in code)."""

    kiosk: KioskSection
    api: ApiSection = Field(default_factory=ApiSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    uplink: UplinkSection = Field(default_factory=UplinkSection)
    hardware: HardwareSection = Field(default_factory=HardwareSection)
    screening: ScreeningSection = Field(default_factory=ScreeningSection)
    crossings: CrossingsSection = Field(default_factory=CrossingsSection)
    ui: UiSection = Field(default_factory=UiSection)
    retention: RetentionSection = Field(default_factory=RetentionSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    time: TimeSection = Field(default_factory=TimeSection)
    stick: StickSection = Field(default_factory=StickSection)

    source: Path | None = Field(default=None, exclude=True, title="File this config was read from")

    @property
    def db_path(self) -> Path:
        return self.kiosk.data_dir / "kiosk.sqlite3"
