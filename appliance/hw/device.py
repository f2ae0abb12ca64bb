"""What every device back-end shares: its identity, how it is opened, how it reports health and
what a technician should check when it fails."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from appliance.config import HardwareSection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceStatus:
    """One device's health as the API, the diagnostics page and the logs show it.

    Every back-end reports the same four fields (its particulars go into ``detail``),
    so one class serves all kinds.
    """

    kind: str
    backend: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``GET /api/devices``: kind, backend, ok, detail, in that order."""
        return {"kind": self.kind, "backend": self.backend, "ok": self.ok, "detail": self.detail}


class Device(ABC):
    """Base of the device seams (MRZ reader, camera, power, fingerprint, indicators).

    A back-end must set ``backend`` (its name in ``[hardware]``) and ``hint`` (what the
    self-test tells a technician to check when it fails), and override
    ``from_config(hardware)``: build the device from the ``[hardware]`` config section,
    raising ``DeviceError`` if it cannot be opened, and ``attached_to(hardware)``: the port,
    bus or file the self-test names. It may override ``health()`` (default: always ok) to
    report a fault, and ``close()`` to release its port or bus. ``status()`` and
    ``health()`` must not raise: the self-test and status screens call them on broken devices.
    """

    kind: ClassVar[str]
    backend: ClassVar[str]
    hint: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_config(cls, hardware: HardwareSection) -> Device:
        """Open the device described by ``hardware``; raises DeviceError if it cannot be opened."""

    @classmethod
    @abstractmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        """What the device configured in ``hardware`` is attached to, as a technician would look for it
        (a port and its speed, a bus address, a file); read from the config alone, never raises."""

    def health(self) -> tuple[bool, str]:
        """(ok, one-line detail) for the status screen; never raises."""
        return True, ""

    def status(self) -> DeviceStatus:
        """kind, backend, ok and detail of this device, as the API and the logs show it."""
        ok, detail = self.health()
        return DeviceStatus(kind=self.kind, backend=self.backend, ok=ok, detail=detail)

    def close(self) -> None:
        """Release the device; using it afterwards raises DeviceError. Safe to call twice."""


def close_all(devices: list[Any]) -> None:
    """Close every device in order, even if one fails; then raise the first failure."""
    first_error: BaseException | None = None
    for device in devices:
        try:
            device.close()
        except Exception as exc:
            log.error("closing the %s device failed: %s", getattr(device, "kind", device), exc)
            if first_error is None:
                first_error = exc
    if first_error is not None:
        raise first_error
