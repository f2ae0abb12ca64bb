"""Config: strict validation naming key and file, environment secrets, masked display."""

from __future__ import annotations

import json

import pytest

from appliance import config as config_module
from appliance.config.common import check_broker_url
from appliance.errors import ConfigError
from hq import config as hq_config_module


def test_minimal_config_gets_documented_defaults(config):
    assert config.kiosk.post_id == "POST-T"
    assert config.api.host == "127.0.0.1" and config.api.port == 8080
    assert config.hardware.camera == "simulated"
    assert config.db_path.name == "kiosk.sqlite3"


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('[kiosk]\npost_id="P"\nkiosk_id="K"\n[api]\nprot = 9000\n')
    with pytest.raises(ConfigError) as error:
        config_module.load(path, environ={})
    assert "api.prot" in str(error.value) and str(path) in str(error.value)


def test_unknown_section_is_an_error(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('[kiosk]\npost_id="P"\nkiosk_id="K"\n[uplinc]\nbroker_url="mqtt://x"\n')
    with pytest.raises(ConfigError, match="unknown key 'uplinc'"):
        config_module.load(path, environ={})


def test_missing_required_key(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('[kiosk]\npost_id="P"\n')
    with pytest.raises(ConfigError, match="kiosk.kiosk_id' is missing"):
        config_module.load(path, environ={})


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('[kiosk]\npost_id="P"\nkiosk_id="K"\n[api]\nport=70000\n', "api.port"),
        ('[kiosk]\npost_id="P Q"\nkiosk_id="K"\n', "kiosk.post_id"),
        ('[kiosk]\npost_id="P"\nkiosk_id="K"\ntimezone="Mars/Olympus"\n', "unknown time zone"),
        ('[kiosk]\npost_id="P"\nkiosk_id="K"\n[uplink]\nbroker_url="http://hq"\n', "must start with mqtt://"),
        ('[kiosk]\npost_id="P"\nkiosk_id="K"\n[hardware]\ncamera="webcam9000"\n', "hardware.camera"),
        ('[kiosk\npost_id="P"\n', "not valid TOML"),
    ],
)
def test_invalid_values_are_named(tmp_path, body, fragment):
    path = tmp_path / "k.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        config_module.load(path, environ={})


def test_missing_file_says_how_to_give_one(tmp_path):
    with pytest.raises(ConfigError, match="--config PATH or set \\$KIOSK_CONFIG"):
        config_module.load(tmp_path / "none.toml", environ={})


def test_config_path_from_environment(config_path, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(config_path))
    assert config_module.resolve_path(None) == config_path
    assert config_module.resolve_path("/x.toml").as_posix() == "/x.toml"


def test_secret_from_environment_wins_and_is_masked(config_path, run_cli, monkeypatch):
    config = config_module.load(config_path, environ={"KIOSK_UPLINK_PASSWORD": "s3cret-from-env"})
    assert config.uplink.password.get_secret_value() == "s3cret-from-env"
    monkeypatch.setenv("KIOSK_UPLINK_PASSWORD", "s3cret-from-env")
    result = run_cli("config", "show", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["uplink"]["password"] == "********"
    assert "s3cret" not in result.output
    toml_result = run_cli("config", "show")
    assert "s3cret" not in toml_result.output and 'password = "********"' in toml_result.output


def test_config_show_round_trips_as_toml(config_path, run_cli, tmp_path):
    result = run_cli("config", "show")
    assert result.exit_code == 0
    rendered = "\n".join(line for line in result.stdout.splitlines() if not line.startswith("#"))
    copy = tmp_path / "copy.toml"
    copy.write_text(rendered)
    assert config_module.load(copy, environ={}).kiosk.post_id == "POST-T"


def test_cli_reports_config_error_cleanly(tmp_path):
    from click.testing import CliRunner

    from appliance.cli import cli

    result = CliRunner().invoke(cli, ["config", "show", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: config file") and "Traceback" not in result.output


@pytest.mark.parametrize("url", ["http://hq", "hq.example:8883", ""])
def test_one_broker_url_rule_for_kiosk_and_hq(tmp_path, url):
    with pytest.raises(ValueError, match="^url .* must start with mqtt://, mqtts://, ws:// or wss://$"):
        check_broker_url(url, "url")
    hq_path = tmp_path / "hq.toml"
    hq_path.write_text(f'[hq]\ndatabase = "x"\nsigning_key_file = "k"\n[broker]\nurl = "{url}"\n')
    with pytest.raises(ConfigError, match=r"key 'broker\.url': .*url .* must start with mqtt://"):
        hq_config_module.load(hq_path, environ={})
    kiosk_path = tmp_path / "k.toml"
    kiosk_path.write_text(f'[kiosk]\npost_id="P"\nkiosk_id="K"\n[uplink]\nbroker_url="{url}"\n')
    if url:
        with pytest.raises(ConfigError, match=r"key 'uplink\.broker_url': .*broker_url .* must start with mqtt://"):
            config_module.load(kiosk_path, environ={})
    else:  # no broker: the kiosk runs offline and queues
        assert config_module.load(kiosk_path, environ={}).uplink.broker_url == ""
