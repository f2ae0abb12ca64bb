"""The [retention] section: how long personal data of crossings HQ has receipted stays on the kiosk."""

from __future__ import annotations

from pydantic import Field, model_validator

from appliance.config.common import StrictModel


class RetentionSection(StrictModel):
    biometrics_days: int | None = Field(
        default=None, ge=1, le=3650, title="Keep photos and fingerprints",
        description="Days after a crossing was recorded after which its face photos, fingerprint templates and "
        "face box are deleted from the kiosk, once HQ has receipted the crossing and every capture of it. "
        "Unset: kept until personal_data_days (or for good when both are unset).",
    )
    personal_data_days: int | None = Field(
        default=None, ge=1, le=3650, title="Keep names and document numbers",
        description="Days after a crossing was recorded after which its personal data is removed from the kiosk "
        "once HQ has receipted it: captures, then MRZ, names, document and visa numbers, expiry date, notes and "
        "the hits' explanations; the date of birth is cut to the year (or year and month) that keeps its age "
        "band. Direction, time, nationality, sex, decision and outcome stay, so statistics keep their counts. "
        "Unset: kept for good.",
    )

    @model_validator(mode="after")
    def _photos_go_first(self) -> "RetentionSection":
        if (self.biometrics_days is not None and self.personal_data_days is not None
                and self.biometrics_days > self.personal_data_days):
            raise ValueError(f"retention.biometrics_days ({self.biometrics_days}) must not be more than "
                             f"retention.personal_data_days ({self.personal_data_days}): photos and fingerprints "
                             "go first, names and document numbers after")
        return self
