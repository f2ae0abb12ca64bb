"""A simulated R30x fingerprint module speaking the real packet protocol over a pty.

``R30xSimulator`` is the module: a thread on the master side of a pty that answers
VfyPwd, ReadSysPara, GenImg, Img2Tz and UpChar exactly as the datasheet says, with
faults a test can script (a corrupted checksum, silence, noise, an answer torn into
pieces, a poor image). ``SimulatedFingerprintScanner`` is the "simulated" back-end: the
real R30x driver talking to an in-process simulator, so the demo and the tests exercise
the same code a kiosk runs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from typing import TYPE_CHECKING

from appliance.domain.reasons import N_
from appliance.errors import DeviceError, FrameError
from appliance.hw import r30x_protocol as proto
from appliance.hw.fingerprint_r30x import R30xScanner
from appliance.hw.pty_peer import PtyPeer
from appliance.hw.serial_port import open_port

if TYPE_CHECKING:
    from appliance.config import HardwareSection

TEMPLATE_BYTES = 512  # one character file of an R30x module
FAULTS = ("corrupt", "silent", "noise", "torn", "corrupt_data")


def sample_template(seed: str = "simulated finger") -> bytes:
    """A deterministic 512-byte stand-in for a character file."""
    blocks = [hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(TEMPLATE_BYTES // 32)]
    return b"".join(blocks)


class R30xSimulator:
    """An R30x module on a pty. The kiosk opens ``path``; the simulator answers on the master side.

    State a test drives: ``finger`` (a finger on the glass), ``image_results`` (the
    confirmation codes of the next Img2Tz calls: 0x06/0x07 for a poor image), ``faults``
    (applied one per answer, in order: "corrupt", "silent", "noise", "torn",
    "corrupt_data" for the next template upload). ``commands`` records the instruction
    names received, ``bad_packets`` how many host packets failed their checksum.
    """

    def __init__(self, link: str | os.PathLike[str] | None = None, *, address: int = proto.DEFAULT_ADDRESS,
                 password: str = "00000000", packet_size: int = 128, finger: bool = True,
                 template: bytes | None = None) -> None:
        if packet_size not in proto.PACKET_SIZES:
            raise ValueError(f"packet_size must be one of {proto.PACKET_SIZES}")
        self.peer = PtyPeer(link)
        self.address = address
        self.password = bytes.fromhex(password)
        self.packet_size = packet_size
        self.finger = finger
        self.template = template if template is not None else sample_template()
        self.image_results: deque[int] = deque()
        self.faults: deque[str] = deque()
        self.commands: list[str] = []
        self.bad_packets = 0
        self._image = False
        self._buffers: dict[int, bytes] = {}
        self._parser = proto.PacketParser()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="r30x-simulator", daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return self.peer.path

    def fault(self, *names: str) -> None:
        """Queue faults for the next answers, one each."""
        for name in names:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
            self.faults.append(name)

    def close(self) -> None:
        """Stop answering and unplug the pty."""
        self._stop.set()
        self._thread.join(timeout=2)
        self.peer.close()

    # --- the module -------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.peer.read(4096, timeout=0.05)
            except (OSError, ValueError):
                return
            if not data:
                continue
            for item in self._parser.feed(data):
                if isinstance(item, proto.Noise):
                    continue
                if isinstance(item, FrameError):
                    self.bad_packets += 1
                    if "checksum" in str(item):
                        self._answer(0x01)  # "error receiving the packet", as the module does
                    continue
                if item.pid == proto.PID_COMMAND and item.payload and item.address == self.address:
                    self._handle(item.payload[0], item.payload[1:])

    def _handle(self, instruction: int, params: bytes) -> None:
        self.commands.append(proto.INSTRUCTIONS.get(instruction, f"0x{instruction:02X}"))
        if instruction == proto.VFY_PWD:
            self._answer(proto.OK if params == self.password else 0x13)
        elif instruction == proto.READ_SYS_PARA:
            data = (
                (0).to_bytes(2, "big") + (9).to_bytes(2, "big") + (1000).to_bytes(2, "big")
                + (3).to_bytes(2, "big") + self.address.to_bytes(4, "big")
                + proto.PACKET_SIZES.index(self.packet_size).to_bytes(2, "big") + (6).to_bytes(2, "big")
            )
            self._answer(proto.OK, data)
        elif instruction == proto.GEN_IMG:
            self._image = self.finger
            self._answer(proto.OK if self.finger else 0x02)
        elif instruction == proto.IMG_2TZ:
            buffer_id = params[0] if params else 1
            if not self._image:
                self._answer(0x15)
                return
            code = self.image_results.popleft() if self.image_results else proto.OK
            if code == proto.OK:
                self._buffers[buffer_id] = self.template
            self._answer(code)
        elif instruction == proto.UP_CHAR:
            template = self._buffers.get(params[0] if params else 1)
            if template is None:
                self._answer(0x0D)
                return
            if not self._answer(proto.OK):
                return
            self._send_data(template)
        else:
            self._answer(0x01)

    def _answer(self, confirmation: int, data: bytes = b"") -> bool:
        fault = self.faults.popleft() if self.faults and self.faults[0] != "corrupt_data" else None
        if fault == "silent":
            return False
        packet = proto.encode(proto.PID_ACK, bytes([confirmation]) + data, self.address)
        self._send(packet, fault)
        return True

    def _send_data(self, data: bytes) -> None:
        corrupt_first = bool(self.faults) and self.faults[0] == "corrupt_data"
        if corrupt_first:
            self.faults.popleft()
        chunks = [data[i:i + self.packet_size] for i in range(0, len(data), self.packet_size)]
        for index, chunk in enumerate(chunks):
            pid = proto.PID_END if index == len(chunks) - 1 else proto.PID_DATA
            packet = proto.encode(pid, chunk, self.address)
            self._send(packet, "corrupt" if corrupt_first and index == 0 else None)

    def _send(self, packet: bytes, fault: str | None) -> None:
        if fault == "corrupt":
            packet = packet[:-1] + bytes([packet[-1] ^ 0x5A])
        elif fault == "noise":
            packet = b"\x00\x13\x37" + packet
        try:
            if fault == "torn":
                self.peer.write_slowly(packet, 3, pause=0.03)
            else:
                self.peer.write(packet)
        except OSError:
            pass  # the kiosk side went away; nothing to answer to


class SimulatedFingerprintScanner(R30xScanner):
    """The R30x driver talking to an in-process ``R30xSimulator`` (finger always present)."""

    backend = "simulated"
    hint = N_("the simulator runs on a pty: check /dev/pts is mounted")

    def __init__(self, port, settings, simulator: R30xSimulator) -> None:
        super().__init__(port, settings)
        self.simulator = simulator

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return "in-process pty"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SimulatedFingerprintScanner:
        """Start a simulator on a new pty and handshake with it; raises DeviceError if that fails."""
        settings = hardware.fingerprint_r30x
        password = settings.password.get_secret_value() if settings.password else "00000000"
        simulator = R30xSimulator(address=settings.address, password=password)
        try:
            settings = settings.model_copy(update={"port": simulator.path})
            port = open_port(simulator.path, settings.baudrate, timeout=0.05, what="simulated fingerprint module")
            scanner = cls(port, settings, simulator)
            try:
                scanner.handshake()
            except BaseException:
                port.close()
                raise
        except BaseException:
            simulator.close()
            raise
        return scanner

    def health(self) -> tuple[bool, str]:
        ok, detail = super().health()
        return ok, detail.replace("module answering", "simulated R30x module answering", 1)

    def close(self) -> None:
        super().close()
        self.simulator.close()


__all__ = ["DeviceError", "R30xSimulator", "SimulatedFingerprintScanner", "sample_template"]
