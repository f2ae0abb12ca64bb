"""The R30x/ZFM fingerprint module on a UART: handshake, image, template, upload."""

from __future__ import annotations

import logging
import termios
import threading
import time
from typing import TYPE_CHECKING, Any

import serial

from appliance.domain import clock
from appliance.domain.reasons import N_, Reason, reason
from appliance.errors import DeviceError, FrameError
from appliance.hw import r30x_protocol as proto
from appliance.hw.fingerprint import FingerprintCapture, FingerprintScanner
from appliance.hw.serial_port import open_port

if TYPE_CHECKING:
    from appliance.config import FingerprintR30xSettings, HardwareSection

log = logging.getLogger(__name__)

TEMPLATE_FORMAT = "r30x-char"
# A command is sent again this many times after a corrupted or missing answer: every
# command the kiosk uses is idempotent (the module keeps its image and buffers).
COMMAND_RETRIES = 2
FINGER_POLL_S = 0.15
# Hints the officer reads when an image cannot be turned into a template.
# What a poor image's confirmation code tells the officer (codes of appliance.domain.reasons).
IMAGE_HINTS = {
    0x06: "fingerprint.smudged",
    0x07: "fingerprint.partial",
    0x15: "fingerprint.unclear",
    0x03: "fingerprint.image_failed",
}


