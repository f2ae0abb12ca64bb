"""The booted SD image under qemu-system-aarch64: a whole machine to provision, record on and power-cut.

``Guest`` boots a copy of the image (a "card") with the image's own kernel and initrd on
qemu's ``virt`` board, a virtio disk, user networking with a host port forwarded to the
kiosk's API and the serial console in a log file. Killing qemu is a real power cut for the
guest: its page cache and every write it had not flushed are gone, only what reached the
card stays. Nothing is mounted on the host: the card's partitions are read with ``sfdisk``,
``dd``, ``mcopy`` and ``debugfs``.

``MachineTarget`` is the power-cut campaign's target at this depth (``appliance.bench.powercut``):
provisioned from a technician's set on the FAT partition, enrolled at HQ with the key its
first boot made, its uplink reaching the bench's broker through qemu's host address.
The image test (tests/test_image.py) and ``kiosk bench powercut --depth machine`` use both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.bench.powercut import Inspection, Settings, campaign
from appliance.bench.rig import HQ, LocalBroker, Start, free_port
from appliance.config import SecuritySection
from appliance.errors import KioskError
from appliance.uplink import protocol
from appliance.workflow import provision

SECTOR = 512
# Emulated aarch64 is slow and a machine may be shared: generous, and a boot that works returns early.
BOOT_DEADLINE_S = 600.0
# The guest sees the host's loopback at this address (qemu user networking).
HOST_FROM_GUEST = "10.0.2.2"
# Where the kiosk keeps what the campaign reads off the card (the data partition is its data_dir).
DATA_DB, DATA_SIGNING_KEY = "/kiosk.sqlite3", "/uplink/kiosk_ed25519.key"


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], check=True, text=True, capture_output=True, **kwargs)


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # in sectors
    size: int
    type: str
    bootable: bool

    def extract(self, image: Path, target: Path) -> Path:
        """Copy the partition out of the image (dd at its offset): nothing is mounted."""
        run("dd", f"if={image}", f"of={target}", "bs=1M", f"skip={self.start * SECTOR}",
            f"count={self.size * SECTOR}", "iflag=skip_bytes,count_bytes", "conv=sparse", "status=none")
        return target


def partitions(image: Path) -> list[Partition]:
    """The image's MBR partitions (boot, root, data), as sfdisk reads them."""
    table = json.loads(run("sfdisk", "--json", image).stdout)["partitiontable"]
    if table["label"] != "dos":
        raise KioskError(f"{image}: partition table {table['label']!r}, expected an MBR (dos) one")
    return [Partition(number=index + 1, start=p["start"], size=p["size"], type=p["type"],
                      bootable=bool(p.get("bootable"))) for index, p in enumerate(table["partitions"])]


@dataclass(frozen=True)
class Image:
    """What ``image-build/build --out DIR`` leaves in DIR."""

    path: Path
    kernel: Path
    initrd: Path
    compressed: Path

    @classmethod
    def find(cls, out: Path) -> Image:
        found = sorted(out.glob("kiosk-*.img"))
        if len(found) != 1 or not (out / "vmlinuz").is_file() or not (out / "initrd.img").is_file():
            raise KioskError(f"{out} does not hold one kiosk-*.img with vmlinuz and initrd.img: "
                             "give the folder image-build/build --out wrote")
        return cls(path=found[0], kernel=out / "vmlinuz", initrd=out / "initrd.img",
                   compressed=Path(f"{found[0]}.zst"))


def prepare_card(image: Image, card: Path, provisioning_set: Path, spare_mib: int = 512) -> None:
    """A copy of the image on a card larger than it, the technician's set copied onto its FAT with mcopy."""
    shutil.copyfile(image.path, card)
    os.truncate(card, card.stat().st_size + spare_mib * 1024 * 1024)
    boot = partitions(card)[0]
    run("mcopy", "-o", "-i", f"{card}@@{boot.start * SECTOR}", *sorted(provisioning_set.iterdir()), "::/kiosk/")


