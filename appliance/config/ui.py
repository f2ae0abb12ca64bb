"""The [ui] section: how the touchscreen looks and when its status bar turns red."""

from __future__ import annotations

from pydantic import Field

from appliance.config.common import StrictModel


class UiSection(StrictModel):
    high_contrast: bool = Field(
        default=False,
        title="High-contrast theme",
        description="Black on white with heavier text and borders, for a screen in direct sun; the officer "
        "can also switch it on the home screen for the session's browser.",
    )
    uplink_alarm_minutes: int = Field(
        default=120, ge=1, le=7 * 24 * 60,
        title="Uplink alarm after",
        description="The status bar's uplink turns red only when the oldest crossing waiting for HQ is older "
        "than this; offline with a younger queue is the normal case and stays neutral.",
    )