class R30xScanner(FingerprintScanner):
    """Drives one module over a serial port (an open pyserial port object).

    ``exchanges`` records every instruction sent and the confirmation received (or the
    error), so a test or the self-test can read the conversation.
    """

    backend = "r30x"
    hint = N_("check the module's 3.3 V supply, TX->RX and RX->TX wiring, "
            "hardware.fingerprint_r30x.port and baudrate (57600 by default)")

    def __init__(self, port: serial.SerialBase, settings: FingerprintR30xSettings) -> None:
        self.port = port
        self.settings = settings
        self.address = settings.address
        self.parser = proto.PacketParser()
        self.exchanges: list[tuple[str, str]] = []
        self.parameters: dict[str, Any] = {}
        self._queued: list[proto.Packet | FrameError | proto.Noise] = []
        self.noise: list[str] = []
        self._last_error: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return f"{hardware.fingerprint_r30x.port} @{hardware.fingerprint_r30x.baudrate}"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> R30xScanner:
        """Open ``hardware.fingerprint_r30x.port`` and handshake with the module.

        Raises DeviceError if the port cannot be opened, the module does not answer or
        refuses the password.
        """
        settings = hardware.fingerprint_r30x
        port = open_port(settings.port, settings.baudrate, "8N1", timeout=0.05, what="fingerprint module")
        scanner = cls(port, settings)
        try:
            scanner.handshake()
        except BaseException:
            port.close()
            raise
        return scanner

    # --- protocol -----------------------------------------------------------------

    def handshake(self) -> dict[str, Any]:
        """Check the password (VfyPwd) and read the module's parameters (ReadSysPara).

        Raises DeviceError if the module is silent, answers garbage or refuses the password.
        """
        password = self.settings.password.get_secret_value() if self.settings.password else "00000000"
        with self._lock:
            confirm, _ = self._command(proto.VFY_PWD, bytes.fromhex(password))
            if confirm != proto.OK:
                raise DeviceError(f"fingerprint module refused the handshake: {proto.confirmation_text(confirm)}")
            confirm, data = self._command(proto.READ_SYS_PARA)
        if confirm != proto.OK or len(data) < 16:
            raise DeviceError(f"fingerprint module did not report its parameters: {proto.confirmation_text(confirm)}")
        size_code = int.from_bytes(data[12:14], "big")
        self.parameters = {
            "capacity": int.from_bytes(data[4:6], "big"),
            "security_level": int.from_bytes(data[6:8], "big"),
            "packet_size": proto.PACKET_SIZES[size_code] if size_code < 4 else None,
            "baud": int.from_bytes(data[14:16], "big") * 9600,
        }
        return self.parameters

    def capture(self, timeout: float | None = None) -> FingerprintCapture:
        """Wait for a finger, image it (retrying poor images), and upload its template.

        Raises DeviceError naming what went wrong: no finger before ``timeout``, no
        usable image after the configured attempts, a silent or closed module, or
        FrameError if the exchange stayed corrupted after retries.
        """
        timeout = self.settings.finger_timeout_s if timeout is None else timeout
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout}")
        with self._lock:
            if self._closed:
                raise DeviceError("fingerprint module is closed")
            try:
                result = self._capture(time.monotonic() + timeout)
            except DeviceError as exc:
                self._last_error = str(exc)
                raise
            self._last_error = None
            return result

    def _capture(self, deadline: float) -> FingerprintCapture:
        hints: list[Reason] = []
        for attempt in range(1, self.settings.attempts + 1):
            self._wait_for_finger(deadline)
            confirm, _ = self._command(proto.IMG_2TZ, b"\x01")
            if confirm == proto.OK:
                template = self._upload(1)
                if attempt > 1:
                    hints.append(reason("fingerprint.retried", attempt=attempt, attempts=self.settings.attempts))
                ok = any(template)  # an all-zero file means the module returned an empty buffer
                if not ok:
                    hints.append(reason("fingerprint.empty"))
                return FingerprintCapture(template, TEMPLATE_FORMAT, ok, [item.text() for item in hints],
                                          clock.utcnow(), reasons=hints)
            code = IMAGE_HINTS.get(confirm)
            if code is None:
                raise DeviceError(f"fingerprint module could not process the image: {proto.confirmation_text(confirm)}")
            hints.append(reason(code))
            log.info("fingerprint attempt %d: %s", attempt, proto.confirmation_text(confirm))
        raise DeviceError(f"no usable fingerprint after {self.settings.attempts} attempts: {hints[-1].text()}")

    def _wait_for_finger(self, deadline: float) -> None:
        while True:
            confirm, _ = self._command(proto.GEN_IMG)
            if confirm == proto.OK:
                return
            # "No finger" and "imaging failed" are both worth another look until the deadline.
            if confirm not in (0x02, 0x03):
                raise DeviceError(f"fingerprint module could not take an image: {proto.confirmation_text(confirm)}")
            if time.monotonic() >= deadline:
                if confirm == 0x03:
                    raise DeviceError(f"fingerprint image failed: {reason(IMAGE_HINTS[0x03]).text()}")
                raise DeviceError("no finger on the fingerprint sensor: ask the traveller to press a finger on the glass")
            time.sleep(FINGER_POLL_S)

    def _upload(self, buffer_id: int) -> bytes:
        last: DeviceError | None = None
        for _ in range(COMMAND_RETRIES + 1):
            try:
                confirm, _ = self._command(proto.UP_CHAR, bytes([buffer_id]), retries=0)
                if confirm != proto.OK:
                    raise DeviceError(f"fingerprint module refused to upload the template: "
                                      f"{proto.confirmation_text(confirm)}")
                return self._receive_data()
            except FrameError as exc:
                # A corrupted data packet spoils the whole template: let the module finish
                # sending the rest, then ask for all of it again.
                last = exc
                self._settle()
        raise FrameError(f"template upload stayed corrupted after {COMMAND_RETRIES + 1} tries: {last}")

    def _receive_data(self) -> bytes:
        data = bytearray()
        while True:
            packet = self._next_packet(self.settings.response_timeout_s, "template data")
            if packet.pid not in (proto.PID_DATA, proto.PID_END):
                raise FrameError(f"expected template data, got a {proto.PACKET_IDS[packet.pid]} packet")
            data += packet.payload
            if len(data) > 4096:
                raise FrameError("template upload did not end after 4096 bytes")
            if packet.pid == proto.PID_END:
                return bytes(data)

    def _command(self, instruction: int, params: bytes = b"", retries: int = COMMAND_RETRIES) -> tuple[int, bytes]:
        """Send one instruction and return (confirmation code, data) of the acknowledge.

        A corrupted answer (bad checksum, noise) or a missing one is retried ``retries``
        times; then FrameError or DeviceError (silence) is raised.
        """
        name = proto.INSTRUCTIONS.get(instruction, hex(instruction))
        last: DeviceError | None = None
        for _ in range(retries + 1):
            self._drain()
            try:
                self.port.write(proto.command(instruction, params, self.address))
                packet = self._next_packet(self.settings.response_timeout_s, name)
                confirm = packet.confirmation
            except DeviceError as exc:  # a corrupted answer (FrameError) or none at all
                last = exc
                self.exchanges.append((name, f"error: {exc}"))
                self._settle()
                continue
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"fingerprint module port {self.settings.port} failed: {exc}") from None
            self.exchanges.append((name, proto.confirmation_text(confirm)))
            return confirm, packet.payload[1:]
        # Each pass either returned or set ``last``: none ran only if ``retries`` was negative.
        if last is None:
            raise ValueError(f"retries must be >= 0, got {retries}")
        raise last

    def _next_packet(self, timeout: float, waiting_for: str) -> proto.Packet:
        deadline = time.monotonic() + timeout
        while True:
            if self._queued:
                item = self._queued.pop(0)
                if isinstance(item, proto.Noise):
                    # Noise before an answer is survivable; only a corrupted packet spoils it.
                    self.noise.append(str(item))
                    continue
                if isinstance(item, FrameError):
                    raise item
                if item.address != self.address:
                    raise FrameError(f"answer from module address 0x{item.address:08X}, "
                                     f"expected 0x{self.address:08X}")
                return item
            if time.monotonic() >= deadline:
                raise DeviceError(
                    f"fingerprint module did not answer {waiting_for} within {timeout:g} s on "
                    f"{self.settings.port} at {self.settings.baudrate} baud (check power, TX/RX wiring, baud rate)"
                )
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"fingerprint module port {self.settings.port} failed: {exc}") from None
            if data:
                self._queued.extend(self.parser.feed(data))

    def _settle(self) -> None:
        """Read and drop bytes until the line is quiet: the rest of a spoiled answer must not
        be taken for the answer to the next command."""
        deadline = time.monotonic() + self.settings.response_timeout_s
        try:
            while time.monotonic() < deadline and self.port.read(max(1, self.port.in_waiting)):
                pass
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"fingerprint module port {self.settings.port} failed: {exc} (unplugged?)") from None
        self._drain()

    def _drain(self) -> None:
        """Forget stale bytes and packets, so an answer is never matched to the wrong command."""
        self._queued = []
        self.parser.reset()
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:  # termios.error is no OSError
            raise DeviceError(f"fingerprint module port {self.settings.port} failed: {exc} (unplugged?)") from None

    # --- device ------------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        if self._closed:
            return False, "closed"
        if self._last_error is not None:
            return False, f"last capture failed: {self._last_error}"
        size = self.parameters.get("packet_size")
        return True, (f"module answering on {self.settings.port} at {self.settings.baudrate} baud"
                      + (f", capacity {self.parameters['capacity']}, packets of {size} bytes" if size else ""))

    def close(self) -> None:
        self._closed = True
        with self._lock:
            try:
                self.port.close()
            except Exception:
                pass
