"""The [hardware.camera_settings] settings: still size, settling and the V4L2 device."""

from __future__ import annotations

from pydantic import Field

from appliance.config.common import StrictModel


class CameraSettings(StrictModel):
    device: str = Field(
        default="/dev/video0", title="V4L2 device",
        description="USB/V4L2 camera device (v4l2 back-end only).",
    )
    width: int = Field(default=1280, ge=160, le=4608, title="Width", description="Still width in pixels.")
    height: int = Field(default=960, ge=120, le=3456, title="Height", description="Still height in pixels.")
    settle_s: float = Field(
        default=1.0, ge=0, le=10, title="Exposure settling",
        description="Time the camera runs before the still is kept, so auto-exposure and white balance settle.",
    )
    jpeg_quality: int = Field(default=90, ge=50, le=100, title="JPEG quality", description="Quality of stored stills.")
