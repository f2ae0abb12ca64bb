"""The SD image: built by image-build/build (cached), checked offline, then booted under qemu and power-cut."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from appliance.bench import qemu
from appliance.bench.qemu import SECTOR, Guest, Image, console_checks, partitions, run
from appliance.uplink import protocol, stick
from tests.provisioning import write_provisioning_set

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "image-build" / "build"
POST_ID, KIOSK_ID = "POST-QEMU", "K7"
SUPERVISOR = ("chief", "739264")
UNITS = ("kiosk.service", "kiosk-browser.service", "kiosk-firstboot.service", "kiosk-growdata.service",
         "kiosk-console-check.service", "kiosk-usb@.service")


def phase(name: str, started: float) -> None:
    """Print how long a phase took (pytest -s or the captured output of a failure shows it)."""
    print(f"[image test] {name}: {time.monotonic() - started:.1f} s", flush=True)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The image as image-build/build makes it (a cold build takes minutes; a cached one, about one)."""
    out = tmp_path_factory.mktemp("image")
    started = time.monotonic()
    build = subprocess.run([str(BUILD), "--out", str(out)], text=True, capture_output=True)
    print(build.stdout, flush=True)
    assert build.returncode == 0, f"image-build/build failed:\n{build.stdout}\n{build.stderr[-6000:]}"
    phase("build", started)
    return Image.find(out)


def test_image_ships_compressed_with_its_sha256(image: Image) -> None:
    checksum = Path(f"{image.compressed}.sha256")
    run("sha256sum", "--check", "--quiet", checksum.name, cwd=checksum.parent)
    assert image.compressed.stat().st_size < image.path.stat().st_size / 2


def test_partition_table_and_file_systems(image: Image, tmp_path: Path) -> None:
    boot, root, data = partitions(image.path)
    assert (boot.type, root.type, data.type) == ("c", "83", "83")
    assert boot.bootable and boot.start % 8192 == 0
    for part, name, label, kind in ((boot, "boot", "KIOSK-BOOT", "vfat"), (root, "root", "KIOSK-ROOT", "ext4"),
                                    (data, "data", "KIOSK-DATA", "ext4")):
        extracted = part.extract(image.path, tmp_path / name)
        probe = dict(line.split("=", 1) for line in run("blkid", "-p", "-o", "export", extracted).stdout.split())
        assert (probe["LABEL"], probe["TYPE"]) == (label, kind)
        if kind == "ext4":
            run("e2fsck", "-fn", extracted)
        else:
            run("fsck.vfat", "-n", extracted)
    # The Pi's firmware and the image's own kernel and initrd are on the FAT partition.
    files = run("mdir", "-b", "-i", tmp_path / "boot", "::/").stdout.split()
    names = {Path(name).name for name in files}
    assert {"start4.elf", "fixup4.dat", "config.txt", "cmdline.txt", "bcm2711-rpi-4-b.dtb"} <= names, names
    assert any(name.startswith("vmlinuz-") for name in names) and any(name.startswith("initrd.img-") for name in names)


def debugfs(partition: Path, request: str) -> str:
    return run("debugfs", "-R", request, partition).stdout


def test_root_holds_the_kiosk_its_units_and_a_read_only_layout(image: Image, tmp_path: Path) -> None:
    _, root, data = partitions(image.path)
    ext4 = root.extract(image.path, tmp_path / "root")
    for unit in UNITS:
        assert "Type: regular" in debugfs(ext4, f"stat /etc/systemd/system/{unit}")
    enabled = {target: debugfs(ext4, f"ls /etc/systemd/system/{target}.wants")
               for target in ("multi-user.target", "graphical.target", "var-lib-kiosk.mount")}
    assert "kiosk.service" in enabled["multi-user.target"]
    assert "kiosk-firstboot.service" in enabled["multi-user.target"]
    assert "kiosk-console-check.service" in enabled["multi-user.target"]
    assert "--fallback-screen" in debugfs(ext4, "cat /etc/systemd/system/kiosk.service")
    assert "kiosk-browser.service" in enabled["graphical.target"]
    assert "kiosk-growdata.service" in enabled["var-lib-kiosk.mount"]
    assert "graphical.target" in debugfs(ext4, "stat /etc/systemd/system/default.target")
    assert "RuntimeWatchdogSec=15s" in debugfs(ext4, "cat /etc/systemd/system.conf.d/kiosk-watchdog.conf")
    assert "Storage=volatile" in debugfs(ext4, "cat /etc/systemd/journald.conf.d/kiosk.conf")
    fstab = debugfs(ext4, "cat /etc/fstab")
    assert re.search(r"^LABEL=KIOSK-ROOT\s+/\s+ext4\s+ro,", fstab, re.M)
    assert re.search(r"^LABEL=KIOSK-DATA\s+/var/lib/kiosk\s+ext4\s", fstab, re.M)
    assert re.search(r"^tmpfs\s+/tmp\s+tmpfs\s", fstab, re.M)
    assert "Fast link dest: \"/var/lib/kiosk/etc\"" in debugfs(ext4, "stat /etc/kiosk")
    release = debugfs(ext4, "cat /etc/kiosk-image-release")
    assert re.search(r"^KIOSK_VERSION=\d+\.\d+", release, re.M) and re.search(r"^KIOSK_COMMIT=\S+", release, re.M)
    assert "Type: regular" in debugfs(ext4, "stat /opt/kiosk/venv/bin/kiosk")
    assert "Type: directory" in debugfs(ext4, "stat /opt/kiosk/models")
    # A USB stick (crossings by stick) is mounted by udev and kiosk-usb@.service, for the kiosk user only.
    assert "kiosk-usb@%k.service" in debugfs(ext4, "cat /etc/udev/rules.d/90-kiosk-usb.rules")
    assert "uid=901" in debugfs(ext4, "cat /usr/lib/kiosk/usb-mount")
    for mount_point in ("/var/lib/kiosk", "/boot/firmware", "/var/lib/systemd", "/media/kiosk-usb"):
        assert "Type: directory" in debugfs(ext4, f"stat {mount_point}"), mount_point
    # The data partition's config folder: root writes it, the kiosk reads it.
    data_ext4 = data.extract(image.path, tmp_path / "data")
    assert re.search(r"Mode:\s+0750", debugfs(data_ext4, "stat /"))
    assert re.search(r"User:\s+901\s+Group:\s+901", debugfs(data_ext4, "stat /"))
    assert re.search(r"User:\s+0\s+Group:\s+901", debugfs(data_ext4, "stat /etc"))


