"""The [hardware.mrz_serial] settings: the serial MRZ reader's port, framing and timing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from appliance.config.common import SerialFraming, StrictModel


class MRZSerialSettings(StrictModel):
    port: str = Field(
        default="/dev/ttyUSB0",
        title="Serial port",
        description="Device of the MRZ reader (prefer a stable /dev/serial/by-id/... link), or a pyserial "
        "URL such as socket://host:port. The reader may be unplugged and plugged back while the kiosk runs.",
    )
    baudrate: int = Field(default=9600, ge=300, le=921600, title="Baud rate", description="Serial speed.")
    framing: SerialFraming = Field(
        default="8N1", title="Character framing", description="Data bits, parity (N/E/O) and stop bits."
    )
    line_end: Literal["any", "cr", "lf", "crlf"] = Field(
        default="any",
        title="Line terminator",
        description="What ends each MRZ line the reader sends; 'any' accepts CR, LF or CR LF.",
    )
    frame_start: int | None = Field(
        default=None, ge=0, le=255, title="Frame start byte",
        description="Byte the reader sends before a document (e.g. 2 for STX); unset when it sends none.",
    )
    frame_end: int | None = Field(
        default=None, ge=0, le=255, title="Frame end byte",
        description="Byte the reader sends after a document (e.g. 3 for ETX); unset when it sends none.",
    )
    document_gap_s: float = Field(
        default=0.5, gt=0, le=10, title="Document gap",
        description="Silence after which lines already received count as one (possibly incomplete) document.",
    )
    reconnect_interval_s: float = Field(
        default=1.0, gt=0, le=60, title="Reconnect interval",
        description="How often a disconnected reader's port is tried again.",
    )
