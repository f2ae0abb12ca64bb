"""The CLI as an operator meets it in the field: an empty day, a bad date, a port already taken, the demo's cleanup."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from appliance.bench.rig import free_port
from appliance.cli import cli

from .waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


def test_crossings_list_on_an_empty_day_says_so(run_cli, store):
    listed = run_cli("crossings", "list", "--date", "2026-01-15")
    assert listed.exit_code == 0
    assert listed.stdout.strip() == "no crossings on 2026-01-15"
    assert run_cli("crossings", "list").stdout.strip() == "no crossings"
    # JSON stays JSON: an empty array, no sentence.
    assert run_cli("crossings", "list", "--date", "2026-01-15", "--json").stdout.strip() == "[]"


def test_crossings_list_refuses_a_bad_date_with_the_cli_error_convention(run_cli, store):
    for bad in ("2026-13-01", "yesterday", "20260115", "2026-02-30"):
        result = run_cli("crossings", "list", "--date", bad)
        assert result.exit_code == 1, (bad, result.output)
        assert result.stderr.startswith(f"error: --date '{bad}' is not a date YYYY-MM-DD"), result.stderr
        assert "Usage:" not in result.stderr


def _taken_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def test_run_and_demo_on_a_port_in_use_say_so_before_printing_a_pin(config_path, tmp_path):
    from click.testing import CliRunner

    holder = _taken_port()
    port = holder.getsockname()[1]
    try:
        config_path.write_text(config_path.read_text(encoding="utf-8") + f"\n[api]\nport = {port}\n", encoding="utf-8")
        run = CliRunner().invoke(cli, ["run", "--config", str(config_path)])
        assert run.exit_code == 1
        assert run.stderr.strip() == f"error: port {port} is in use"
        demo_dir = tmp_path / "demo"
        demo = CliRunner().invoke(cli, ["demo", "--dir", str(demo_dir), "--port", str(port)])
        assert demo.exit_code == 1
        assert demo.stderr.strip() == f"error: port {port} is in use"
        assert "PIN" not in demo.stdout
        assert not demo_dir.exists()  # nothing made for a demo that cannot run
    finally:
        holder.close()


def _demo(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """A `kiosk demo` process serving on a free port, and its first lines of output."""
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    kiosk = str(Path(sys.executable).parent / "kiosk")
    process = subprocess.Popen([kiosk, "demo", "--port", str(port), *args],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1):
                return True
        except OSError:
            return False

    wait_until(lambda: answers() or process.poll() is not None, timeout=60, what="the demo to listen")
    assert process.poll() is None, process.communicate()
    return process, f"http://127.0.0.1:{port}"


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return out, err


def test_demo_removes_its_temporary_folder_when_it_stops(tmp_path):
    process, _url = _demo(tmp_path)
    out, err = _stop(process)
    match = re.search(r"Demo kiosk created in (\S+) \(removed when the demo stops\)", out)
    assert match, out
    folder = Path(match.group(1))
    assert folder.parent == tmp_path
    assert not folder.exists(), "the demo's folder (with its biometric key) was left behind"
    assert f"Demo stopped: removed {folder}" in err


def test_demo_keeps_a_folder_given_with_dir(tmp_path):
    kept = tmp_path / "kept"
    process, _url = _demo(tmp_path, "--dir", str(kept))
    out, _err = _stop(process)
    assert "removed when the demo stops" not in out
    assert (kept / "kiosk.toml").is_file() and (kept / "data" / "kiosk.sqlite3").is_file()


def test_scripts_dev_says_it_is_installing_on_a_first_run(tmp_path):
    # scripts/dev in a copy of the tree whose .venv is a stand-in: the real install is not
    # run, only what the officer's terminal shows around it.
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "dev").write_bytes((ROOT / "scripts" / "dev").read_bytes())
    (tmp_path / "scripts" / "dev").chmod(0o755)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in (("python", "exit 0"), ("kiosk", 'echo "kiosk $*"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    first = subprocess.run([str(tmp_path / "scripts" / "dev"), "demo", "--port", "1"], capture_output=True, text=True,
                           timeout=60)
    assert first.returncode == 0, first.stderr
    assert "installing the kiosk and its dependencies" in first.stderr
    assert first.stdout.strip() == "kiosk demo --port 1"
    again = subprocess.run([str(tmp_path / "scripts" / "dev"), "demo"], capture_output=True, text=True, timeout=60)
    assert "installing" not in again.stderr  # installed already: no line, no wait


def test_pyproject_license_is_an_spdx_string():
    # A TOML table here makes setuptools warn on every install (project.license is an SPDX
    # expression since PEP 639, setuptools 77).
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(data["project"]["license"], str)
    assert any(req.replace(" ", "").startswith("setuptools>=77") for req in data["build-system"]["requires"])