def read_data_file(card: Path, path: str, target: Path) -> bool:
    """Copy ``path`` of the card's data partition to ``target`` with debugfs; False when it is not there."""
    data = partitions(card)[2]
    with tempfile.TemporaryDirectory(prefix="kiosk-card-") as tmp:
        extracted = data.extract(card, Path(tmp) / "data.ext4")
        # After a power cut the last commits are still in ext4's journal, which the next mount
        # would replay; debugfs reads without it, so replay it on this copy first (the card
        # itself is left as the cut left it).
        subprocess.run(["e2fsck", "-y", "-E", "journal_only", str(extracted)], capture_output=True, check=False)
        run("debugfs", "-R", f"dump {path} {target}", extracted)
    return target.exists() and target.stat().st_size > 0


def console_checks(console: str) -> dict[str, tuple[int, Any]]:
    """The ``KIOSK-CHECK <name> rc=<code> <JSON or text>`` lines of /usr/lib/kiosk/console-check, by name."""
    checks: dict[str, tuple[int, Any]] = {}
    # Not anchored: a line may follow the getty's "kiosk login: " prompt, which ends in no newline.
    for name, rc, rest in re.findall(r"KIOSK-CHECK (\S+) rc=(\d+) ?(.*?)\r?$", console, re.M):
        try:
            value: Any = json.loads(rest)
        except ValueError:
            value = rest
        checks[name] = (int(rc), value)
    return checks


