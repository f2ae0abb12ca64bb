"""The [crossings] section: what the officer records beside the document (purpose of travel), and double entries."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from appliance.config.common import StrictModel

# MIDAS-style purposes; the touchscreen has a translated label for each. A post may list its own
# codes (lower-case letters and "_"), shown as written.
DEFAULT_PURPOSES = ["tourism", "business", "work", "study", "transit", "family", "resident_return", "other"]
PURPOSE_CODE = r"^[a-z][a-z_]{0,31}$"


class CrossingsSection(StrictModel):
    ask_purpose: bool = Field(
        default=True,
        title="Ask the purpose of travel",
        description="Show the purposes as one row of buttons on the result step (one tap records the "
        "crossing); false skips the question and records no purpose.",
    )
    purposes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PURPOSES), min_length=1, max_length=12,
        title="Purposes of travel",
        description="Codes offered, in order (lower-case letters and '_'): tourism, business, work, study, "
        "transit, family, resident_return and other have a translated label; other codes are shown as written.",
    )
    repeat_window_minutes: int = Field(
        default=30, ge=0, le=7 * 24 * 60,
        title="Repeat crossing window",
        description="Warn on the result when the same document crossed in the same direction within this "
        "many minutes before (a likely double entry, or a real one); 0 turns the warning off.",
    )

    @field_validator("purposes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.fullmatch(PURPOSE_CODE, code)]
        if bad:
            raise ValueError(f"purpose codes are lower-case letters and '_' (got {', '.join(map(repr, bad))})")
        if len(set(value)) != len(value):
            raise ValueError("a purpose is listed twice")
        return value
