"""Opening serial ports from config: device paths or pyserial URLs, "8N1"-style framing, clear errors."""

from __future__ import annotations

import errno
import os

import serial

from appliance.errors import DeviceError

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def parse_framing(framing: str) -> tuple[int, str, float]:
    """(bytesize, parity, stopbits) of a framing such as "8N1" or "7E1"; raises ValueError otherwise."""
    if len(framing) != 3 or framing[0] not in "5678" or framing[1] not in _PARITY or framing[2] not in "12":
        raise ValueError(f"serial framing {framing!r} is not like 8N1 (data bits, parity N/E/O, stop bits)")
    return int(framing[0]), _PARITY[framing[1]], float(framing[2])


def open_port(port: str, baudrate: int, framing: str = "8N1", timeout: float = 0.1,
              what: str = "serial device") -> serial.SerialBase:
    """Open ``port`` (a path, or a pyserial URL such as ``loop://`` or ``socket://h:p``).

    Raises DeviceError naming ``what``, the port and a hint (missing device, permission,
    port held by another program).
    """
    bytesize, parity, stopbits = parse_framing(framing)
    options = dict(baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits, timeout=timeout)
    if "://" not in port:
        # Two programs on one UART interleave bytes and corrupt both: the self-test
        # must say "busy" rather than steal frames from the running service.
        options["exclusive"] = True
    try:
        return serial.serial_for_url(port, **options)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(f"{what}: cannot open {port}: {explain(port, exc)}") from None


def explain(port: str, exc: BaseException) -> str:
    """A technician's reading of why ``port`` could not be used."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if "://" not in port and not os.path.exists(port):
        return f"{port} does not exist (unplugged? check `ls -l /dev/serial/by-id/` and the cable)"
    if code == errno.EACCES or "Permission denied" in text:
        return f"permission denied (add the kiosk user to the 'dialout' group): {text}"
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in text.lower():
        return f"port is in use by another program (is `kiosk run` running?): {text}"
    return text
