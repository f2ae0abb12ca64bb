"""The ``kiosk`` command: every command has help and is documented; records through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from appliance.cli import cli

from .conftest import SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists

ROOT = Path(__file__).resolve().parent.parent


def _command_paths(group: click.Group, prefix: str = "kiosk"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _command_paths(command, path)


def test_help_lists_every_command_with_help_text():
    script = Path(sys.executable).parent / "kiosk"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for name, command in cli.commands.items():
        assert name in result.stdout
        assert command.get_short_help_str().strip(), f"kiosk {name} has no help text"
    for path, command in _command_paths(cli):
        assert (command.help or "").strip(), f"{path} has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "config_path":
                assert param.help, f"{path} {param.opts[0]} has no help text"


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path, command in _command_paths(cli):
        if not isinstance(command, click.Group):
            parent, leaf = path.rsplit(" ", 1)
            # Either spelled out in full, or as "`kiosk group first` / `leaf`" in the group's row.
            documented = f"`{path}" in readme or (f"`{parent} " in readme and f"`{leaf}" in readme)
            assert documented, f"{path} is missing from README.md"


def test_config_option_works_before_or_after_the_command(config_path, store):
    from click.testing import CliRunner

    after = CliRunner().invoke(cli, ["db", "check", "--config", str(config_path)])
    before = CliRunner().invoke(cli, ["--config", str(config_path), "db", "check"])
    assert after.exit_code == before.exit_code == 0


def test_record_list_and_resolve_from_the_cli(run_cli, store, officers, tmp_path):
    import_demo_lists(store)
    clear, hit = tmp_path / "clear.mrz", tmp_path / "hit.mrz"
    clear.write_text(CLEAR_OKAFOR + "\n")
    hit.write_text("\r\n" + PERSON_HIT_DOE.replace("\n", "\r\n") + "\r\n\r\n")
    recorded = run_cli("crossings", "record", "--direction", "entry", "--mrz-file", str(clear), "--officer", "alice")
    assert recorded.exit_code == 0, recorded.output
    assert "cleared" in recorded.stdout
    referred = run_cli("crossings", "record", "--direction", "exit", "--mrz-file", str(hit), "--officer", "alice",
                       "--json")
    crossing = json.loads(referred.stdout)
    assert crossing["decision"] == "referred"
    listed = json.loads(run_cli("crossings", "list", "--json").stdout)
    assert [c["seq"] for c in listed] == [2, 1]
    wrong_pin = run_cli("crossings", "resolve", crossing["id"], "--supervisor", "sam", "--outcome", "refused",
                        "--reason", "listed_person_confirmed", input="000999\n")
    assert wrong_pin.exit_code == 1 and "wrong PIN" in wrong_pin.stderr
    resolved = run_cli("crossings", "resolve", crossing["id"], "--supervisor", "sam", "--outcome", "refused",
                       "--reason", "listed_person_confirmed", "--note", "confirmed", input=f"{SUPERVISOR_PIN}\n")
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(run_cli("crossings", "show", crossing["id"]).stdout)["outcome"] == "refused"
    stats = json.loads(run_cli("stats", "daily", "--json").stdout)
    assert stats["days"][0]["total"] == 2


def test_record_errors_are_clear_and_store_nothing(run_cli, store, officers, tmp_path):
    junk = tmp_path / "junk.mrz"
    junk.write_text("not a passport\n")
    for args, message in [
        (["--mrz-file", str(junk), "--officer", "alice"], "error: "),
        (["--mrz-file", str(tmp_path / "missing.mrz"), "--officer", "alice"], "cannot read MRZ file"),
        (["--mrz-file", str(junk), "--officer", "ghost"], "no officer 'ghost'"),
    ]:
        result = run_cli("crossings", "record", "--direction", "entry", *args)
        assert result.exit_code == 1 and message in result.stderr
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == 0


def test_demo_setup_creates_a_working_kiosk(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo"), "--setup-only", "--port", "18080"])
    assert result.exit_code == 0, result.output
    assert "PIN:" in result.stdout
    config = tmp_path / "demo" / "kiosk.toml"
    status = CliRunner().invoke(cli, ["watchlist", "status", "--json", "--config", str(config)])
    assert status.exit_code == 0 and "persons" in status.stdout
    again = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo"), "--setup-only"])
    assert again.exit_code == 1 and "already exists" in again.stderr
