"""The simulated MRZ reader: replays specimen MRZs from a file and reads documents a test presents."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.mrz_reader import MRZReader

if TYPE_CHECKING:
    from appliance.config import HardwareSection

SPECIMENS_RESOURCE = "demo_data/specimens.mrz"


def parse_mrz_file(text: str) -> list[str]:
    """The MRZs in the text of an MRZ file: blocks of lines separated by blank lines.

    Lines starting with '#' are comments (no MRZ character is '#'). Lines are stripped
    of surrounding whitespace; nothing else is checked, so a file may hold deliberately
    broken MRZs to exercise the error paths.
    """
    blocks: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line:
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def load_mrz_file(path: str | os.PathLike[str] | None) -> tuple[list[str], str]:
    """(MRZs, where they came from) from ``path``, or from the package's specimens when None.

    Raises DeviceError naming the file if it cannot be read or is not UTF-8 text.
    """
    if path is None:
        source = resources.files("appliance").joinpath(SPECIMENS_RESOURCE)
        where = f"appliance/{SPECIMENS_RESOURCE} (package default)"
    else:
        source = Path(path)
        where = str(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeviceError(f"simulated MRZ reader: cannot read MRZ file {where}: {exc}") from None
    return parse_mrz_file(text), where


class SimulatedMRZReader(MRZReader):
    """Replays ``samples`` in order, over and over; a presented document jumps the queue.

    With no samples, ``read`` waits for ``present`` and returns None on timeout, like a
    real reader with nothing on it. Every value ``read`` returned, None included, is kept
    in ``returned`` so a test can check the whole script afterwards.
    """

    backend = "simulated"
    hint = N_("check hardware.simulated.mrz_file")

    def __init__(self, samples: Iterable[str] = (), *, source: str = "given samples") -> None:
        self.samples: list[str] = list(samples)
        self.source = source
        self.returned: list[str | None] = []
        self._next_sample = 0
        self._presented: deque[str] = deque()
        self._closed = False
        # One condition guards the queue and wakes a waiting read() when present() or
        # close() is called from another thread (the UI or a test).
        self._changed = threading.Condition()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return str(hardware.simulated.mrz_file or "package specimens")

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SimulatedMRZReader:
        """A reader replaying ``hardware.simulated.mrz_file`` (default: the package's specimens).

        Raises DeviceError if the file cannot be read.
        """
        samples, where = load_mrz_file(hardware.simulated.mrz_file)
        return cls(samples, source=where)

    def present(self, text: str) -> None:
        """Put a document on the reader: the next ``read`` returns ``text``, before any sample.

        Several presented documents are read in the order they were presented. Raises
        DeviceError if the reader is closed.
        """
        with self._changed:
            if self._closed:
                raise DeviceError("simulated MRZ reader is closed")
            self._presented.append(text)
            self._changed.notify_all()

    def read(self, timeout: float) -> str | None:
        """The next presented document, else the next sample, else None after ``timeout`` seconds.

        Raises ValueError if ``timeout`` is negative, DeviceError if the reader is closed
        (also when it is closed while this call waits).
        """
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout}")
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self._closed:
                    raise DeviceError("simulated MRZ reader is closed")
                if self._presented:
                    text: str | None = self._presented.popleft()
                    break
                if self.samples:
                    text = self.samples[self._next_sample]
                    self._next_sample = (self._next_sample + 1) % len(self.samples)
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    text = None
                    break
                self._changed.wait(remaining)
            self.returned.append(text)
        return text

    def health(self) -> tuple[bool, str]:
        with self._changed:
            if self._closed:
                return False, "closed"
            if self.samples:
                detail = f"replaying {len(self.samples)} MRZ(s) from {self.source}"
            else:
                detail = f"no MRZ in {self.source}: reads only presented documents"
            if self._presented:
                detail += f"; {len(self._presented)} presented document(s) waiting"
            return True, detail

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._presented.clear()
            self._changed.notify_all()
