"""A simulated INA219 on a simulated I2C bus, with smbus2's word interface and byte order."""

from __future__ import annotations

import errno
import threading


class SimulatedINA219Bus:
    """An SMBus with one INA219 at ``address``; ``set(volts, amps)`` sets what it measures.

    Words are returned byte-swapped, as smbus2 returns the INA219's big-endian registers,
    so the back-end's byte order is tested for real. ``present=False`` makes the chip
    stop answering (EREMOTEIO), as a loose wire does; ``writes`` records every write.
    """

    def __init__(self, address: int = 0x40, shunt_ohms: float = 0.1) -> None:
        self.address = address
        self.shunt_ohms = shunt_ohms
        self.present = True
        self.closed = False
        self.writes: list[tuple[int, int, int]] = []
        self._registers = {0x00: 0x399F, 0x01: 0, 0x02: 0}
        self._lock = threading.Lock()

    def set(self, volts: float, amps: float = 0.0, overflow: bool = False) -> None:
        bus = (round(volts / 0.004) << 3) | 0x2 | (1 if overflow else 0)
        shunt = round(amps * self.shunt_ohms / 10e-6) & 0xFFFF
        with self._lock:
            self._registers[0x02] = bus & 0xFFFF
            self._registers[0x01] = shunt

    def _check(self, address: int) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "bus closed")
        if address != self.address or not self.present:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def read_word_data(self, address: int, register: int) -> int:
        with self._lock:
            self._check(address)
            value = self._registers.get(register, 0)
        return ((value & 0xFF) << 8) | (value >> 8)

    def write_word_data(self, address: int, register: int, value: int) -> None:
        with self._lock:
            self._check(address)
            self.writes.append((address, register, value))
            self._registers[register] = ((value & 0xFF) << 8) | (value >> 8)

    def close(self) -> None:
        self.closed = True
