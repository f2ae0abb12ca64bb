"""The systemd notify protocol (READY, STATUS, WATCHDOG, STOPPING) and a watchdog pinger thread.

The protocol is one datagram of newline-separated ``KEY=value`` assignments sent to the
AF_UNIX socket named by ``$NOTIFY_SOCKET`` (see sd_notify(3)); it is small enough to speak
directly, so the kiosk needs no systemd binding to run under ``Type=notify``. Outside
systemd (``$NOTIFY_SOCKET`` unset) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping

log = logging.getLogger(__name__)

NOTIFY_SOCKET = "NOTIFY_SOCKET"
WATCHDOG_USEC = "WATCHDOG_USEC"
WATCHDOG_PID = "WATCHDOG_PID"


def _address(value: str) -> str | bytes | None:
    if value.startswith("@"):
        # Abstract namespace: the name starts with a NUL byte instead of '@'.
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def notify(*assignments: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``assignments`` (e.g. "READY=1", "STATUS=serving") to systemd in one datagram.

    Returns True if sent, False when not started by systemd ($NOTIFY_SOCKET unset) or
    when the send failed. A failed send is logged, not raised: losing a STATUS line must
    not stop the kiosk, and a lost WATCHDOG=1 is what the watchdog exists to catch.
    Raises ValueError if an assignment is not ``KEY=value`` on one line.
    """
    if not assignments:
        raise ValueError("notify needs at least one KEY=value assignment")
    for assignment in assignments:
        if "=" not in assignment or "\n" in assignment:
            raise ValueError(f"notify assignment must be one KEY=value line, got {assignment!r}")
    environ = os.environ if environ is None else environ
    target = environ.get(NOTIFY_SOCKET)
    if not target:
        return False
    address = _address(target)
    if address is None:
        log.warning("cannot notify systemd: unsupported %s address %r", NOTIFY_SOCKET, target)
        return False
    message = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message, address)
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", target, exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings: half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.

    Returns None when the watchdog is off: $WATCHDOG_USEC unset or 0, or $WATCHDOG_PID set
    to another process (the setting was meant for it, not for us). An unparsable value is
    logged and treated as off rather than raised, since it comes from the service manager,
    not from anything the kiosk can fix.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(WATCHDOG_USEC)
    if not raw:
        return None
    pid = environ.get(WATCHDOG_PID)
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a whole number of microseconds", WATCHDOG_USEC, raw)
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


class WatchdogPinger:
    """A daemon thread that sends WATCHDOG=1 every ``interval`` seconds while ``healthy()`` is True.

    While ``healthy()`` returns False (or raises, which is logged) no ping is sent, so
    systemd's WatchdogSec restarts a kiosk that is alive but stuck; pings resume if it
    recovers in time. Without a watchdog (``interval`` None and $WATCHDOG_USEC unset)
    ``start`` does nothing.
    """

    THREAD_NAME = "sd-watchdog"

    def __init__(
        self,
        healthy: Callable[[], bool],
        interval: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.healthy = healthy
        self._environ = environ
        self.interval = interval if interval is not None else watchdog_interval(environ)
        self.pings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start pinging (first ping at once); a no-op without a watchdog or if already running."""
        if self.interval is None or self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)
        self._thread.start()
        log.info("systemd watchdog: pinging every %.1f s", self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop pinging and wait up to ``timeout`` seconds for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        was_healthy = True
        while not self._stop.is_set():
            try:
                is_healthy = bool(self.healthy())
            except Exception:
                log.exception("watchdog health check raised; withholding the ping")
                is_healthy = False
            if is_healthy:
                if notify("WATCHDOG=1", environ=self._environ):
                    self.pings += 1
                if not was_healthy:
                    log.info("watchdog health check passes again; pings resumed")
            elif was_healthy:
                log.error("watchdog health check failed; withholding pings so systemd restarts the kiosk")
            was_healthy = is_healthy
            self._stop.wait(self.interval)
