"""The MRZ reader seam: what every passport-reader back-end provides to the kiosk."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from appliance.hw.device import Device


class MRZReader(Device):
    """A document reader that yields the machine readable zone of each passport put on it.

    A back-end is one module ``appliance/hw/mrz_reader_<name>.py`` registered under
    ``<name>`` in ``appliance.hw.BACKENDS["mrz_reader"]``. It must set ``backend`` and ``hint`` and
    override (see ``Device``):

    - ``attached_to(hardware)``: the port, bus or file the self-test names;
    - ``from_config(hardware)``: build the reader from the ``[hardware]`` config section;
      raise ``DeviceError`` if the device cannot be opened;
    - ``read(timeout)``: block until a document is read or ``timeout`` seconds pass.

    It may override ``health()`` (default: always ok) to report a fault, and ``close()``
    to release its port. Both ``status()`` and ``health()`` must not raise: the self-test
    screen calls them on a broken device.
    """

    kind: ClassVar[str] = "mrz_reader"

    @abstractmethod
    def read(self, timeout: float) -> str | None:
        """The next document's MRZ text (its lines joined by "\\n"), or None after ``timeout`` seconds.

        The text is returned as the device gave it; parsing and validating it is the
        caller's job (``appliance.domain.mrz``). Raises DeviceError if the device failed or was
        closed, ValueError if ``timeout`` is negative.
        """
