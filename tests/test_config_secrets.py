"""Config secrets: every SecretStr field, however deeply nested, comes from the environment and is masked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from appliance import config as config_module
from appliance.config.common import MASK, secret_env_name, secret_paths
from appliance.errors import ConfigError
from hq import config as hq_config_module

# Shapes a secret may have to take (a 32-byte hex key, the R30x module's 8 hex digits, a
# password); each field is given the first its validator accepts. A new secret accepting none
# fails the walk below, naming the field: add its shape here.
CANDIDATE_VALUES = ("0f" * 32, "0a1b2c3d", "s3cret-from-env")


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key] if isinstance(data, dict) else getattr(data, key)
    return data


def _accepted_value(prefix: str, path: tuple[str, ...], load: Callable[[dict[str, str]], Any]) -> str:
    for candidate in CANDIDATE_VALUES:
        try:
            load({secret_env_name(prefix, path): candidate})
        except ConfigError as exc:
            if ".".join(path) in str(exc):
                continue
            raise
        return candidate
    raise AssertionError(f"no candidate value fits secret {'.'.join(path)}: add its shape to CANDIDATE_VALUES")


def _walk_every_secret(model: type[BaseModel], prefix: str, load: Callable[[dict[str, str]], Any],
                       show: Callable[[Any], dict[str, Any]] | None) -> None:
    """Set every secret of ``model`` through its variable; each is loaded and, where shown, masked."""
    paths = secret_paths(model)
    assert paths, f"the walk found no secret in {model.__name__}"
    names = [secret_env_name(prefix, path) for path in paths]
    assert len(set(names)) == len(names), f"two secrets share an environment variable: {names}"
    values = {path: _accepted_value(prefix, path, load) for path in paths}
    loaded = load({secret_env_name(prefix, path): value for path, value in values.items()})
    for path, value in values.items():
        assert _at(loaded, path).get_secret_value() == value, f"${secret_env_name(prefix, path)} was ignored"
    if show is not None:
        shown = show(loaded)
        for path in values:
            assert _at(shown, path) == MASK, f"{'.'.join(path)} is not masked"
        assert not any(value in repr(shown) for value in values.values())


def test_the_walk_finds_top_level_and_nested_secrets():
    paths = secret_paths(config_module.Config)
    assert ("uplink", "password") in paths and ("security", "biometric_key") in paths
    assert ("hardware", "fingerprint_r30x", "password") in paths
    assert secret_env_name("KIOSK_", ("hardware", "fingerprint_r30x", "password")) == \
        "KIOSK_HARDWARE_FINGERPRINT_R30X_PASSWORD"


def test_every_kiosk_secret_comes_from_the_environment_and_is_masked(config_path: Path):
    _walk_every_secret(config_module.Config, "KIOSK_",
                       load=lambda environ: config_module.load(config_path, environ=environ),
                       show=config_module.masked)


def test_every_hq_secret_comes_from_the_environment(tmp_path: Path):
    path = tmp_path / "hq.toml"
    path.write_text('[hq]\ndatabase = "x"\nsigning_key_file = "k"\n[broker]\nurl = "mqtt://127.0.0.1:1"\n')
    # HQ prints no config, so there is no masked view to check.
    _walk_every_secret(hq_config_module.HQConfig, hq_config_module.ENV_PREFIX,
                       load=lambda environ: hq_config_module.load(path, environ=environ), show=None)


def test_a_nested_secret_from_the_environment_is_no_longer_ignored(config_path: Path):
    config = config_module.load(config_path, environ={"KIOSK_HARDWARE_FINGERPRINT_R30X_PASSWORD": "0a1b2c3d"})
    assert config.hardware.fingerprint_r30x.password is not None
    assert config.hardware.fingerprint_r30x.password.get_secret_value() == "0a1b2c3d"
    assert config_module.masked(config)["hardware"]["fingerprint_r30x"]["password"] == MASK
    # Read, hence validated: a malformed value is an error naming the nested key.
    with pytest.raises(ConfigError, match=r"hardware\.fingerprint_r30x\.password"):
        config_module.load(config_path, environ={"KIOSK_HARDWARE_FINGERPRINT_R30X_PASSWORD": "not-hex"})


def test_the_environment_wins_over_the_file_for_a_nested_secret(tmp_path: Path):
    path = tmp_path / "k.toml"
    path.write_text('[kiosk]\npost_id="P"\nkiosk_id="K"\n[hardware.fingerprint_r30x]\npassword="11111111"\n')
    config = config_module.load(path, environ={"KIOSK_HARDWARE_FINGERPRINT_R30X_PASSWORD": "22222222"})
    assert config.hardware.fingerprint_r30x.password is not None
    assert config.hardware.fingerprint_r30x.password.get_secret_value() == "22222222"
    assert config_module.load(path, environ={}).hardware.fingerprint_r30x.password is not None
