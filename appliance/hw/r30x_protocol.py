"""The R30x/ZFM fingerprint module packet protocol (R305, R307, R503, ZFM-20 and kin).

Every packet, in both directions::

    EF 01 | address (4, big-endian) | packet id (1) | length (2) | payload | checksum (2)

``length`` counts the payload plus the two checksum bytes; the checksum is the low 16
bits of the sum of the packet id, the two length bytes and every payload byte. The host
sends command packets (id 0x01: instruction code, then parameters); the module answers
with an acknowledge packet (id 0x07: confirmation code, then data). Bulk data such as a
template follows as data packets (id 0x02) closed by an end packet (id 0x08).
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import FrameError

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF

PID_COMMAND = 0x01
PID_DATA = 0x02
PID_ACK = 0x07
PID_END = 0x08
PACKET_IDS = {PID_COMMAND: "command", PID_DATA: "data", PID_ACK: "ack", PID_END: "end of data"}

# Instruction codes used by the kiosk.
GEN_IMG = 0x01  # take an image of the finger on the glass
IMG_2TZ = 0x02  # turn the image into a character file in buffer 1 or 2
UP_CHAR = 0x08  # upload the character file (template) of a buffer to the host
READ_SYS_PARA = 0x0F  # status register, capacity, security level, address, packet size, baud
VFY_PWD = 0x13  # handshake: check the module password
INSTRUCTIONS = {GEN_IMG: "GenImg", IMG_2TZ: "Img2Tz", UP_CHAR: "UpChar", READ_SYS_PARA: "ReadSysPara",
                VFY_PWD: "VfyPwd"}

# Confirmation codes of acknowledge packets (datasheet names, shortened).
OK = 0x00
CONFIRMATIONS = {
    0x00: "ok",
    0x01: "error receiving the packet",
    0x02: "no finger on the sensor",
    0x03: "failed to take the finger image",
    0x06: "image too messy to read",
    0x07: "too few feature points in the image",
    0x0D: "error uploading the template",
    0x0E: "module cannot receive more data packets",
    0x13: "wrong module password",
    0x15: "no valid image in the image buffer",
    0x18: "error writing flash",
}
# Packet sizes of the ReadSysPara "data packet length" field (0-3).
PACKET_SIZES = (32, 64, 128, 256)
MAX_PAYLOAD = 256


def confirmation_text(code: int) -> str:
    return CONFIRMATIONS.get(code, f"unknown confirmation code 0x{code:02X}")


@dataclass(frozen=True)
class Packet:
    pid: int
    payload: bytes
    address: int = DEFAULT_ADDRESS

    @property
    def confirmation(self) -> int:
        """The confirmation code of an acknowledge packet."""
        if self.pid != PID_ACK or not self.payload:
            raise FrameError(f"expected an acknowledge packet, got a {PACKET_IDS.get(self.pid, hex(self.pid))} packet")
        return self.payload[0]

    def encode(self) -> bytes:
        return encode(self.pid, self.payload, self.address)


def checksum(pid: int, length: int, payload: bytes) -> int:
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def encode(pid: int, payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    """One packet on the wire. Raises ValueError for an unknown packet id or an oversized payload."""
    if pid not in PACKET_IDS:
        raise ValueError(f"unknown packet id 0x{pid:02X}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is over the protocol's {MAX_PAYLOAD}")
    length = len(payload) + 2
    return (HEADER + address.to_bytes(4, "big") + bytes([pid]) + length.to_bytes(2, "big") + payload
            + checksum(pid, length, payload).to_bytes(2, "big"))


def command(instruction: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> bytes:
    return encode(PID_COMMAND, bytes([instruction]) + params, address)


@dataclass(frozen=True)
class Noise:
    """Bytes outside any packet (line noise, a module booting): reported, not fatal to the exchange."""

    data: bytes

    def __str__(self) -> str:
        return f"{len(self.data)} byte(s) of noise outside a packet: {self.data[:16].hex(' ')}"


class PacketParser:
    """Reassembles packets from a byte stream delivered in arbitrary pieces.

    ``feed`` returns complete packets, FrameErrors (bad checksum, unknown packet id,
    impossible length) and Noise (bytes outside a packet), in stream order. After an
    error it resynchronises on the next header, so one corrupted packet costs only that
    packet.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, data: bytes) -> list[Packet | FrameError | Noise]:
        self._buffer += data
        out: list[Packet | FrameError | Noise] = []
        buffer = self._buffer
        while True:
            start = buffer.find(HEADER)
            if start < 0:
                # Keep a trailing 0xEF: it may be the first half of the next header.
                keep = 1 if buffer.endswith(HEADER[:1]) else 0
                if len(buffer) > keep:
                    out.append(Noise(bytes(buffer[: len(buffer) - keep])))
                    del buffer[: len(buffer) - keep]
                return out
            if start > 0:
                out.append(Noise(bytes(buffer[:start])))
                del buffer[:start]
            if len(buffer) < 9:
                return out
            address = int.from_bytes(buffer[2:6], "big")
            pid = buffer[6]
            length = int.from_bytes(buffer[7:9], "big")
            if pid not in PACKET_IDS or not 2 <= length <= MAX_PAYLOAD + 2:
                out.append(FrameError(f"fingerprint module sent a corrupt packet header "
                                      f"(packet id 0x{pid:02X}, length {length})"))
                del buffer[:2]  # skip this header; look for the next one
                continue
            if len(buffer) < 9 + length:
                return out
            payload = bytes(buffer[9: 9 + length - 2])
            received = int.from_bytes(buffer[7 + length: 9 + length], "big")
            del buffer[: 9 + length]
            expected = checksum(pid, length, payload)
            if received != expected:
                out.append(FrameError(f"fingerprint module packet failed its checksum "
                                      f"(got 0x{received:04X}, computed 0x{expected:04X})"))
                continue
            out.append(Packet(pid, payload, address))
