"""USB/V4L2 webcams through OpenCV (imported only when this back-end is configured)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.camera import DeviceCamera, Photo

if TYPE_CHECKING:
    from appliance.config import CameraSettings, HardwareSection


def import_cv2() -> Any:
    """OpenCV, or DeviceError saying how to get it."""
    try:
        import cv2
    except ImportError as exc:
        raise DeviceError(
            f"the v4l2 camera back-end needs OpenCV ({exc}): reinstall opencv-python-headless (a dependency of the kiosk)"
        ) from None
    return cv2


class V4L2Camera(DeviceCamera):
    """Keeps the camera open; each capture runs it for ``settle_s`` so exposure and white balance
    settle on the traveller, then keeps the last frame as a JPEG."""

    backend = "v4l2"
    hint = N_("plug the USB camera in; check hardware.camera_settings.device (v4l2-ctl --list-devices)")
    name = "v4l2 camera"

    def __init__(self, settings: CameraSettings, capture: Any, cv2: Any) -> None:
        super().__init__(settings)
        self._capture = capture
        self._cv2 = cv2

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return hardware.camera_settings.device

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> V4L2Camera:
        """Open ``camera_settings.device`` at the configured size.

        Raises DeviceError if the device node does not exist, OpenCV is missing, or the
        device does not open as a camera.
        """
        settings = hardware.camera_settings
        device = settings.device
        if not os.path.exists(device):
            present = sorted(name for name in os.listdir("/dev") if name.startswith("video")) if os.path.isdir("/dev") else []
            found = ", ".join(f"/dev/{name}" for name in present) or "no /dev/video* device at all"
            raise DeviceError(
                f"v4l2 camera: {device} does not exist ({found}); is the USB camera plugged in? "
                "(`v4l2-ctl --list-devices`)"
            )
        cv2 = import_cv2()
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise DeviceError(f"v4l2 camera: {device} exists but does not open as a camera "
                              "(in use by another program, or not a capture device; is the user in group 'video'?)")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        return cls(settings, capture, cv2)

    def preview(self) -> Photo:
        """The newest frame, without the exposure settling a photo waits for: the live view
        asks several times a second, and the stream keeps exposure moving anyway."""
        return self._take(lambda: self._grab(settle_s=0.0))

    def _grab(self, settle_s: float | None = None) -> bytes:
        """Raises DeviceError if the camera stops delivering frames."""
        deadline = time.monotonic() + (self.settings.settle_s if settle_s is None else settle_s)
        frame = None
        while frame is None or time.monotonic() < deadline:
            ok, grabbed = self._capture.read()
            if not ok:
                self._last_error = f"{self.settings.device} delivered no frame (unplugged?)"
                raise DeviceError(f"v4l2 camera: {self._last_error}")
            frame = grabbed
        ok, encoded = self._cv2.imencode(".jpg", frame, [self._cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality])
        if not ok:
            raise DeviceError("v4l2 camera: JPEG encoding failed")
        return encoded.tobytes()

    def _detail(self) -> str:
        return f"{self.settings.device} at {self.settings.width}x{self.settings.height}"

    def _release(self) -> None:
        self._capture.release()
