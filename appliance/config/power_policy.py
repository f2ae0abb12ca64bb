"""The [hardware.power_policy] settings: battery thresholds, shutdown and battery history."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from appliance.config.common import StrictModel


class PowerPolicySettings(StrictModel):
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
    def _ordered(self) -> Self:
        if not self.critical_percent < self.defer_percent < self.warn_percent:
            raise ValueError(
                "levels must satisfy critical_percent < defer_percent < warn_percent, got "
                f"{self.critical_percent:g} / {self.defer_percent:g} / {self.warn_percent:g}"
            )
        return self
