"""Shared fixtures: a throw-away kiosk (config file, store) and a CLI runner bound to it."""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config as config_module
from appliance.lists import indexes
from appliance.storage.officers import Officers
from appliance.storage.store import Store

from .ui.chromium import browser  # noqa: F401  (one browser for every test module)


@pytest.fixture(autouse=True)
def _close_list_indexes():
    """Each test's kiosk has its own lists: forget the opened indexes after it, so their files
    close instead of piling up over the suite (pyserial's select() fails past fd 1023)."""
    yield
    indexes.forget_all()

OFFICER_PIN = "482915"
SUPERVISOR_PIN = "739264"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(textwrap.dedent(f"""
        [kiosk]
        post_id = "POST-T"
        kiosk_id = "K9"
        data_dir = "{tmp_path / 'data'}"

        [security]
        max_failed_logins = 3
        lockout_minutes = 5
        session_idle_minutes = 10
    """), encoding="utf-8")
    return path


@pytest.fixture
def config(config_path: Path) -> config_module.Config:
    # A random biometric key, given the way a kiosk should get it (the environment), so the
    # config file itself stays free of secrets and `config show` round-trips.
    return config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": secrets.token_hex(32)})


@pytest.fixture
def store(config: config_module.Config):
    with Store(config.db_path) as store:
        yield store


@pytest.fixture
def officers(store: Store, config: config_module.Config) -> Officers:
    officers = Officers(store, config.security)
    officers.add("alice", "officer", OFFICER_PIN)
    officers.add("sam", "supervisor", SUPERVISOR_PIN)
    officers.add("tech", "technician", "615283")
    return officers


@pytest.fixture(scope="session")
def face_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reference face models ({"embedder": path, "detector": path}), written once per run."""
    from appliance.inference import reference_models

    return reference_models.write(tmp_path_factory.mktemp("face_models"))


def with_screening(config_path: Path, text: str) -> None:
    """Append a [screening] section to the test config file."""
    config_path.write_text(config_path.read_text(encoding="utf-8") + "\n[screening]\n" + text, encoding="utf-8")


@pytest.fixture
def run_cli(config_path: Path):
    """Invoke ``kiosk --config <tmp config> ARGS``; returns the click Result."""
    from appliance.cli import cli

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, ["--config", str(config_path), *args], input=input, catch_exceptions=False)

    return invoke
