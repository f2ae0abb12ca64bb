"""The [stick] section: where the kiosk finds a USB stick for crossings by stick, and how much of it photos may take."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from appliance.config.common import StrictModel

# Where the SD image mounts a stick for the kiosk user (image-build/rootfs/usr/lib/kiosk/usb-mount).
DEFAULT_MOUNT_DIR = Path("/media/kiosk-usb")


class StickSection(StrictModel):
    mount_dir: Path = Field(
        default=DEFAULT_MOUNT_DIR,
        title="USB stick folder",
        description="Absolute path where a USB stick is mounted for the kiosk (the image's udev rule and "
        "kiosk-usb@.service mount one at /media/kiosk-usb); the supervisor's USB stick screen writes exports "
        "there and reads HQ's receipt and list bundles from it. A stick counts as there while this is a folder "
        "the kiosk can write.",
    )
    max_photo_mib: int = Field(
        default=256, ge=1, le=700,
        title="Photos per stick export (MiB)",
        description="Most MiB of photos and fingerprint templates the USB stick screen writes into one export "
        "when the supervisor includes them (as `kiosk export --max-photo-mib`); the rest wait for the next stick "
        "or the uplink.",
    )

    @field_validator("mount_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # A relative folder would depend on the directory the service happened to start in.
        if not value.is_absolute():
            raise ValueError(f"stick.mount_dir {str(value)!r} must be an absolute path, such as /media/kiosk-usb")
        return value
