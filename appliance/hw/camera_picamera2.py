"""The Raspberry Pi camera through picamera2 (libcamera), imported only on a Pi that has it."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.camera import DeviceCamera

if TYPE_CHECKING:
    from appliance.config import CameraSettings, HardwareSection


class Picamera2Camera(DeviceCamera):
    """Runs the camera continuously (auto-exposure keeps converging); a capture waits only until
    ``settle_s`` has passed since start, then saves a JPEG still."""

    backend = "picamera2"
    hint = N_("check the ribbon cable and `rpicam-hello --list-cameras`; on other boards use v4l2")
    name = "picamera2 camera"

    def __init__(self, settings: CameraSettings, camera: Any) -> None:
        super().__init__(settings)
        self._camera = camera
        self._started = time.monotonic()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return "CSI camera 0"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> Picamera2Camera:
        """Raises DeviceError if picamera2 is not installed (not a Pi) or no camera is connected."""
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise DeviceError(
                f"the picamera2 back-end needs Raspberry Pi OS's python3-picamera2 (libcamera) ({exc}); "
                "on other boards use camera = \"v4l2\""
            ) from None
        settings = hardware.camera_settings
        try:
            camera = Picamera2()
            camera.configure(camera.create_still_configuration(main={"size": (settings.width, settings.height)}))
            camera.options["quality"] = settings.jpeg_quality
            camera.start()
        except Exception as exc:  # libcamera reports a missing or busy camera as various errors
            raise DeviceError(f"picamera2: cannot start the camera ({exc}); check the ribbon cable and "
                              "`rpicam-hello --list-cameras`") from None
        return cls(settings, camera)

    def _grab(self) -> bytes:
        """Raises DeviceError if the capture fails."""
        wait = self._started + self.settings.settle_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        buffer = io.BytesIO()
        try:
            self._camera.capture_file(buffer, format="jpeg")
        except Exception as exc:
            self._last_error = f"last capture failed: {exc}"
            raise DeviceError(f"picamera2: capture failed: {exc}") from None
        return buffer.getvalue()

    def _detail(self) -> str:
        return f"Pi camera at {self.settings.width}x{self.settings.height}"

    def _release(self) -> None:
        try:
            self._camera.stop()
            self._camera.close()
        except Exception:
            pass
