"""Private keys on disk: the biometric key in its own file (not the database, not the config), owner-only, checked at start-up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.errors import ConfigError
from appliance.hw import open_devices
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.uplink import protocol
from appliance.workflow import biometrics

from .broker import free_port
from .conftest import OFFICER_PIN


def _with(config_path: Path, text: str) -> Path:
    config_path.write_text(config_path.read_text() + text)
    return config_path


def _key_file(path: Path, mode: int, text: str | None = None) -> Path:
    path.write_text((text if text is not None else secrets.token_hex(32)) + "\n")
    path.chmod(mode)
    return path


def _run(config_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", "run"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KIOSK_CONFIG": str(config_path)})


@pytest.fixture
def keyed(tmp_path, config_path):
    key = _key_file(tmp_path / "biometric.key", 0o600)
    _with(config_path, f'\n[api]\nport = {free_port()}\n')
    text = config_path.read_text().replace("[security]\n", f'[security]\nbiometric_key_file = "{key}"\n')
    config_path.write_text(text)
    return key, config_path


def test_a_private_key_file_encrypts_captures_and_stays_out_of_the_database(keyed):
    key, config_path = keyed
    config = config_module.load(config_path, environ={})
    devices = open_devices(config.hardware)
    store = Store(config.db_path)
    try:
        officer = Officers(store, config.security).add("alice", "officer", OFFICER_PIN)
        capture = biometrics.capture_photo(store, config, devices, officer)
        data, _format = biometrics.read(store, config, capture["capture_id"])
    finally:
        devices.close()
        store.close()
    assert biometrics.key(config) == bytes.fromhex(key.read_text().strip())
    # Neither the key nor its hex is anywhere in the database file or the config file.
    hex_key = key.read_text().strip()
    assert hex_key.encode() not in config.db_path.read_bytes() and bytes.fromhex(hex_key) not in config.db_path.read_bytes()
    assert hex_key not in config_path.read_text()
    assert data[:2] == b"\xff\xd8" or data[:4] == b"\x89PNG"  # the image, decrypted


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_kiosk_run_refuses_a_key_file_group_or_others_can_read(keyed, mode):
    key, config_path = keyed
    key.chmod(mode)
    result = _run(config_path)
    assert result.returncode == 1
    assert f"biometric key file {key} has mode {mode:04o}" in result.stderr and f"chmod 600 {key}" in result.stderr
    # Refused before anything opened: no database was created.
    assert not (config_module.load(config_path, environ={}).db_path).exists()


def test_a_readable_key_refuses_captures_too(keyed):
    key, config_path = keyed
    config = config_module.load(config_path, environ={})
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="mode 0644"):
        biometrics.key(config)


@pytest.mark.parametrize("content, fragment", [("abc", "must hold 64 hex characters"), (None, "does not exist")])
def test_a_missing_or_malformed_key_file_is_a_clear_error_that_never_echoes_it(keyed, content, fragment):
    key, config_path = keyed
    if content is None:
        key.unlink()
    else:
        _key_file(key, 0o600, content)
    result = _run(config_path)
    assert result.returncode == 1 and fragment in result.stderr and str(key) in result.stderr
    assert content is None or f"'{content}'" not in result.stderr


def test_a_key_in_the_config_and_a_key_file_together_are_refused(keyed):
    _key, config_path = keyed
    with pytest.raises(ConfigError, match="not both"):
        config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": secrets.token_hex(32)})


def test_kiosk_run_refuses_a_readable_uplink_signing_key(config_path, tmp_path):
    hq_public = protocol.public_key_text(protocol.Ed25519PrivateKey.generate().public_key())
    _with(config_path, f'\n[api]\nport = {free_port()}\n[uplink]\nbroker_url = "mqtt://127.0.0.1:1"\n'
                       f'hq_public_key = "{hq_public}"\n')
    config = config_module.load(config_path, environ={})
    key_path = config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key"
    protocol.generate_key_file(key_path)
    key_path.chmod(0o644)
    result = _run(config_path)
    assert result.returncode == 1 and f"uplink signing key {key_path} has mode 0644" in result.stderr
