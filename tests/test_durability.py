"""A crossing the API answered for survives kill -9 of the service right after the response."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from appliance.storage import audit
from appliance.storage.officers import Officers
from appliance.storage.store import Store

from .broker import free_port
from .conftest import OFFICER_PIN
from .samples import CLEAR_OKAFOR, import_demo_lists


def _start(config_path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "KIOSK_CONFIG": str(config_path)}
    return subprocess.Popen([sys.executable, "-m", "appliance", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_healthy(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kiosk run exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("kiosk run did not become healthy in 30 s")


def test_recorded_crossings_survive_kill_9(config_path, config):
    port = free_port()
    with config_path.open("a") as handle:
        handle.write(f"\n[api]\nport = {port}\n")
    with Store(config.db_path) as store:
        Officers(store, config.security).add("alice", "officer", OFFICER_PIN)
        import_demo_lists(store)

    base = f"http://127.0.0.1:{port}"
    process = _start(config_path, port)
    try:
        _wait_healthy(base, process)
        token = httpx.post(f"{base}/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
        answered = []
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(5):
                response = client.post(f"{base}/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR})
                assert response.status_code == 201
                answered.append(response.json()["id"])
            # The moment the last "recorded" arrives, the power goes.
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    with Store(config.db_path) as reopened:
        assert reopened.integrity_check() == ["ok"]
        stored = [row[0] for row in reopened.conn.execute("SELECT id FROM crossings ORDER BY seq")]
        assert stored == answered
        queued = [row[0] for row in reopened.conn.execute("SELECT ref_id FROM outbox ORDER BY seq")]
        assert queued == answered
        assert audit.verify(reopened)[1] == []

    # And the service comes back up on the same data.
    process = _start(config_path, port)
    try:
        _wait_healthy(base, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
    listed = subprocess.run([sys.executable, "-m", "appliance", "crossings", "list", "--json",
                             "--config", str(config_path)], capture_output=True, text=True, check=True)
    assert [c["id"] for c in json.loads(listed.stdout)] == answered[::-1]


def test_service_tells_systemd_ready_and_stops_cleanly(config_path, config, tmp_path):
    port = free_port()
    with config_path.open("a") as handle:
        handle.write(f"\n[api]\nport = {port}\n")
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(30)
    env = {**os.environ, "KIOSK_CONFIG": str(config_path), "NOTIFY_SOCKET": str(notify_path)}
    process = subprocess.Popen([sys.executable, "-m", "appliance", "run"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            ready = listener.recv(4096).decode()
        except TimeoutError:
            process.kill()
            raise AssertionError(process.stderr.read().decode()) from None
        assert "READY=1" in ready
        # READY comes only once the socket listens: the browser may open the page at once.
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in listener.recv(4096).decode()
        assert process.wait(timeout=20) == 0
    finally:
        listener.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "listening on" in process.stderr.read().decode()
