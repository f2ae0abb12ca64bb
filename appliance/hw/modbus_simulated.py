"""A simulated EPever-style solar charge controller: a real pymodbus RTU slave on a pty pair."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from appliance.hw.pty_peer import NullModem

# EPever input registers (real-time data), each value x100 unless noted.
PV_POWER_L = 0x3102  # 32 bits, low word first
BATTERY_VOLTAGE = 0x3104
CHARGE_CURRENT = 0x3105
BATTERY_SOC = 0x311A  # percent, not scaled
FIRST, COUNT = 0x3100, 0x30


class SolarChargerSimulator:
    """An EPever-like controller answering Modbus RTU as unit ``unit``; the kiosk opens ``path``.

    ``set(...)`` changes what it measures; ``close()`` unplugs it. The slave is pymodbus's
    own server, so the back-end is tested against a real Modbus implementation.
    """

    def __init__(self, link: str | os.PathLike[str] | None = None, *, unit: int = 1, baudrate: int = 115200) -> None:
        from pymodbus import FramerType
        from pymodbus.server import ModbusSerialServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        self.unit = unit
        self.modem = NullModem(link_b=link)
        self._loop = asyncio.new_event_loop()
        device = SimDevice(id=unit, simdata=[SimData(FIRST, values=[0] * COUNT, datatype=DataType.REGISTERS)])
        ready = threading.Event()
        self._server: Any = None

        async def serve() -> None:
            # pymodbus servers must be built inside their event loop.
            self._server = ModbusSerialServer(device, framer=FramerType.RTU, port=self.modem.a.tty_path,
                                              baudrate=baudrate)
            ready.set()
            await self._server.serve_forever()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(serve())
            except Exception:
                pass  # closed under it

        self._thread = threading.Thread(target=run, name="modbus-slave", daemon=True)
        self._thread.start()
        ready.wait(5)

    @property
    def path(self) -> str:
        return self.modem.b.path

    def set(self, *, battery_volts: float, charge_amps: float = 0.0, pv_watts: float = 0.0,
            soc: int | None = None) -> None:
        """Set the controller's readings (blocking until the slave holds them)."""
        pv = round(pv_watts * 100)
        values = {PV_POWER_L: [pv & 0xFFFF, pv >> 16], BATTERY_VOLTAGE: [round(battery_volts * 100)],
                  CHARGE_CURRENT: [round(charge_amps * 100)]}
        if soc is not None:
            values[BATTERY_SOC] = [soc]
        for address, words in values.items():
            # 16 = write multiple registers: the server's datastore takes the same path a
            # Modbus write would.
            future = asyncio.run_coroutine_threadsafe(
                self._server.context.async_setValues(self.unit, 16, address, words), self._loop)
            future.result(5)

    def close(self) -> None:
        """Unplug the controller; safe to call twice."""
        if self._server is not None and self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            try:
                future.result(5)
            except Exception:
                pass
        self._thread.join(timeout=5)
        self.modem.close()
