"""The camera seam: what every camera back-end provides, and the photo it returns."""

from __future__ import annotations

import struct
import threading
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, ClassVar

from appliance.domain import clock
from appliance.errors import DeviceError
from appliance.hw.device import Device

if TYPE_CHECKING:
    from appliance.config import CameraSettings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# JPEG start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC)
# share the range but are not frames.
_JPEG_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class Photo:
    """One still image as captured: encoded bytes plus what is needed to store and show it."""

    data: bytes
    media_type: str  # "image/jpeg" or "image/png"
    width: int
    height: int
    captured_at: datetime  # timezone-aware UTC


class Camera(Device):
    """A still camera facing the traveller.

    A back-end is one module ``appliance/hw/camera_<name>.py`` registered under
    ``<name>`` in ``appliance.hw.BACKENDS["camera"]``. It must set ``backend`` and ``hint`` and
    override (see ``Device``):

    - ``attached_to(hardware)``: the port, bus or file the self-test names;
    - ``from_config(hardware)``: build the camera from the ``[hardware]`` config section;
      raise ``DeviceError`` if the device cannot be opened;
    - ``capture()``: take one photo, encoded as JPEG or PNG.

    It may override ``health()`` (default: always ok) to report a fault, ``preview()``
    (default: a capture) to give the live view a cheaper frame, and ``close()`` to
    release the device. ``status()`` and ``health()`` must not raise.
    """

    kind: ClassVar[str] = "camera"

    @abstractmethod
    def capture(self) -> Photo:
        """Take one photo now; raises DeviceError if the camera failed or was closed."""

    def preview(self) -> Photo:
        """One frame for the officer's live view while framing the traveller; never stored.

        Called a few times a second while the photo step is open, so a back-end that can
        give a cheaper frame (no exposure settling, a low-resolution stream) should
        override it. The default is a full ``capture()``, which every back-end has.
        Raises DeviceError like ``capture()``.
        """
        return self.capture()


class DeviceCamera(Camera):
    """A camera on a device node: one capture at a time, none once closed, and the last failure
    kept for ``health()``.

    A back-end must still provide ``backend`` and ``from_config(hardware)``, as for any
    ``Camera``, and:

    - ``name``: the camera as the "closed" message names it ("v4l2 camera");
    - ``_grab()``: the encoded JPEG or PNG, called under the lock on an open camera; raises
      ``DeviceError``, having set ``_last_error`` first when the device itself failed;
    - ``_detail()``: the health line while all is well;
    - ``_release()``: free the device; called under the lock, so a capture under way ends first.
    """

    name: ClassVar[str]

    def __init__(self, settings: CameraSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._last_error: str | None = None
        self._closed = False

    @abstractmethod
    def _grab(self) -> bytes:
        """One still from the device, encoded as JPEG or PNG."""

    @abstractmethod
    def _detail(self) -> str:
        """The health line of a working camera."""

    @abstractmethod
    def _release(self) -> None:
        """Free the device."""

    def capture(self) -> Photo:
        return self._take(self._grab)

    def _take(self, grab: Callable[[], bytes]) -> Photo:
        """A Photo of what ``grab`` returns, under the lock, refused once closed."""
        with self._lock:
            if self._closed:
                raise DeviceError(f"{self.name} is closed")
            data = grab()
            media_type, width, height = describe_image(data)
            self._last_error = None
            return Photo(data, media_type, width, height, clock.utcnow())

    def health(self) -> tuple[bool, str]:
        if self._closed:
            return False, "closed"
        if self._last_error:
            return False, self._last_error
        return True, self._detail()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._release()


def describe_image(data: bytes) -> tuple[str, int, int]:
    """(media type, width, height) of an encoded PNG or JPEG image, read from its header.

    Back-ends use it to fill a ``Photo`` from whatever bytes the device produced.
    Raises DeviceError if the data is neither a PNG nor a JPEG with a frame header.
    """
    if data.startswith(PNG_SIGNATURE):
        # The IHDR chunk must come first: length (4), type (4), then width and height.
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise DeviceError("PNG image has no IHDR header")
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data.startswith(b"\xff\xd8"):
        width, height = _jpeg_size(data)
        return "image/jpeg", width, height
    raise DeviceError(f"image is neither PNG nor JPEG (starts with {data[:8]!r})")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise DeviceError(f"JPEG image is corrupt at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise DeviceError("JPEG image has no frame header (SOF)")
