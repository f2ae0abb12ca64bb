"""The kiosk service (``kiosk run``): a linear start-up, then the API until asked to stop."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

import uvicorn

from . import __version__, sdnotify
from .api import create_app
from .config import Config
from .hw import open_devices
from .store import Store

log = logging.getLogger("kiosk")


def setup_logging(level: str = "INFO") -> None:
    """Log to journald when systemd started us (JOURNAL_STREAM is set), else to stderr."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        try:
            from systemd.journal import JournalHandler  # the [pi] extra; optional

            handler = JournalHandler(SYSLOG_IDENTIFIER="kiosk")
        except ImportError:
            pass  # stderr is captured by journald anyway, just without structured fields
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class KioskService:
    """Owns the store, the devices and the HTTP server of one running kiosk."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store | None = None
        self.devices = None
        self.server: uvicorn.Server | None = None
        self.watchdog: sdnotify.WatchdogPinger | None = None
        self.uplink = None
        self.app = None

    def start(self) -> None:
        self.init_store()
        self.init_devices()
        self.init_api()
        self.start_uplink()
        self.start_watchdog()

    def init_store(self) -> None:
        self.store = Store(self.config.db_path)
        problems = [row for row in self.store.integrity_check() if row != "ok"]
        if problems:
            # Keep serving: refusing to start would stop the post. Say it loudly instead.
            log.error("database integrity check found problems: %s", "; ".join(problems[:5]))
        log.info("store %s ready (schema %d)", self.store.path, self.store.schema_version)

    def init_devices(self) -> None:
        self.devices = open_devices(self.config.hardware)
        for name, status in self.devices.status().items():
            log.info("device %s: %s", name, status)

    def init_api(self) -> None:
        app = create_app(self.config, self.store, self.devices)
        self.app = app
        server_config = uvicorn.Config(
            app, host=self.config.api.host, port=self.config.api.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(server_config)

    def start_uplink(self) -> None:
        # Offline is the normal case: with no broker configured the kiosk simply queues.
        if not self.config.uplink.broker_url:
            log.info("no uplink configured; crossings stay queued in the outbox")
            return
        from .uplink.client import Uplink
        from .uplink import telemetry

        self.uplink = Uplink(
            self.config, self.store,
            health=lambda: telemetry.collect(self.store, self.config, self.devices,
                                             getattr(self.app.state, "power_policy", None)),
        )
        self.uplink.start()

    def start_watchdog(self) -> None:
        self.watchdog = sdnotify.WatchdogPinger(self._healthy)
        self.watchdog.start()

    def _healthy(self) -> bool:
        return self.server is not None and not self.server.should_exit

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT; tells systemd READY once the socket is listening."""
        threading.Thread(target=self._announce_ready, name="ready-notifier", daemon=True).start()
        # uvicorn re-raises the SIGTERM it handled once it has shut down; with the default
        # handler that kills the process before the store and devices are closed. Turning
        # it into SystemExit lets the `finally` below run.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        try:
            self.server.run()
        finally:
            sdnotify.notify("STOPPING=1")
            self.stop()

    def _announce_ready(self) -> None:
        # uvicorn sets `started` once the socket is bound; only then can systemd start the browser.
        while not self.server.started and not self.server.should_exit:
            time.sleep(0.05)
        if self.server.started:
            log.info(
                "kiosk %s/%s %s listening on http://%s:%d%s",
                self.config.kiosk.post_id, self.config.kiosk.kiosk_id, __version__,
                self.config.api.host, self.config.api.port,
                " (TRAINING MODE)" if self.config.kiosk.training else "",
            )
            sdnotify.notify("READY=1", f"STATUS=serving on port {self.config.api.port}")

    def stop(self) -> None:
        if self.watchdog:
            self.watchdog.stop()
        if self.uplink:
            self.uplink.stop()
        if self.devices:
            self.devices.close()
        if self.store:
            self.store.close()


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run(config: Config) -> None:
    service = KioskService(config)
    service.start()
    service.serve()
