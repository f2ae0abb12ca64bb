"""The parts a process-level campaign wires together: a local mosquitto, HQ ingest, a `kiosk run`, officers.

Each is a real process the bench starts and kills: mosquitto on a free loopback port,
``kiosk-hq ingest`` (HQ's end, as it would run on another machine), and ``kiosk run`` on its
own data directory with simulated hardware, telling its READY through a notify socket as
systemd would hear it. Officers are threads that record crossings over the local API with
a bearer token, and keep the id of every crossing whose 201 came back.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import httpx

from appliance import config as config_module
from appliance.errors import UplinkError
from appliance.lists.csv_import import import_csv
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.uplink import protocol
from hq.db import HQDatabase

POST_ID, KIOSK_ID = "BENCH", "K1"
OFFICER_PIN = "480736"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise UplinkError(f"nothing listens on port {port}")


def quantiles(samples: list[float]) -> dict[str, float | int | None]:
    """n, p50, p99 and max of ``samples`` (None when there are none), rounded for printing."""
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": len(ordered), "p50": round(ordered[len(ordered) // 2], 3),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            "max": round(ordered[-1], 3)}


def outbox_rows(store: Store, up_to: int | None = None) -> int:
    """Rows in the kiosk's outbox (those with seq <= ``up_to`` when given)."""
    with store.lock:
        if up_to is None:
            return store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        return store.conn.execute("SELECT count(*) FROM outbox WHERE seq <= ?", (up_to,)).fetchone()[0]


def process_memory(pid: int) -> dict[str, int]:
    """A process's resident memory now and at its peak (kB, VmRSS and VmHWM from /proc); OSError once it is gone."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return {"rss_kb": found.get("VmRSS", 0), "peak_rss_kb": found.get("VmHWM", 0)}


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` every 0.1 s; returns the seconds it took. Raises UplinkError after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise UplinkError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


class LocalBroker:
    """One mosquitto on 127.0.0.1:<port>; ``stop()`` and ``start()`` again are an outage at HQ's end."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise UplinkError("the benchmark needs mosquitto (apt install mosquitto)")
        self.binary, self.directory = binary, directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 0"]
        if os.geteuid() == 0:
            lines.insert(0, "user root")  # else it drops to 'mosquitto', which cannot read a private dir
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        self.process = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def wait_for_line(process: subprocess.Popen, marker: str, timeout: float = 30.0) -> list[str]:
    """Wait for a line holding ``marker`` on the process's stderr; then keep draining it so it never blocks.

    Returns the list its last 200 lines are kept in (still filled as the process writes), for a failure message.
    """
    stderr = process.stderr
    if stderr is None:
        raise UplinkError("the process was started without stderr=PIPE: its ready line cannot be read")
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for raw in stderr:
            line = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            lines.append(line)
            del lines[:-200]
            if marker in line:
                seen.set()

    threading.Thread(target=read, name="bench-stderr", daemon=True).start()
    if not seen.wait(timeout):
        raise UplinkError(f"no {marker!r} line within {timeout:.0f} s: {''.join(lines)[-2000:]}")
    return lines


class HQ:
    """HQ's end: its key, config and database, and ``kiosk-hq ingest`` as its own process."""

    def __init__(self, directory: Path, broker_url: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.database = directory / "hq.sqlite3"
        self.public_key = protocol.generate_key_file(directory / "hq.key")
        self.config_path = directory / "hq.toml"
        self.config_path.write_text(textwrap.dedent(f"""
            [hq]
            database = "{self.database}"
            signing_key_file = "{directory / 'hq.key'}"
            [broker]
            url = "{broker_url}"
            client_id = "bench-hq"
        """), encoding="utf-8")
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str] | None = None  # ingest's environment (None: the bench's own)
        self.stderr: list[str] = []  # ingest's last lines, for a failure message

    def enrol(self, post_id: str, kiosk_id: str, public_key: str) -> None:
        with HQDatabase(str(self.database)) as db:
            db.enrol(post_id, kiosk_id, public_key)

    def start(self) -> HQ:
        self.process = subprocess.Popen([sys.executable, "-m", "hq", "ingest", "--config", str(self.config_path),
                                         "--log-level", "WARNING"], stderr=subprocess.PIPE, env=self.env)
        self.stderr = wait_for_line(self.process, "ingest ready")
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None

    def crossings(self) -> list[dict[str, Any]]:
        with HQDatabase(str(self.database)) as db:
            return db.crossings(POST_ID, KIOSK_ID)

    def captures(self) -> list[dict[str, Any]]:
        with HQDatabase(str(self.database)) as db:
            return db.captures()


