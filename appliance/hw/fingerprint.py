"""The fingerprint seam: what every fingerprint-module back-end provides, and the capture it returns."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from appliance.domain.reasons import Reason
from appliance.hw.device import Device


@dataclass(frozen=True)
class FingerprintCapture:
    """One finger's template as the module produced it, with what the officer should know about it."""

    template: bytes
    format: str  # e.g. "r30x-char": the module's own character file
    ok: bool
    hints: list[str] = field(default_factory=list)
    captured_at: datetime | None = None  # timezone-aware UTC
    # The hints as codes with parameters (appliance.domain.reasons), for the officer's language.
    reasons: list[Reason] = field(default_factory=list)


class FingerprintScanner(Device):
    """A fingerprint module the traveller presses a finger on.

    A back-end is one module ``appliance/hw/fingerprint_<name>.py`` registered under
    ``<name>`` in ``appliance.hw.BACKENDS["fingerprint"]``. It must set ``backend`` and ``hint`` and
    override (see ``Device``):

    - ``attached_to(hardware)``: the port, bus or file the self-test names;
    - ``from_config(hardware)``: open the module and check it answers; raise
      ``DeviceError`` if it cannot be opened or does not answer;
    - ``capture(timeout)``: wait for a finger, read it, return its template.

    It may override ``health()`` and ``close()``; ``status()`` and ``health()`` must not raise.
    """

    kind: ClassVar[str] = "fingerprint"

    @abstractmethod
    def capture(self, timeout: float | None = None) -> FingerprintCapture:
        """Wait up to ``timeout`` seconds (default: configured) for a finger and return its template.

        Raises DeviceError if no finger came, no usable image could be taken, or the
        module failed or was closed (FrameError for a corrupted exchange).
        """
