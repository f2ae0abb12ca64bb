"""A kiosk, HQ and broker wired together for uplink tests: configs, keys, enrolment, HQ ingest thread."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

from appliance import config as config_module
from appliance.workflow.crossings import CrossingRequest, record
from appliance.storage.officers import Officers
from appliance.uplink import protocol
from hq import config as hq_config_module
from hq.db import HQDatabase
from hq.ingest import Ingest

from .conftest import OFFICER_PIN
from .samples import CLEAR_OKAFOR


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, step: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def hq_setup(directory: Path, broker_url: str, extra_broker: str = "") -> tuple[hq_config_module.HQConfig, Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "hq_ed25519.key"
    public = protocol.generate_key_file(key_file)
    path = directory / "hq.toml"
    path.write_text(textwrap.dedent(f"""
        [hq]
        database = "{directory / 'hq.sqlite3'}"
        signing_key_file = "{key_file}"
        offline_after_s = 60

        [broker]
        url = "{broker_url}"
        client_id = "hq-test-{directory.name}"
    """) + extra_broker, encoding="utf-8")
    return hq_config_module.load(path, environ={}), path, public


def kiosk_setup(directory: Path, broker_url: str, hq_public: str, kiosk_id: str = "K1", api_port: int = 8080,
                extra_uplink: str = "") -> tuple[config_module.Config, Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    path = directory / "kiosk.toml"
    path.write_text(textwrap.dedent(f"""
        [kiosk]
        post_id = "POST-U"
        kiosk_id = "{kiosk_id}"
        data_dir = "{data}"

        [api]
        port = {api_port}

        [uplink]
        broker_url = "{broker_url}"
        hq_public_key = "{hq_public}"
        receipt_timeout_s = 3.0
        reconnect_min_s = 0.2
        reconnect_max_s = 1.0
        health_interval_s = 5
        keepalive_s = 5
    """) + textwrap.dedent(extra_uplink), encoding="utf-8")
    config = config_module.load(path, environ={})
    public = protocol.generate_key_file(config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key")
    return config, path, public


def enrol(hq_config: hq_config_module.HQConfig, config: config_module.Config, public: str) -> None:
    db = HQDatabase(hq_config.hq.database)
    db.enrol(config.kiosk.post_id, config.kiosk.kiosk_id, public)
    db.close()


def add_officer(store, config) -> Any:
    officers = Officers(store, config.security)
    officers.add("alice", "officer", OFFICER_PIN)
    return officers.get("alice")


def record_many(store, config, officer, count: int, mrz: str = CLEAR_OKAFOR) -> list[dict[str, Any]]:
    return [record(store, config, officer,
                   CrossingRequest(direction="entry" if i % 2 == 0 else "exit", mrz=mrz)).to_dict()
            for i in range(count)]


class IngestThread:
    """HQ ingest running in a thread of the test process; stop() is 'HQ goes down'."""

    def __init__(self, hq_config: hq_config_module.HQConfig) -> None:
        self.config = hq_config
        self.db = HQDatabase(hq_config.hq.database)
        self.worker = Ingest(hq_config, self.db)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop_event,), name="hq-ingest", daemon=True)

    def start(self) -> "IngestThread":
        self.thread.start()
        wait_until(self.worker.connected.is_set, 15, what="HQ ingest to connect")
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        self.db.close()

    def crossings(self) -> list[dict[str, Any]]:
        return self.db.crossings()
