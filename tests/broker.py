"""A real mosquitto broker for tests: own config, own port, own persistence; stop/start/kill at will."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

# The one free-port helper, the benches' own; re-exported here, where the tests look for it.
from appliance.bench.rig import free_port  # noqa: F401

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    """One broker process on 127.0.0.1:<port>, keeping its sessions in ``directory``.

    Persistence is on, as on HQ's broker, so a restart keeps queued QoS 1 messages and
    persistent sessions; ``extra`` lines go into the listener's config (TLS, passwords).
    """

    def __init__(self, directory: Path, port: int | None = None, extra: str = "", anonymous: bool = True,
                 password_file: Path | None = None, acl_file: Path | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        # With a password file only its users get in, as on HQ's broker.
        self.anonymous = anonymous and password_file is None
        self.password_file = password_file
        self.acl_file = acl_file
        self.process: subprocess.Popen | None = None
        self.log = self.directory / "mosquitto.log"

    @staticmethod
    def password_file_for(path: Path, users: dict[str, str]) -> Path:
        """A mosquitto password file for ``users`` (name -> password), made by ``mosquitto_passwd -b``."""
        for index, (user, password) in enumerate(users.items()):
            subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if index == 0 else []), str(path), user, password],
                           check=True, capture_output=True)
        return path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        conf = self.directory / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.directory}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            "max_inflight_messages 0",
            f"log_dest file {self.log}",
            "log_type error", "log_type warning", "log_type notice",
            f"password_file {self.password_file}" if self.password_file else "",
            f"acl_file {self.acl_file}" if self.acl_file else "",
            self.extra,
        ]
        if os.geteuid() == 0:
            # As root mosquitto would drop to the 'mosquitto' user, which cannot write the
            # test's private directory: no persistence, no log. Stay the user the tests run as.
            lines.insert(0, "user root")
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode()} "
                                   f"{self.log.read_text() if self.log.exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        """Stop cleanly (mosquitto saves its persistence file on SIGTERM)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
