"""The simulated camera: returns image files from a directory in turn, and fails on request."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.domain import clock
from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.camera import Camera, Photo, describe_image

if TYPE_CHECKING:
    from appliance.config import HardwareSection

SAMPLE_RESOURCE = "demo_data/face.png"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class SimulatedCamera(Camera):
    """Returns the JPEG/PNG files of ``directory`` in name order, round and round.

    Without a directory it returns the package's sample face. The directory is listed
    again at each capture, so a technician can drop files in while the kiosk runs.
    ``captures`` keeps the file name of every photo returned, ``failures`` the reason of
    every capture made to fail by ``fail_next``.
    """

    backend = "simulated"
    hint = N_("check hardware.simulated.camera_dir holds JPEG/PNG files")

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.captures: list[str] = []
        self.failures: list[str] = []
        self._pending_failures: deque[str] = deque()
        self._last_failure: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return str(hardware.simulated.camera_dir or "package sample face")

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SimulatedCamera:
        """A camera over ``hardware.simulated.camera_dir`` (default: the package's sample face).

        Raises DeviceError if the directory does not exist or holds no JPEG/PNG file.
        """
        camera = cls(hardware.simulated.camera_dir)
        camera._images()  # fail at start-up, not at the first traveller
        return camera

    def fail_next(self, reason: str) -> None:
        """Make the next capture raise DeviceError with ``reason``; calls add up, one failure each."""
        with self._lock:
            self._pending_failures.append(reason)

    def capture(self) -> Photo:
        """The next image file as a Photo.

        Raises DeviceError if a failure was requested with ``fail_next``, if the camera is
        closed, or if the directory has no image left or a file is not a readable PNG/JPEG.
        """
        with self._lock:
            self._fail_if_scripted()
            try:
                name, photo = self._next_image()
            except DeviceError as exc:
                self._last_failure = str(exc)
                raise
            self.captures.append(name)
            self._last_failure = None
            return photo

    def preview(self) -> Photo:
        """The image the next capture will return, not counted in ``captures`` (those are the
        photos taken). A failure scripted with ``fail_next`` hits the first frame asked for,
        preview or photo, as a real camera's fault would."""
        with self._lock:
            self._fail_if_scripted()
            return self._next_image()[1]

    def _fail_if_scripted(self) -> None:
        """Raise for a closed camera or a failure requested with ``fail_next``; call under the lock."""
        if self._closed:
            raise DeviceError("simulated camera is closed")
        if self._pending_failures:
            reason = self._pending_failures.popleft()
            self.failures.append(reason)
            self._last_failure = reason
            raise DeviceError(f"camera unavailable: {reason}")

    def _next_image(self) -> tuple[str, Photo]:
        """(file name, Photo) of the image the next capture returns; call under the lock."""
        images = self._images()
        image = images[len(self.captures) % len(images)]
        try:
            data = image.read_bytes()
            media_type, width, height = describe_image(data)
        except (OSError, DeviceError) as exc:
            raise DeviceError(f"simulated camera: cannot use image {image}: {exc}") from None
        return image.name, Photo(data, media_type, width, height, clock.utcnow())

    def health(self) -> tuple[bool, str]:
        with self._lock:
            if self._closed:
                return False, "closed"
            if self._last_failure is not None:
                return False, f"last capture failed: {self._last_failure}"
            try:
                images = self._images()
            except DeviceError as exc:
                return False, str(exc)
            where = str(self.directory) if self.directory else f"appliance/{SAMPLE_RESOURCE} (package default)"
            return True, f"returns {len(images)} image(s) from {where}"

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _images(self) -> Sequence[Traversable]:
        if self.directory is None:
            return [resources.files("appliance").joinpath(SAMPLE_RESOURCE)]
        try:
            images = sorted(
                entry for entry in self.directory.iterdir()
                if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES
            )
        except OSError as exc:
            raise DeviceError(f"simulated camera: cannot list camera_dir {self.directory}: {exc}") from None
        if not images:
            raise DeviceError(
                f"simulated camera: camera_dir {self.directory} has no {'/'.join(IMAGE_SUFFIXES)} file"
            )
        return images
