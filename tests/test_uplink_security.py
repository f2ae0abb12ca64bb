"""Uplink security defaults: TLS verifies the broker (CA and name) unless told otherwise; no plain MQTT off the machine."""

from __future__ import annotations

import pytest

from appliance import config as config_module
from appliance.errors import ConfigError
from appliance.storage.store import Store
from appliance.uplink import outbox, status
from appliance.uplink.client import Uplink
from hq import config as hq_config_module

from .broker import Mosquitto
from .test_uplink_tls import pki  # noqa: F401  (the test CA, broker and client certificates)
from .uplink_env import add_officer, hq_setup, kiosk_setup, record_many, wait_until

KIOSK = '[kiosk]\npost_id="P"\nkiosk_id="K"\n[uplink]\n'
HQ = '[hq]\ndatabase="/tmp/hq.sqlite3"\nsigning_key_file="/tmp/hq.key"\n[broker]\n'


@pytest.mark.parametrize("url", ["mqtt://hq.example.org:1883", "ws://10.0.0.7/mqtt", "mqtt://192.168.1.20"])
def test_plain_mqtt_to_another_host_is_a_config_error_naming_key_host_and_flag(tmp_path, url):
    path = tmp_path / "k.toml"
    path.write_text(KIOSK + f'broker_url = "{url}"\n')
    with pytest.raises(ConfigError) as error:
        config_module.load(path, environ={})
    message = str(error.value)
    assert "uplink.broker_url" in message and "uplink.allow_plaintext = true" in message
    assert url.split("//")[1].split(":")[0].split("/")[0] in message and str(path) in message


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:1883", "mqtt://localhost", "mqtt://[::1]:1883",
                                 "mqtt://127.0.0.53", "mqtts://hq.example.org:8883", "wss://hq.example.org/mqtt"])
def test_tls_or_loopback_needs_no_flag(tmp_path, url):
    path = tmp_path / "k.toml"
    path.write_text(KIOSK + f'broker_url = "{url}"\n')
    assert config_module.load(path, environ={}).uplink.broker_url == url


def test_plain_mqtt_off_the_machine_when_the_config_says_so(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text(KIOSK + 'broker_url = "mqtt://10.8.0.1:1883"\nallow_plaintext = true\n')
    config = config_module.load(path, environ={})
    assert config.uplink.allow_plaintext and config.uplink.broker_url == "mqtt://10.8.0.1:1883"
    # Turning the flag off again later is checked too (validate_assignment), not only at load.
    with pytest.raises(ValueError, match="allow_plaintext"):
        config.uplink.allow_plaintext = False


def test_hq_has_the_same_rule(tmp_path):
    path = tmp_path / "hq.toml"
    path.write_text(HQ + 'url = "mqtt://broker.hq.example:1883"\n')
    with pytest.raises(ConfigError, match=r"broker\.allow_plaintext = true"):
        hq_config_module.load(path, environ={})
    path.write_text(HQ + 'url = "mqtt://broker.hq.example:1883"\nallow_plaintext = true\n')
    assert hq_config_module.load(path, environ={}).broker.allow_plaintext
    path.write_text(HQ + 'url = "mqtt://127.0.0.1:1883"\n')
    assert hq_config_module.load(path, environ={}).broker.url == "mqtt://127.0.0.1:1883"


@pytest.fixture
def server_tls_broker(tmp_path, pki):  # noqa: F811
    """TLS only (no client certificate, anonymous): what is checked here is the kiosk checking the broker."""
    broker = Mosquitto(tmp_path / "broker", extra=(
        f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n")).start()
    yield broker
    broker.kill()


def _kiosk(tmp_path, url: str, extra: str = ""):
    _hq_config, _, hq_public = hq_setup(tmp_path / "hq", url)
    config, _, _public = kiosk_setup(tmp_path / "kiosk", url, hq_public, extra_uplink=extra)
    return config


@pytest.mark.parametrize("case", ["name not in the certificate", "no CA given: the system store"])
def test_the_broker_certificate_is_verified_by_default(tmp_path, pki, server_tls_broker, case):  # noqa: F811
    if case == "name not in the certificate":
        # The server certificate names 127.0.0.1 only; 'localhost' reaches the same socket.
        config = _kiosk(tmp_path, f"mqtts://localhost:{server_tls_broker.port}", f'ca_file = "{pki / "ca.pem"}"\n')
    else:
        config = _kiosk(tmp_path, f"mqtts://127.0.0.1:{server_tls_broker.port}")
    store = Store(config.db_path)
    record_many(store, config, add_officer(store, config), 1)
    uplink = Uplink(config, store)
    uplink.start()
    try:
        error = wait_until(lambda: status.snapshot(store)["last_error"], 15, what="the TLS refusal")
        assert "certificate" in error.lower() and ("mismatch" in error.lower()) == (case.startswith("name"))
        assert not uplink.connected and outbox.depth(store) == 1
    finally:
        uplink.stop()
        store.close()


def test_the_same_broker_with_the_right_name_and_ca_connects(tmp_path, pki, server_tls_broker):  # noqa: F811
    config = _kiosk(tmp_path, f"mqtts://127.0.0.1:{server_tls_broker.port}", f'ca_file = "{pki / "ca.pem"}"\n')
    with Store(config.db_path) as store:
        uplink = Uplink(config, store)
        uplink.start()
        try:
            wait_until(lambda: uplink.connected, 15, what="a verified TLS connection")
        finally:
            uplink.stop()