class Guest:
    """The image booted under qemu-system-aarch64 (virt), its serial console in a log file."""

    def __init__(self, image: Image, disk: Path, log: Path, append: str = "", network: str = "restrict=on",
                 port: int | None = None, stick: Path | None = None) -> None:
        self.port = port or free_port()
        self.log = log
        cmdline = ("root=LABEL=KIOSK-ROOT ro rootfstype=ext4 rootwait console=ttyAMA0 net.ifnames=0 "
                   "systemd.show_status=auto "
                   # Warnings and errors of every unit on the console too: a failed boot explains itself.
                   "systemd.journald.forward_to_console=1 systemd.journald.max_level_console=warning " + append)
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-m", "2048", "-smp", "2",
             "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", cmdline,
             "-drive", f"file={disk},format=raw,if=none,id=disk,cache=writeback",
             "-device", "virtio-blk-pci,drive=disk",
             # restrict=on: the guest reaches nothing but the forwarded port; restrict=off lets
             # its uplink reach a broker on the host's loopback at 10.0.2.2.
             "-netdev", f"user,id=net,{network},hostfwd=tcp:127.0.0.1:{self.port}-:8080",
             "-device", "virtio-net-pci,netdev=net,romfile=",
             "-device", "i6300esb",
             # A USB stick (a raw FAT image) on an xHCI controller, as a technician plugs one in.
             *(["-device", "qemu-xhci,id=xhci", "-drive", f"file={stick},format=raw,if=none,id=stick",
                "-device", "usb-storage,bus=xhci.0,drive=stick"] if stick else []),
             "-display", "none", "-monitor", "none", "-serial", f"file:{log}", "-no-reboot"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"

    def console(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def _alive(self, what: str) -> None:
        if self.process.poll() is not None:
            stderr = self.process.stderr.read().decode() if self.process.stderr else ""
            raise KioskError(f"qemu exited ({self.process.returncode}) waiting for {what}: {stderr}\n"
                             f"console:\n{self.console()[-6000:]}")

    def request(self, method: str, path: str, body: object = None, token: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def wait_for_health(self, deadline_s: float = BOOT_DEADLINE_S) -> dict:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            self._alive("/api/health")
            try:
                status, health = self.request("GET", "/api/health")
                if status == 200:
                    return health
            except (OSError, ValueError):
                pass
            time.sleep(1)
        raise KioskError(f"no /api/health after {deadline_s:g} s; console:\n{self.console()[-8000:]}")

    def wait_for_console(self, pattern: str, deadline_s: float = BOOT_DEADLINE_S) -> re.Match[str]:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.console(), re.M)
            if found:
                return found
            self._alive(pattern)
            time.sleep(1)
        raise KioskError(f"{pattern!r} not on the console; console:\n{self.console()[-8000:]}")

    def power_cut(self) -> None:
        """SIGKILL: qemu's process dies with the guest's page cache; only what reached the disk stays."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.power_cut()


@dataclass(frozen=True)
class MachineSettings:
    post_id: str = "BENCH"
    kiosk_id: str = "K1"
    supervisor: tuple[str, str] = ("chief", "739264")


class MachineTarget:
    """The booted image as the campaign's target: start boots the card, a cut kills qemu.

    ``prepare`` writes the technician's set (no TLS: the bench's broker is plain MQTT on the
    host's loopback, allowed by ``uplink.allow_plaintext``), copies it onto a fresh card,
    boots once so that provisioning makes the kiosk's signing key, cuts, and reads the
    public key off the data partition for HQ's enrolment. Officers log in as the provisioned
    supervisor (a set brings one officer; a kiosk has no API to enrol more).
    """

    def __init__(self, image: Image, directory: Path, broker_port: int, hq_public_key: str,
                 settings: MachineSettings | None = None) -> None:
        self.image, self.directory = image, directory
        self.settings = settings or MachineSettings()
        self.card = directory / "card.img"
        self.broker_url = f"mqtt://{HOST_FROM_GUEST}:{broker_port}"
        self.hq_public_key = hq_public_key
        self.guest: Guest | None = None
        self.boots = 0
        # One host port for every boot: the officers keep the address across cuts.
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._token: str | None = None

    @property
    def officers(self) -> list[tuple[str, str]]:
        return [self.settings.supervisor]

    def provisioning_set(self) -> Path:
        folder = self.directory / "set"
        folder.mkdir(parents=True, exist_ok=True)
        officer_id, pin = self.settings.supervisor
        (folder / provision.SET_CONFIG).write_text(textwrap.dedent(f"""\
            # The bench's post: plain MQTT to the bench's broker on the host, the API on the forwarded port.
            [kiosk]
            post_id = "{self.settings.post_id}"
            kiosk_id = "{self.settings.kiosk_id}"

            [uplink]
            broker_url = "{self.broker_url}"
            allow_plaintext = true
            hq_public_key = "{self.hq_public_key}"
            receipt_timeout_s = 10.0
            reconnect_min_s = 0.5
            reconnect_max_s = 5.0

            [api]
            host = "0.0.0.0"
        """), encoding="utf-8")
        (folder / provision.SET_PINHASH).write_text(provision.pinhash_text(officer_id, pin, SecuritySection()),
                                                   encoding="utf-8")
        return folder

    def prepare(self) -> str:
        """Provision a fresh card by booting it once; returns the kiosk's public key (for HQ's enrolment)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        prepare_card(self.image, self.card, self.provisioning_set())
        self.start()
        self.wait_ready(BOOT_DEADLINE_S)
        self.cut()
        key_file = self.directory / "kiosk_ed25519.key"
        if not read_data_file(self.card, DATA_SIGNING_KEY, key_file):
            raise KioskError(f"the first boot left no signing key at {DATA_SIGNING_KEY} on the data partition")
        return protocol.public_key_text(protocol.load_private_key(key_file).public_key())

    def start(self, append: str = "") -> None:
        self.boots += 1
        self.guest = Guest(self.image, self.card, self.directory / f"console-{self.boots}.log", append=append,
                           network="restrict=off", port=self.port)
        self._token = None

    def wait_ready(self, timeout: float) -> Start:
        # READY=1 goes to systemd inside the guest; from outside, the first answer of the API is it.
        assert self.guest is not None
        self.guest.wait_for_health(timeout)
        elapsed = time.monotonic() - self.guest.started_at
        return Start(ready_s=elapsed, health_s=elapsed)

    def cut(self) -> None:
        if self.guest is not None:
            self.guest.power_cut()

    def _login(self) -> str:
        assert self.guest is not None
        if self._token is None:
            officer_id, pin = self.settings.supervisor
            status, answer = self.guest.request("POST", "/api/login", {"officer_id": officer_id, "pin": pin})
            if status != 200:
                raise KioskError(f"login on the guest: {status} {answer}")
            self._token = answer["token"]
        return self._token

    def drained(self) -> bool:
        assert self.guest is not None
        status, uplink = self.guest.request("GET", "/api/uplink", token=self._login())
        return status == 200 and uplink.get("pending") == 0

    def stop(self) -> None:
        # Drained, so nothing is pending: the end of the campaign is one more cut.
        self.cut()

    def inspect(self) -> Inspection:
        """Boot once more with the console checks (db check, audit verify, self-test), then read the card's crossings."""
        self.start(append="kiosk.console_check")
        problems: list[str] = []
        checks: dict[str, bool] = {}
        try:
            health = self.guest.wait_for_health() if self.guest else {}
            checks["config_open"] = (health.get("post_id"), health.get("kiosk_id")) == (
                self.settings.post_id, self.settings.kiosk_id)
            assert self.guest is not None
            self.guest.wait_for_console(r"^KIOSK-CHECK done ")
            found = console_checks(self.guest.console())
            for name, key in (("db-check", "db_check"), ("audit-verify", "audit_verify"), ("selftest", "selftest")):
                rc, value = found.get(name, (None, None))
                checks[key] = rc == 0
                if rc != 0:
                    problems.append(f"{name} inside the guest: rc={rc} {str(value)[:500]}")
            # The uplink's key opened: the service reached READY, which loads it when a broker is configured.
            checks["keys_open"] = checks["config_open"]
        finally:
            self.cut()
        with tempfile.TemporaryDirectory(prefix="kiosk-card-db-") as tmp:
            db = Path(tmp) / "kiosk.sqlite3"
            read_data_file(self.card, DATA_DB, db)
            read_data_file(self.card, DATA_DB + "-wal", Path(f"{db}-wal"))
            with sqlite3.connect(db) as conn:
                ids = [row[0] for row in conn.execute("SELECT id FROM crossings ORDER BY seq")]
        return Inspection(crossing_ids=ids, checks=checks, problems=problems)


