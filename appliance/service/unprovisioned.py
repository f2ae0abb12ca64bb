"""``kiosk run --fallback-screen`` when the config cannot be used: serve the unprovisioned screen until it can.

systemd starts ``kiosk run`` on every boot. After a refused first boot there is no config,
and a kiosk that exits leaves the touchscreen black; this serves
``appliance.web.unprovisioned`` instead, tells systemd READY (the browser unit waits for it)
and pings its watchdog. It watches the config file: once it appears or changes (the
technician ran ``kiosk provision``), it exits with ``EXIT_CONFIG_CHANGED`` so that systemd's
``Restart=on-failure`` starts the real kiosk.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from pathlib import Path

import uvicorn

from appliance.errors import KioskError
from appliance.service import sdnotify
from appliance.web import unprovisioned
from appliance.workflow import provision

log = logging.getLogger(__name__)

# EX_TEMPFAIL: not a failure of the kiosk, but systemd must start it again.
EXIT_CONFIG_CHANGED = 75
WATCH_INTERVAL_S = 5.0


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port is a clear error before anything is served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise KioskError(f"port {port} on {host} is in use or cannot be bound ({exc.strerror}): "
                         "stop what holds it or give --fallback-port") from exc
    return sock


def serve(config_path: Path, problem: str, *, host: str, port: int, status_file: Path | None = None,
          watch_interval: float = WATCH_INTERVAL_S) -> int:
    """Serve the screen until SIGTERM (returns 0) or until ``config_path`` changes (returns EXIT_CONFIG_CHANGED)."""
    listening = _bind(host, port)
    status_file = status_file or provision.status_file_for(config_path)
    provisioning = provision.read_status_file(status_file)
    log.error("kiosk not started: %s; serving the unprovisioned screen on http://%s:%d", problem, host, port)
    app = unprovisioned.create_app(problem, provisioning, str(config_path))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    changed = threading.Event()
    watched = _signature(config_path)

    def watch() -> None:
        while not server.should_exit:
            time.sleep(watch_interval)
            if _signature(config_path) != watched:
                log.info("%s changed: restarting into the kiosk", config_path)
                changed.set()
                server.should_exit = True

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            sdnotify.notify("READY=1", f"STATUS=not provisioned: {problem.splitlines()[0][:200]}")

    pinger = sdnotify.WatchdogPinger(lambda: not server.should_exit)
    threading.Thread(target=watch, name="config-watch", daemon=True).start()
    threading.Thread(target=announce, name="ready-notifier", daemon=True).start()
    pinger.start()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: setattr(server, "should_exit", True))
    try:
        server.run(sockets=[listening])
    finally:
        pinger.stop()
        sdnotify.notify("STOPPING=1")
        listening.close()
    return EXIT_CONFIG_CHANGED if changed.is_set() else 0
