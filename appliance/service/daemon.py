"""The kiosk service (``kiosk run``): a linear start-up, then the API until asked to stop."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from appliance import __version__
from appliance.config import Config
from appliance.errors import InferenceError
from appliance.hw import Devices, open_devices
from appliance.hw.power_policy import PowerPolicy
from appliance.inference import face_embedder
from appliance.lists import indexes
from appliance.lists.apply import apply_bundle
from appliance.service import malloc_arenas, sdnotify
from appliance.service.clock_watch import ClockWatch
from appliance.service.housekeeping import Housekeeping
from appliance.service.power_records import StorePowerRecords
from appliance.storage import audit, key_files
from appliance.storage.store import Store
from appliance.uplink import status as uplink_status
from appliance.uplink import telemetry
from appliance.uplink.client import Uplink, signing_key_path
from appliance.uplink.list_sync import ListAssembler
from appliance.web.app import create_app
from appliance.workflow import biometrics, timekeeping

log = logging.getLogger("kiosk")

T = TypeVar("T")


def _made(value: T | None, step: str) -> T:
    """``value``, which start-up step ``step`` makes; a step run before it is a bug, said as such."""
    if value is None:
        raise RuntimeError(f"{step}() must run before this start-up step")
    return value


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
    """Owns the store, the devices and the HTTP server of one running kiosk.

    Each part is None until its start-up step made it (and stays None when it is not
    configured), so ``stop()`` closes only what was opened.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store | None = None
        self.devices: Devices | None = None
        self.server: uvicorn.Server | None = None
        self.watchdog: sdnotify.WatchdogPinger | None = None
        self.uplink: Uplink | None = None
        self.app: FastAPI | None = None
        self.housekeeping: Housekeeping | None = None
        self.power_policy: PowerPolicy | None = None
        self.clock_watch: ClockWatch | None = None

    def start(self) -> None:
        self.check_keys()
        self.init_store()
        self.start_clock_watch()
        self.init_devices()
        self.init_face_models()
        self.init_api()
        self.init_power_policy()
        self.start_uplink()
        self.start_housekeeping()
        self.start_watchdog()

    def check_keys(self) -> None:
        """Refuse to start with a private key that group or others can read (ConfigError naming the file).

        Checked before anything opens, so a kiosk never serves with a key another local
        account could have copied.
        """
        if self.config.security.biometric_key_file is not None:
            biometrics.key(self.config)
        if self.config.uplink.broker_url:
            key_files.check_private(signing_key_path(self.config), "uplink signing key")

    def init_store(self) -> None:
        self.store = store = Store(self.config.db_path)
        problems = [row for row in store.integrity_check() if row != "ok"]
        if problems:
            # Keep serving: refusing to start would stop the post. Say it loudly instead.
            log.error("database integrity check found problems: %s", "; ".join(problems[:5]))
        log.info("store %s ready (schema %d)", store.path, store.schema_version)
        # List index files: drop builds a power cut interrupted.
        for removed in indexes.remove_unfinished(store, indexes.root_for(self.config)):
            log.warning("removed unfinished list index build %s", removed)

    def start_clock_watch(self) -> None:
        """Right after the store: a clock that restarted in the past is audited before any crossing."""
        self.clock_watch = watch = ClockWatch(_made(self.store, "init_store"), self.config)
        watch.start()

    def init_devices(self) -> None:
        self.devices = devices = open_devices(self.config.hardware)
        for name, status in devices.status().items():
            log.info("device %s: %s", name, status.to_dict())
        if devices.indicators is not None:
            devices.indicators.on_supervisor_call(self._supervisor_called)

    def init_face_models(self) -> None:
        """Load the face embedder now, so the first traveller does not wait for it and a bad
        model is in the log at start-up. A failure does not stop the kiosk: crossings are
        then recorded without face screening, each saying why (docs/faces.md)."""
        try:
            embedder = face_embedder.for_settings(self.config.screening)
        except InferenceError as exc:
            log.error("face models not loaded, photos will not be screened by face: %s", exc)
            return
        if embedder is None:
            log.info("no face embedder configured: faces are screened only when a client sends an embedding")
            return
        info = embedder.describe()
        log.info("face embedder %s ready (%s %s, %d-d%s)", info["embedder"]["path"], info["runtime"],
                 info["version"], embedder.dim, ", with detector" if embedder.detector is not None else "")

    def _supervisor_called(self) -> None:
        log.warning("call-supervisor button pressed")
        audit.record(_made(self.store, "init_store"), "kiosk", "supervisor.call", self.config.kiosk.kiosk_id)

    def init_api(self) -> None:
        app = create_app(self.config, _made(self.store, "init_store"), self.devices)
        self.app = app
        server_config = uvicorn.Config(
            app, host=self.config.api.host, port=self.config.api.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(server_config)

    def init_power_policy(self) -> None:
        settings = self.config.hardware.power_policy
        if not settings.enabled:
            log.warning("power policy disabled: the kiosk will not shut down before the battery is empty")
            return
        devices = _made(self.devices, "init_devices")
        self.power_policy = policy = PowerPolicy(settings, devices.power,
                                                 StorePowerRecords(_made(self.store, "init_store")),
                                                 devices.indicators)
        _made(self.app, "init_api").state.power_policy = policy
        policy.start()

    def start_uplink(self) -> None:
        # Offline is the normal case: with no broker configured the kiosk simply queues.
        if not self.config.uplink.broker_url:
            log.info("no uplink configured; crossings stay queued in the outbox")
            return
        store = _made(self.store, "init_store")
        app = _made(self.app, "init_api")
        heavy_work_allowed = self.power_policy.heavy_work_allowed if self.power_policy else None
        lists = ListAssembler(
            apply=lambda data: apply_bundle(store, self.config, data, actor="hq"),
            current_version=lambda name: telemetry.list_versions(store).get(name, {}).get("version"),
            record=lambda **values: uplink_status.write(store, **values),
            heavy_work_allowed=heavy_work_allowed,
        )
        self.uplink = uplink = Uplink(
            self.config, store,
            health=lambda: telemetry.collect(store, self.config, self.devices,
                                             getattr(app.state, "power_policy", None)),
            on_list_message=lists.on_message,
            heavy_work_allowed=heavy_work_allowed,
            on_hq_time=lambda at: timekeeping.offer_hq(store, self.config, at),
            # Without a biometric key nothing was captured, so there is nothing to read.
            capture_bytes=(biometrics.uplink_reader(store, self.config)
                           if biometrics.key_configured(self.config) else None),
        )
        uplink.start()

    def start_housekeeping(self) -> None:
        self.housekeeping = housekeeping = Housekeeping(
            _made(self.store, "init_store"), interval_s=self.config.storage.housekeeping_interval_s, config=self.config,
            heavy_work_allowed=self.power_policy.heavy_work_allowed if self.power_policy else None)
        housekeeping.start()

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
            _made(self.server, "init_api").run()
        finally:
            sdnotify.notify("STOPPING=1")
            self.stop()

    def _announce_ready(self) -> None:
        # uvicorn sets `started` once the socket is bound; only then can systemd start the browser.
        server = _made(self.server, "init_api")
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            log.info(
                "kiosk %s/%s %s listening on http://%s:%d%s",
                self.config.kiosk.post_id, self.config.kiosk.kiosk_id, __version__,
                self.config.api.host, self.config.api.port,
                " (TRAINING MODE)" if self.config.kiosk.training else "",
            )
            sdnotify.notify("READY=1", f"STATUS=serving on port {self.config.api.port}")

    def stop(self) -> None:
        if self.power_policy:
            self.power_policy.stop()
        if self.watchdog:
            self.watchdog.stop()
        if self.uplink:
            self.uplink.stop()
        if self.housekeeping:
            self.housekeeping.stop()
        if self.clock_watch:
            self.clock_watch.stop()
        if self.devices:
            self.devices.close()
        if self.store:
            self.store.close()


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run(config: Config) -> None:
    malloc_arenas.limit()  # before any of the service's threads allocate
    service = KioskService(config)
    service.start()
    service.serve()