def machine_settings(cuts: int, seed: int = 15) -> Settings:
    """The campaign's settings at machine depth: a boot takes minutes under emulation, so longer windows."""
    return Settings(cuts=cuts, officers=2, max_uptime_s=20.0, startup_cut_share=0.2, seed=seed,
                    ready_timeout_s=BOOT_DEADLINE_S, drain_timeout_s=300.0)


def run_machine(image: Image, settings: Settings, directory: Path | None = None,
                progress: Any = None) -> dict[str, Any]:
    """The machine-depth campaign: the image booted under qemu, cut by killing qemu, HQ on a local broker."""
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-machine-") as tmp:
        root = directory or Path(tmp)
        broker = LocalBroker(root / "broker").start()
        try:
            hq = HQ(root / "hq", broker.url)
            target = MachineTarget(image, root / "machine", broker.port, hq.public_key)
            started = time.monotonic()
            public_key = target.prepare()
            provisioned_s = time.monotonic() - started
            hq.enrol(target.settings.post_id, target.settings.kiosk_id, public_key)
            hq.start()
            try:
                figures = campaign(target, hq, settings, progress)
            finally:
                target.cut()
                hq.stop()
        finally:
            broker.stop()
    return {"depth": "machine", "image": image.path.name, "first_boot_s": round(provisioned_s, 1),
            "boots": target.boots, **figures}
