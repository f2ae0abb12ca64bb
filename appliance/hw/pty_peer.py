"""Pseudo-terminal peers: the device end of a serial line, for simulators, tests and bench work.

A ``PtyPeer`` plays the device: it owns the pty master, and the kiosk opens ``path`` (the
slave, or a stable symlink to it) exactly as it would open /dev/ttyUSB0. Closing the
peer is what unplugging a USB adapter looks like to the kiosk (reads fail with EIO); a
new peer at the same symlink is the adapter plugged back in. ``NullModem`` joins two
peers back to back, for two programs that both want to open a port (a Modbus slave and
its master).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from pathlib import Path


class PtyPeer:
    """The device end of one pty. ``written`` and ``received`` record the traffic, in order."""

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.master, self._slave = os.openpty()
        # Raw mode on both ends before anyone opens the port: otherwise the line
        # discipline turns CR into LF and echoes, which no real UART does.
        tty.setraw(self.master)
        tty.setraw(self._slave)
        self.tty_path = os.ttyname(self._slave)
        self.link = Path(link) if link is not None else None
        if self.link is not None:
            # Swap the symlink atomically: a reader polling the path sees the old
            # target or the new one, never a missing link half-way.
            temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.{threading.get_ident()}")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(self.tty_path)
            os.replace(temporary, self.link)
        self.written = bytearray()
        self.received = bytearray()
        self.closed = False

    @property
    def path(self) -> str:
        """What the kiosk opens: the symlink when one was given, else the pty's own path."""
        return str(self.link) if self.link is not None else self.tty_path

    def write(self, data: bytes) -> None:
        """Send bytes to the kiosk side."""
        view = memoryview(data)
        while view:
            sent = os.write(self.master, view)
            view = view[sent:]
        self.written += data

    def write_slowly(self, data: bytes, pieces: int, pause: float = 0.02) -> None:
        """Send ``data`` torn into ``pieces`` writes, as a slow UART delivers a frame."""
        size = max(1, -(-len(data) // pieces))
        for start in range(0, len(data), size):
            self.write(data[start:start + size])
            time.sleep(pause)

    def read(self, size: int = 4096, timeout: float = 1.0) -> bytes:
        """Bytes the kiosk sent, or b"" after ``timeout`` seconds (also once the kiosk closed its end)."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.master, size)
        except OSError:  # EIO: nobody holds the slave open any more
            return b""
        self.received += data
        return data

    def read_exactly(self, size: int, timeout: float = 1.0) -> bytes:
        """Exactly ``size`` bytes from the kiosk, or fewer if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        data = b""
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            data += self.read(size - len(data), remaining)
        return data

    def close(self) -> None:
        """Unplug: the kiosk's next read on this port fails, and the port's name goes away.

        The symlink is removed, as udev removes /dev/serial/by-id/... on unplug: left
        dangling, it would point at /dev/pts/N, and the kernel hands that number to the
        next pty anyone opens, so the kiosk would find some other device there.
        """
        if self.closed:
            return
        self.closed = True
        if self.link is not None:
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.tty_path:
                    self.link.unlink()
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyPeer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class NullModem:
    """Two ptys joined back to back by a thread: what one side writes, the other reads."""

    def __init__(self, link_a: str | os.PathLike[str] | None = None,
                 link_b: str | os.PathLike[str] | None = None) -> None:
        self.a = PtyPeer(link_a)
        self.b = PtyPeer(link_b)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="null-modem", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        masters = {self.a.master: self.b.master, self.b.master: self.a.master}
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(list(masters), [], [], 0.1)
            except (OSError, ValueError):
                return  # closed under us
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue  # that side's program has not opened its port yet, or closed it
                with contextlib.suppress(OSError):
                    os.write(masters[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.a.close()
        self.b.close()
