"""`kiosk run` killed with SIGKILL mid-batch and restarted: HQ still ends with every crossing once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from appliance.storage.store import Store
from appliance.uplink import outbox
from hq.db import HQDatabase
from hq.fleet import fleet_rows

from .broker import Mosquitto, free_port
from .uplink_env import IngestThread, add_officer, enrol, hq_setup, kiosk_setup, record_many, wait_until


@pytest.fixture
def broker(tmp_path):
    mosquitto = Mosquitto(tmp_path / "broker").start()
    yield mosquitto
    mosquitto.kill()


def _start(config_path) -> subprocess.Popen:
    env = {**os.environ, "KIOSK_CONFIG": str(config_path)}
    return subprocess.Popen([sys.executable, "-m", "appliance", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_mid_batch_then_restart(tmp_path, broker):
    hq_config, _, hq_public = hq_setup(tmp_path / "hq", broker.url)
    # Small batches, one in flight: the drain takes long enough to be cut in the middle.
    config, config_path, kiosk_public = kiosk_setup(
        tmp_path / "kiosk", broker.url, hq_public, api_port=free_port(),
        extra_uplink="batch_max_items = 2\nmax_inflight_batches = 1\n")
    enrol(hq_config, config, kiosk_public)
    with Store(config.db_path) as store:
        recorded = record_many(store, config, add_officer(store, config), 300)

    ingest = IngestThread(hq_config).start()
    process = _start(config_path)
    try:
        wait_until(lambda: len(ingest.crossings()) >= 10, 30, step=0.005, what="the drain to begin")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        cut_at = len(ingest.crossings())
        assert 0 < cut_at < 300, "the kill should land in the middle of the backlog"
        # The broker publishes the retained last will once the keep-alive (5 s) runs out.
        wait_until(lambda: fleet_rows(ingest.db, 60)[0]["state"] == "offline", 20, what="the last will at HQ")

        process = _start(config_path)
        with Store(config.db_path) as reader:
            wait_until(lambda: outbox.depth(reader) == 0, 90, what="the rest of the backlog after restart")
        wait_until(lambda: fleet_rows(ingest.db, 60)[0]["state"] == "online", 20, what="birth after restart")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(15)
        ingest.stop()

    held_db = HQDatabase(hq_config.hq.database)
    held = held_db.crossings()
    held_db.close()
    assert [c["id"] for c in held] == [c["id"] for c in recorded]
    assert [c["seq"] for c in held] == list(range(1, 301))
