"""What every device back-end shares: its identity, how it is opened, and how it reports health."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from appliance.config import HardwareSection


class Device(ABC):
    """Base of the device seams (MRZ reader, camera, power).

    A back-end must override ``from_config(hardware)``: build the device from the
    ``[hardware]`` config section, raising ``DeviceError`` if it cannot be opened. It may
    override ``health()`` (default: always ok) to report a fault, and ``close()`` to
    release its port or bus. ``status()`` and ``health()`` must not raise: the self-test
    and status screens call them on broken devices.
    """

    kind: ClassVar[str]
    backend: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_config(cls, hardware: HardwareSection) -> Device:
        """Open the device described by ``hardware``; raises DeviceError if it cannot be opened."""

    def health(self) -> tuple[bool, str]:
        """(ok, one-line detail) for the status screen; never raises."""
        return True, ""

    def status(self) -> dict[str, Any]:
        """kind, backend, ok and detail of this device, as the API and the logs show it."""
        ok, detail = self.health()
        return {"kind": self.kind, "backend": self.backend, "ok": ok, "detail": detail}

    def close(self) -> None:
        """Release the device; using it afterwards raises DeviceError. Safe to call twice."""