@dataclass
class Start:
    """One start of ``kiosk run``: seconds from the exec to READY=1 on the notify socket and to a healthy API."""

    ready_s: float | None = None
    health_s: float | None = None


class KioskProcess:
    """``kiosk run`` on its own data directory: configured, with officers and lists, started and cut at will."""

    def __init__(self, directory: Path, broker_url: str | None, hq_public_key: str | None,
                 uplink_extra: str = "", biometric_key: bool = False, officers: int = 1) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        uplink = ""
        if broker_url:
            # Quick reconnects and receipt timeouts: a bench run should not sit out minutes of backoff.
            uplink = textwrap.dedent(f"""
                [uplink]
                broker_url = "{broker_url}"
                hq_public_key = "{hq_public_key}"
                receipt_timeout_s = 5.0
                reconnect_min_s = 0.2
                reconnect_max_s = 2.0
                keepalive_s = 5
            """) + textwrap.dedent(uplink_extra)
        self.config_path = directory / "kiosk.toml"
        self.config_path.write_text(textwrap.dedent(f"""
            [kiosk]
            post_id = "{POST_ID}"
            kiosk_id = "{KIOSK_ID}"
            data_dir = "{directory / 'data'}"

            [api]
            port = {self.api_port}

            [security]
            session_idle_minutes = 720
        """) + uplink, encoding="utf-8")
        self.env = {**os.environ, "KIOSK_CONFIG": str(self.config_path)}
        if biometric_key:
            self.env["KIOSK_SECURITY_BIOMETRIC_KEY"] = secrets.token_hex(32)
        self.config = config_module.load(self.config_path, environ=self.env)
        self.officer_ids = [f"officer{n}" for n in range(1, officers + 1)]
        with Store(self.config.db_path) as store:
            roster = Officers(store, self.config.security)
            for officer_id in self.officer_ids:
                roster.add(officer_id, "officer", OFFICER_PIN)
            for kind in ("persons", "documents"):
                with resources.as_file(resources.files("appliance").joinpath(f"demo_data/{kind}.csv")) as path:
                    import_csv(store, kind, path, actor="bench")
        self.public_key = (protocol.generate_key_file(self.config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key")
                           if broker_url else None)
        self.process: subprocess.Popen | None = None
        self.stderr: list[str] = []  # the service's last lines, for a failure message
        self._notify_path = directory / "notify.sock"
        self._notify: socket.socket | None = None
        self._started_at = 0.0

    # --- life ---------------------------------------------------------------------------

    def start(self) -> None:
        """Exec ``kiosk run``; returns at once (``wait_ready`` waits)."""
        if self._notify is None:
            self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._notify.bind(str(self._notify_path))
        self._drain_notify()
        self._started_at = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--log-level", "WARNING"],
                                        env={**self.env, "NOTIFY_SOCKET": str(self._notify_path)},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Never let a full stderr pipe stall the service; keep its last lines for a failure message.
        self.stderr = []
        threading.Thread(target=self._read_stderr, args=(self.process, self.stderr), daemon=True).start()

    @staticmethod
    def _read_stderr(process: subprocess.Popen, sink: list[str]) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            sink.append(raw.decode(errors="replace"))
            del sink[:-100]

    def _drain_notify(self) -> None:
        assert self._notify is not None
        self._notify.setblocking(False)
        try:
            while self._notify.recv(4096):
                pass
        except BlockingIOError:
            pass

    def wait_ready(self, timeout: float = 60.0) -> Start:
        """Wait for READY=1 and then a 200 from /api/health; raises UplinkError if it never comes."""
        assert self._notify is not None and self.process is not None
        result = Start()
        deadline = self._started_at + timeout
        self._notify.settimeout(0.05)
        while result.ready_s is None:
            if self.process.poll() is not None:
                raise UplinkError(f"kiosk run exited with {self.process.returncode}: {''.join(self.stderr)[-2000:]}")
            if time.monotonic() > deadline:
                raise UplinkError(f"kiosk run not READY within {timeout:.0f} s")
            try:
                if b"READY=1" in self._notify.recv(4096):
                    result.ready_s = time.monotonic() - self._started_at
            except TimeoutError:
                continue
        while result.health_s is None:
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1.0).status_code == 200:
                    result.health_s = time.monotonic() - self._started_at
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise UplinkError(f"kiosk run READY but /api/health silent after {timeout:.0f} s") from None
                time.sleep(0.01)
        return result

    def cut(self) -> None:
        """The power cut: SIGKILL, nothing flushed or closed."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """A clean stop (SIGTERM), as systemd does it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._notify is not None:
            self._notify.close()
            self._notify = None
            self._notify_path.unlink(missing_ok=True)

    def memory(self) -> dict[str, int]:
        """The running service's resident memory now and at its peak (kB, from /proc)."""
        assert self.process is not None
        return process_memory(self.process.pid)

    def kiosk_command(self, *args: str) -> subprocess.CompletedProcess:
        """Run a ``kiosk`` command on this kiosk's config, as a technician would."""
        return subprocess.run([sys.executable, "-m", "appliance", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)


MRZ_OF_DEMO = resources.files("appliance").joinpath("demo_data/specimens.mrz").read_text().split("\n\n")[1].strip()


@dataclass
class Desk:
    """What one officer saw: ids whose 201 came back, requests the cut left unanswered, latencies."""

    acknowledged: list[str] = field(default_factory=list)
    unanswered: int = 0
    refused: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)


