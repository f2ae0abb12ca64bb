"""`kiosk-hq demo` as an HQ operator runs it: one command, a console to log in to, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .broker import free_port
from .uplink_env import wait_until


def test_demo_runs_a_fleet_and_prints_a_working_password(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", "from hq.cli import main; main()", "demo", "--kiosks", "4",
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        lines = []
        deadline = time.monotonic() + 90
        while not any("Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            lines.append(process.stdout.readline())
        text = "".join(lines)
        password = re.search(r"password: (\S+)", text).group(1)
        token = re.search(r"Bearer (\S+)'", text).group(1)
        assert f"http://127.0.0.1:{port}/" in text and len(password) >= 16
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            login = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
            assert client.post("/login", data={"name": "hq-admin", "password": password, "csrf": csrf}).status_code == 303
            wait_until(lambda: client.get("/").text.count('data-state="online"') == 4, 40, step=0.5,
                       what="the four demo kiosks online in the console")
            metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
            assert metrics.count("hq_kiosk_online{") == 4
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith("kiosk-hq-demo-")], "the demo left its folder"
