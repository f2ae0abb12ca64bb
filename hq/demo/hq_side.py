"""The HQ half of the demo: a local mosquitto, HQ's config and keys, ingest and the console, each in a thread.

Used by ``kiosk-hq demo`` and by the console's browser tests (which bring their own
broker): nothing here is a stand-in; the threads run ``Ingest`` and ``create_app``
exactly as ``kiosk-hq ingest`` and ``kiosk-hq web`` do, on one SQLite file.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import uvicorn

from appliance.errors import KioskError
from appliance.uplink import protocol
from hq import config as config_module
from hq import users
from hq.db import HQDatabase
from hq.ingest import Ingest
from hq.web.app import create_app

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalBroker:
    """mosquitto on 127.0.0.1 and a free port, anonymous, for the demo only (never for a real fleet)."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        """Raises KioskError when mosquitto is missing or does not listen within 10 s."""
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"log_dest file {self.directory / 'mosquitto.log'}\n", encoding="utf-8")
        if not Path(MOSQUITTO).exists():
            raise KioskError("the demo needs mosquitto: apt-get install mosquitto")
        # Its own session: Ctrl-C on the demo must not kill the broker before the kiosks and ingest let go.
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise KioskError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class HQ:
    """HQ's config, signing key and database in ``directory``; ``start()`` runs ingest and the console."""

    def __init__(self, directory: Path, broker_url: str, web_port: int = 0, silent_after_s: int = 30,
                 metrics_token: str = "") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        key_file = directory / "hq_ed25519.key"
        self.public_key = protocol.generate_key_file(key_file)
        self.config_path = directory / "hq.toml"
        self.web_port = web_port or free_port()
        self.config_path.write_text(
            f'[hq]\ndatabase = "{directory / "hq.sqlite3"}"\nsigning_key_file = "{key_file}"\n'
            f"offline_after_s = {silent_after_s}\n\n[broker]\nurl = \"{broker_url}\"\nclient_id = \"hq-demo-ingest\"\n\n"
            f'[web]\nhost = "127.0.0.1"\nport = {self.web_port}\n', encoding="utf-8")
        environ = {"KIOSK_HQ_WEB_METRICS_TOKEN": metrics_token} if metrics_token else {}
        self.config = config_module.load(self.config_path, environ=environ)
        self.db = HQDatabase(self.config.hq.database)
        self.ingest_db = HQDatabase(self.config.hq.database)
        self.ingest = Ingest(self.config, self.ingest_db)
        self.stop_event = threading.Event()
        self.server: uvicorn.Server | None = None
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def enrol(self, post_id: str, kiosk_id: str, public_key: str) -> None:
        self.db.enrol(post_id, kiosk_id, public_key)

    def add_user(self, name: str, role: str) -> str:
        """A user with a fresh random password, which is returned (never a default one)."""
        password = users.generate_password()
        users.add(self.db, name, role, password, actor="demo")
        return password

    def start(self) -> HQ:
        ingest = threading.Thread(target=self.ingest.run, args=(self.stop_event,), name="hq-ingest", daemon=True)
        ingest.start()
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.config, self.db), host="127.0.0.1",
                                                    port=self.web_port, log_config=None, access_log=False,
                                                    lifespan="off", timeout_graceful_shutdown=3))
        web = threading.Thread(target=self.server.run, name="hq-web", daemon=True)
        web.start()
        self.threads = [ingest, web]
        deadline = time.monotonic() + 20
        while not (self.server.started and self.ingest.connected.is_set()):
            if time.monotonic() > deadline:
                raise KioskError("HQ's ingest or console did not start within 20 s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.server is not None:
            self.server.should_exit = True
        for thread in self.threads:
            thread.join(10)
        self.ingest_db.close()
        self.db.close()