class Officer(threading.Thread):
    """Records crossings over the API, as fast as it can or at a pace; rides through cuts.

    A request whose answer never came (the service died under it) is not sent again: the
    traveller's record may or may not be on the kiosk, and a retry would only make a second
    record of the same passage. While the service is down the officer waits and logs in
    again if the session is gone.
    """

    def __init__(self, base_url: str, officer_id: str, stop: threading.Event, pace_s: float = 0.0,
                 with_photo: bool = False, timing: Callable[[], bool] | None = None, pin: str = OFFICER_PIN) -> None:
        super().__init__(name=f"bench-{officer_id}", daemon=True)
        self.base_url, self.officer_id, self.pin, self.stop_event = base_url, officer_id, pin, stop
        self.pace_s, self.with_photo = pace_s, with_photo
        self.timing = timing or (lambda: True)  # whether this moment's latencies are kept
        self.desk = Desk()
        self._token: str | None = None
        self._rng = random.Random(officer_id)

    def _login(self, client: httpx.Client) -> None:
        response = client.post("/api/login", json={"officer_id": self.officer_id, "pin": self.pin})
        response.raise_for_status()
        self._token = response.json()["token"]

    def _one(self, client: httpx.Client) -> None:
        if self._token is None:
            self._login(client)
        headers = {"Authorization": f"Bearer {self._token}"}
        body: dict[str, Any] = {"direction": self._rng.choice(["entry", "exit"]), "mrz": MRZ_OF_DEMO}
        timed = self.timing()
        started = time.perf_counter()
        if self.with_photo:
            photo = client.post("/api/captures/photo", headers=headers)
            if photo.status_code == 401:
                self._token = None
                return
            if photo.status_code != 201:
                self.desk.refused.append(f"photo {photo.status_code}: {photo.text[:200]}")
                return
            body["capture_ids"] = [photo.json()["capture_id"]]
        try:
            response = client.post("/api/crossings", json=body, headers=headers)
        except httpx.ConnectError:
            raise  # never reached the kiosk: nothing to count
        except httpx.TransportError:
            self.desk.unanswered += 1  # sent, and the service died before it answered
            raise
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code == 201:
            self.desk.acknowledged.append(response.json()["id"])
            if timed:
                self.desk.latency_ms.append(elapsed)
        elif response.status_code == 401:
            self._token = None
        else:
            self.desk.refused.append(f"{response.status_code}: {response.text[:200]}")

    def run(self) -> None:
        # One connection per request: a kept-alive socket to a killed service would only add
        # a confusing failure mode to the client, not to the kiosk.
        with httpx.Client(base_url=self.base_url, timeout=30.0,
                          limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while not self.stop_event.is_set():
                try:
                    self._one(client)
                except (httpx.TransportError, httpx.HTTPStatusError):
                    self.stop_event.wait(0.02)  # the kiosk is down (or coming up): try again shortly
                    continue
                if self.pace_s:
                    self.stop_event.wait(self.pace_s)
