"""The [hardware.simulated] settings: what the simulated back-ends replay."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from appliance.config.common import StrictModel


class SimulatedDevices(StrictModel):
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