@pytest.fixture
def guests() -> Iterator[list[Guest]]:
    started: list[Guest] = []
    yield started
    for guest in started:
        guest.stop()


def specimen_mrz() -> str:
    text = resources.files("appliance").joinpath("demo_data/specimens.mrz").read_text(encoding="utf-8")
    return text.strip().split("\n\n")[1]


def test_boot_provision_record_power_cut_and_boot_again(image: Image, tmp_path: Path,
                                                        guests: list[Guest]) -> None:
    # A copy of the image on a card larger than the image: the data partition must grow into it.
    started = time.monotonic()
    disk = tmp_path / "card.img"
    shutil.copyfile(image.path, disk)
    os.truncate(disk, disk.stat().st_size + 512 * 1024 * 1024)
    boot_before, _, data_before = partitions(disk)

    # The technician's set, copied onto the FAT partition with mcopy as from a laptop.
    # HQ's stick key, so a USB stick plugged into the second boot can take the crossings to HQ.
    stick_public = stick.generate_key_file(tmp_path / "hq-stick.key")
    kit = write_provisioning_set(tmp_path / "kiosk", post_id=POST_ID, kiosk_id=KIOSK_ID, supervisor=SUPERVISOR,
                                 broker_url="mqtts://127.0.0.1:8883",
                                 uplink_toml=f'hq_stick_key = "{stick_public}"\n',
                                 # The API listens beyond loopback so qemu's forwarded port reaches it.
                                 extra_toml='[api]\nhost = "0.0.0.0"\n')
    fat = f"{disk}@@{boot_before.start * SECTOR}"
    run("mcopy", "-o", "-i", fat, *sorted(kit.iterdir()), "::/kiosk/")
    phase("card prepared and provisioning set copied", started)

    started = time.monotonic()
    first = Guest(image, disk, tmp_path / "console-1.log")
    guests.append(first)
    health = first.wait_for_health()
    phase("first boot to /api/health (provisioning, READY)", started)
    assert (health["post_id"], health["kiosk_id"]) == (POST_ID, KIOSK_ID), health

    started = time.monotonic()
    status, login = first.request("POST", "/api/login", {"officer_id": SUPERVISOR[0], "pin": SUPERVISOR[1]})
    assert status == 200, login
    status, crossing = first.request("POST", "/api/crossings", {"direction": "entry", "mrz": specimen_mrz()},
                                     token=login["token"])
    assert status == 201, crossing
    first.power_cut()
    phase("login, crossing recorded, power cut", started)

    # The first boot grew the data partition to the end of the card and took the secrets off the FAT.
    _, _, data_after = partitions(disk)
    assert data_after.start == data_before.start
    assert (data_after.start + data_after.size) * SECTOR >= disk.stat().st_size - 1024 * 1024
    boot_files = run("mdir", "-b", "-i", fat, "::/kiosk/").stdout
    assert "kiosk.key" not in boot_files, boot_files

    started = time.monotonic()
    # kiosk.console_check: kiosk-console-check.service prints `kiosk db check` and `kiosk
    # selftest` on the serial console once the kiosk is up.
    # A FAT stick in the USB port: udev and kiosk-usb@.service mount it for the kiosk user, and the
    # console check writes the crossings onto it with `kiosk export`.
    usb = tmp_path / "stick.img"
    with open(usb, "wb") as blank:
        blank.truncate(32 * 1024 * 1024)
    run("mkfs.vfat", "-n", "KIOSKSTICK", str(usb))
    second = Guest(image, disk, tmp_path / "console-2.log", append="kiosk.console_check", stick=usb)
    guests.append(second)
    health = second.wait_for_health()
    phase("second boot to /api/health", started)
    status, login = second.request("POST", "/api/login", {"officer_id": SUPERVISOR[0], "pin": SUPERVISOR[1]})
    assert status == 200, login
    status, found = second.request("GET", f"/api/crossings/{crossing['id']}", token=login["token"])
    assert status == 200, found
    assert (found["document_number"], found["direction"]) == (crossing["document_number"], "entry")
    phase("crossing found after the power cut", started)
    started = time.monotonic()

    # The kiosk's own checks inside the guest, over the API: it reached READY after the power
    # cut, so its start-up store integrity check passed; the self-test's device probes answer.
    assert health["status"] == "ok", health
    status, devices = second.request("GET", "/api/devices", token=login["token"])
    assert status == 200, devices
    print(f"[image test] devices after the power cut: {devices}", flush=True)
    phase("device status inside, over the API", started)

    # `kiosk db check --json` and `kiosk selftest --json`, run inside the guest as the kiosk user.
    started = time.monotonic()
    second.wait_for_console(r"^KIOSK-CHECK done ")
    checks = console_checks(second.console())
    phase("db check and self-test inside, on the serial console", started)
    rc, report = checks["db-check"]
    assert rc == 0 and report["ok"] is True, checks["db-check"]
    rc, rows = checks["selftest"]
    assert rc == 0 and rows and all(row["ok"] for row in rows), checks["selftest"]
    assert {row["device"] for row in rows} >= {"mrz_reader", "camera", "fingerprint", "power"}, rows
    assert checks["kiosk-service"] == (0, "active")
    rc, exported = checks["stick-export"]
    assert rc == 0 and exported["crossings"] >= 1, checks["stick-export"]
    # The supervisor's stick screen writes from inside kiosk.service (ProtectSystem=strict): its API.
    status, on_screen = second.request("GET", "/api/stick", token=login["token"])
    assert status == 200 and on_screen["mounted"], on_screen
    status, by_screen = second.request("POST", "/api/stick/export", {"photos": False}, token=login["token"])
    assert status == 201 and by_screen["crossings"] >= 1, by_screen
    second.power_cut()

    # The stick, read on the host as HQ would: the export is there whole, signed by this kiosk and
    # sealed for HQ's stick key, and it holds the crossing recorded before the power cut.
    started = time.monotonic()
    key_file = tmp_path / "kiosk_ed25519.key"
    assert qemu.read_data_file(disk, qemu.DATA_SIGNING_KEY, key_file)
    kiosk_key = protocol.load_private_key(key_file).public_key()
    listing = run("mdir", "-b", "-i", str(usb), "::/").stdout
    for written in (exported, by_screen):
        name = Path(written["file"]).name
        assert name in listing, listing
        run("mcopy", "-o", "-i", str(usb), f"::/{name}", str(tmp_path / name))
        opened = stick.open_export((tmp_path / name).read_bytes(), lambda _post, _kiosk: kiosk_key,
                                   stick.load_private_key(tmp_path / "hq-stick.key"))
        assert crossing["id"] in {item["id"] for item in opened.payload["items"]}, opened.header
    phase("crossings exported onto a USB stick inside, read on the host", started)


def test_power_cuts_of_the_whole_machine_lose_nothing_acknowledged(image: Image, tmp_path: Path) -> None:
    # The machine-depth campaign of `kiosk bench powercut --depth machine`, shortened: officers
    # record over the forwarded port while qemu is killed at random moments (one may land in
    # the boot), the uplink drains to HQ through a real broker on the host, and a last boot runs
    # db check, audit verify and the self-test inside the guest.
    started = time.monotonic()
    figures = qemu.run_machine(image, qemu.machine_settings(cuts=3, seed=12), directory=tmp_path)
    phase(f"machine-depth campaign, {figures['boots']} boots", started)
    print(f"[image test] power cuts: {json.dumps(figures)}", flush=True)
    assert figures["acknowledged"] > 0, figures
    assert (figures["lost"], figures["duplicated"], figures["refused"]) == (0, 0, 0), figures
    assert figures["hq"]["missing"] == figures["hq"]["duplicated"] == figures["hq"]["foreign"] == 0, figures
    assert figures["hq"]["in_kiosk_order"] and figures["hq"]["drained"], figures
    assert figures["checks"] and all(figures["checks"].values()), figures
    assert figures["ok"], figures
