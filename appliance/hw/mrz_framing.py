"""Turning the byte stream of a line-oriented MRZ reader into whole MRZs, or clear errors.

Readers send each MRZ line as text ended by CR, LF or CR LF, sometimes wrapped in STX/ETX,
and a UART delivers that in arbitrary pieces. ``MRZAssembler`` keeps partial lines and
partial documents across reads, knows from the first line how many lines make the
document (3 x 30, 2 x 36 or 2 x 44 characters), and turns anything else into a
``FrameError`` naming what was wrong, then starts clean so the next document reads.
"""

from __future__ import annotations

import re
from typing import Literal

from appliance.errors import FrameError

MRZ_LINE = re.compile(r"^[A-Z0-9<]+$")
LINES_FOR_LENGTH = {30: 3, 36: 2, 44: 2}
# No MRZ line is longer; a longer run without a terminator is noise or a wrong baud rate.
MAX_PENDING = 200

Result = str | FrameError
LineEnd = Literal["any", "cr", "lf", "crlf"]


def _shown(text: str | bytes) -> str:
    shown = repr(text[:40])
    return shown + ("..." if len(text) > 40 else "")


class MRZAssembler:
    """Feed bytes in; get back complete MRZ texts (lines joined by "\\n") and FrameErrors, in order."""

    def __init__(self, line_end: LineEnd = "any", frame_start: int | None = None,
                 frame_end: int | None = None) -> None:
        self.line_end = line_end
        self.frame_start = frame_start
        self.frame_end = frame_end
        self.reset()

    def reset(self) -> None:
        """Forget any partial line or document."""
        self._pending = bytearray()
        self._lines: list[str] = []
        self._in_frame = self.frame_start is None

    @property
    def busy(self) -> bool:
        """Whether part of a document has been received."""
        return bool(self._lines or self._pending.strip())

    def feed(self, data: bytes) -> list[Result]:
        """Consume ``data``; returns the documents and errors it completed."""
        results: list[Result] = []
        for byte in data:
            if self.frame_start is not None and byte == self.frame_start:
                if self.busy:
                    results.append(self._error("a new frame started before the previous one ended"))
                self.reset()
                self._in_frame = True
                continue
            if self.frame_end is not None and byte == self.frame_end:
                if self._in_frame:
                    results.extend(self.flush(reason="frame end"))
                else:
                    results.append(FrameError("MRZ reader sent a frame end without a frame start"))
                if self.frame_start is not None:
                    self._in_frame = False
                continue
            if not self._in_frame:
                if byte not in b"\r\n \t":
                    results.append(FrameError(f"MRZ reader sent data outside a frame: {_shown(bytes([byte]))}"))
                continue
            self._pending.append(byte)
            line = self._take_line()
            if line is not None:
                result = self._add_line(line)
                if result is not None:
                    results.append(result)
            elif len(self._pending) > MAX_PENDING:
                results.append(self._error(
                    f"MRZ reader sent {len(self._pending)} bytes without a line end "
                    f"(wrong baud rate or line_end?): {_shown(bytes(self._pending))}"
                ))
        return results

    def flush(self, reason: str = "silence") -> list[Result]:
        """End the current document (after a silence or a frame end): complete, or an error."""
        results: list[Result] = []
        if self._pending.strip():
            # Some readers do not terminate the last line.
            line = bytes(self._pending)
            self._pending.clear()
            result = self._add_line(line)
            if result is not None:
                return [result]
        self._pending.clear()
        if self._lines:
            expected = LINES_FOR_LENGTH[len(self._lines[0])]
            results.append(self._error(
                f"incomplete MRZ after {reason}: got {len(self._lines)} of {expected} lines "
                f"of {len(self._lines[0])} characters (document moved too fast?)"
            ))
        return results

    def _take_line(self) -> bytes | None:
        pending = self._pending
        if self.line_end == "crlf":
            if pending.endswith(b"\r\n"):
                line = bytes(pending[:-2])
                pending.clear()
                return line
            return None
        ends = {"any": b"\r\n", "cr": b"\r", "lf": b"\n"}[self.line_end]
        if pending[-1] in ends:
            line = bytes(pending[:-1])
            pending.clear()
            return line
        return None

    def _add_line(self, raw: bytes) -> Result | None:
        try:
            # Stray CR/LF of another convention and surrounding blanks are not content.
            text = raw.decode("ascii").strip(" \t\r\n")
        except UnicodeDecodeError:
            return self._error(f"MRZ reader sent non-ASCII bytes (noise or wrong baud rate): {_shown(raw)}")
        if not text:
            return None  # the empty line between CR and LF, or a blank line
        if not MRZ_LINE.match(text):
            return self._error(f"MRZ reader sent a line with characters outside A-Z 0-9 <: {_shown(text)}")
        if len(text) not in LINES_FOR_LENGTH:
            return self._error(
                f"MRZ reader sent a line of {len(text)} characters; MRZ lines have 30, 36 or 44: {_shown(text)}"
            )
        if self._lines and len(text) != len(self._lines[0]):
            return self._error(
                f"MRZ line {len(self._lines) + 1} has {len(text)} characters but line 1 had "
                f"{len(self._lines[0])} (torn or mixed documents)"
            )
        self._lines.append(text)
        if len(self._lines) == LINES_FOR_LENGTH[len(text)]:
            document = "\n".join(self._lines)
            self._lines = []
            return document
        return None

    def _error(self, message: str) -> FrameError:
        in_frame = self._in_frame
        self.reset()
        self._in_frame = in_frame
        return FrameError(message)
