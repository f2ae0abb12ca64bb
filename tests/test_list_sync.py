"""Signed list bundles pushed by HQ over MQTT reach a running kiosk (`kiosk run`) and apply, or are refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from importlib import resources

import pytest
from click.testing import CliRunner

from appliance.cli import cli
from hq import lists as hq_lists
from hq.db import HQDatabase
from hq.list_push import push

from .broker import Mosquitto, free_port
from .uplink_env import enrol, hq_setup, kiosk_setup, wait_until


@pytest.fixture
def broker(tmp_path):
    mosquitto = Mosquitto(tmp_path / "broker").start()
    yield mosquitto
    mosquitto.kill()


def _status(config_path, *args):
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _versions(config_path) -> dict[str, str]:
    return {item["name"]: item["version"] for item in _status(config_path, "lists", "status")["lists"]}


def test_bundles_over_mqtt_apply_in_the_running_kiosk_and_bad_ones_change_nothing(tmp_path, broker):
    hq_config, _, hq_public = hq_setup(tmp_path / "hq", broker.url)
    keys = tmp_path / "listkeys"
    keys.mkdir()
    hq_lists.keygen(keys / "list.key", keys / "list.pub")
    config, config_path, kiosk_public = kiosk_setup(tmp_path / "kiosk", broker.url, hq_public, api_port=free_port())
    with config_path.open("a") as handle:
        handle.write(f'\n[screening]\ntrusted_key = "{keys / "list.pub"}"\n')
    enrol(hq_config, config, kiosk_public)
    export = resources.files("appliance").joinpath("demo_data/persons.csv")
    with resources.as_file(export) as path:
        records = hq_lists.read_export("persons", path)
    good = hq_lists.publish("persons", "national", "2026.11.23", records, hq_lists.load_private_key(keys / "list.key"))
    db = HQDatabase(hq_config.hq.database)
    # Published before the kiosk is even running: retained, it arrives when the kiosk connects.
    push(hq_config, db, good)

    env = {**os.environ, "KIOSK_CONFIG": str(config_path)}
    process = subprocess.Popen([sys.executable, "-m", "appliance", "run"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _versions(config_path).get("national") == "2026.11.23", 60, step=0.2,
                   what="the bundle to be applied by kiosk run")
        hit = _status(config_path, "screen", "--surname", "DOE", "--given-names", "JOHN",
                      "--birth-date", "1980-01-01")
        assert [h["entry_id"] for h in hit["hits"]] == ["P-0001"] and hit["lists"]["national"] == "2026.11.23"

        # A newer version signed by another key: refused, the old list stays in force.
        hq_lists.keygen(keys / "rogue.key", keys / "rogue.pub")
        rogue = hq_lists.publish("persons", "national", "2026.11.24", records[:1],
                                 hq_lists.load_private_key(keys / "rogue.key"))
        push(hq_config, db, rogue)
        error = wait_until(lambda: _status(config_path, "uplink", "status")["last_list_error"], 30, step=0.2,
                           what="the refusal to be recorded")
        assert "2026.11.24" in error and "this kiosk trusts key" in error
        assert _versions(config_path)["national"] == "2026.11.23"
    finally:
        db.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
