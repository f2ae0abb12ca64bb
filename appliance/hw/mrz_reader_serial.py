"""The serial MRZ reader: line-oriented passport readers on a UART or USB serial port, with hot-plug."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import serial

from appliance.domain.reasons import N_
from appliance.errors import DeviceError, FrameError
from appliance.hw.mrz_framing import MRZAssembler, Result
from appliance.hw.mrz_reader import MRZReader
from appliance.hw.serial_port import explain, open_port

if TYPE_CHECKING:
    from appliance.config import HardwareSection, MRZSerialSettings

log = logging.getLogger(__name__)

# Short serial reads keep the loop responsive to close() and to the document gap.
POLL_S = 0.05


class SerialMRZReader(MRZReader):
    """Reads MRZs a reader sends as text lines; survives the reader being unplugged and plugged back.

    The port is opened at start-up if it is there; if it is not, or it disappears later
    (USB unplugged, EIO), the reader keeps trying to open it again every
    ``reconnect_interval_s`` during ``read`` calls, so the service never has to restart.
    ``events`` records connects, disconnects and frame errors for the status screen and
    tests.
    """

    backend = "serial"
    hint = N_("plug the reader in; check hardware.mrz_serial.port (ls -l /dev/serial/by-id/), "
            "baudrate and line_end")

    def __init__(self, settings: MRZSerialSettings) -> None:
        self.settings = settings
        self.port_name = settings.port
        self.assembler = MRZAssembler(settings.line_end, settings.frame_start, settings.frame_end)
        self.events: list[str] = []
        self._results: deque[Result] = deque()
        self._port: serial.SerialBase | None = None
        self._last_error: str | None = None
        self._next_attempt = 0.0
        self._last_data = 0.0
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return f"{hardware.mrz_serial.port} @{hardware.mrz_serial.baudrate}"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SerialMRZReader:
        """A reader on ``hardware.mrz_serial.port``; an absent reader is not an error (hot-plug).

        Raises DeviceError only for settings that can never work (a malformed port URL).
        """
        reader = cls(hardware.mrz_serial)
        with reader._lock:
            reader._try_open()
        if reader._port is None and "://" in reader.port_name:
            raise DeviceError(f"MRZ reader: {reader._last_error}")
        return reader

    @property
    def connected(self) -> bool:
        return self._port is not None

    def read(self, timeout: float) -> str | None:
        """The next MRZ the reader sends, or None after ``timeout`` seconds with none.

        Raises FrameError (a DeviceError) for noise, torn or incomplete documents (the next
        read starts clean), DeviceError if the reader is still disconnected when
        ``timeout`` runs out or the reader was closed, ValueError for a negative timeout.
        """
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout}")
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                if self._closed:
                    raise DeviceError("serial MRZ reader is closed")
                if self._results:
                    result = self._results.popleft()
                    if isinstance(result, FrameError):
                        self.events.append(f"frame error: {result}")
                        raise result
                    return result
                now = time.monotonic()
                remaining = deadline - now
                if self._port is None:
                    if now >= self._next_attempt:
                        self._try_open()
                    if self._port is None:
                        if remaining <= 0:
                            raise DeviceError(
                                f"MRZ reader disconnected: {self._last_error}; waiting for it to come back"
                            )
                        time.sleep(min(POLL_S, remaining))
                        continue
                self._read_some(self._port)
                if not self._results and remaining <= 0:
                    return None

    def _read_some(self, port: serial.SerialBase) -> None:
        try:
            # The port's own timeout (POLL_S) bounds this wait; changing it per call would
            # make pyserial reconfigure the UART each time.
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            return
        now = time.monotonic()
        if data:
            self._last_data = now
            self._results.extend(self.assembler.feed(data))
        elif self.assembler.busy and now - self._last_data >= self.settings.document_gap_s:
            self._results.extend(self.assembler.flush())

    def _try_open(self) -> None:
        self._next_attempt = time.monotonic() + self.settings.reconnect_interval_s
        try:
            self._port = open_port(self.port_name, self.settings.baudrate, self.settings.framing,
                                   timeout=POLL_S, what="MRZ reader")
        except DeviceError as exc:
            if self._last_error is None:
                log.warning("%s", exc)
            self._last_error = str(exc).removeprefix("MRZ reader: ")
            return
        # The input buffer is kept: a document scanned the moment the adapter came
        # back is already waiting in it.
        self.assembler.reset()
        self._last_error = None
        self.events.append(f"connected {self.port_name}")
        log.info("MRZ reader connected on %s", self.port_name)

    def _lost(self, exc: BaseException) -> None:
        log.warning("MRZ reader on %s lost: %s", self.port_name, exc)
        if self.assembler.busy:
            self._results.append(FrameError("MRZ reader disconnected in the middle of a document: read it again"))
        self.assembler.reset()
        if self._port is not None:
            try:
                self._port.close()
            except Exception:
                pass  # the port is gone already; closing only frees our handle
        self._port = None
        self._last_error = f"{self.port_name} lost: {explain(self.port_name, exc)}"
        self._next_attempt = time.monotonic()  # the adapter may already be back
        self.events.append(f"disconnected {self.port_name}")

    def health(self) -> tuple[bool, str]:
        if self._closed:
            return False, "closed"
        if self._port is None:
            return False, f"disconnected: {self._last_error}"
        return True, f"connected on {self.port_name} at {self.settings.baudrate} baud {self.settings.framing}"

    def close(self) -> None:
        # Set before taking the lock: a read() waiting on the port sees it within POLL_S.
        self._closed = True
        with self._lock:
            if self._port is not None:
                try:
                    self._port.close()
                finally:
                    self._port = None
