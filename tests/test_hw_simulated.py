"""The simulated devices do what they say and record it; open_devices picks back-ends by config."""

from __future__ import annotations

import dataclasses
import struct
import threading
import time
import zlib
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import pytest

from appliance.domain import clock
from appliance import config as config_module
from appliance.config import HardwareSection, SimulatedDevices
from appliance.errors import DeviceError
from appliance.hw import BACKENDS, Devices, backend_class, open_devices
from appliance.hw.camera import PNG_SIGNATURE, Photo, describe_image
from appliance.hw.camera_simulated import SimulatedCamera
from appliance.hw.device import DeviceStatus
from appliance.hw.mrz_reader_simulated import SimulatedMRZReader, load_mrz_file, parse_mrz_file
from appliance.hw.power_simulated import SimulatedPowerSource

ANNA = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n"
    "7408122F1204159UTO<<<<<<<<<<<6\n"
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
PRESENTED = (
    "P<UTOSPECIMEN<<PRESENTED<<<<<<<<<<<<<<<<<<<<\n"
    "X000001<<0UTO8001019M3001012<<<<<<<<<<<<<<02"
)


def png_bytes(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """Enough of a baseline JPEG (SOI, APP0, SOF0, EOI) for its size to be read."""
    app0 = b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof0 = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    return (
        b"\xff\xd8"
        + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
        + b"\xff\xc0" + struct.pack(">H", len(sof0) + 2) + sof0
        + b"\xff\xd9"
    )


def hardware(**simulated) -> HardwareSection:
    return HardwareSection(simulated=SimulatedDevices(**simulated))


@pytest.fixture
def mrz_file(tmp_path: Path) -> Path:
    path = tmp_path / "samples.mrz"
    path.write_text(f"# two specimens\n{ANNA}\n\n\n{TD1}\n", encoding="utf-8")
    return path


@pytest.fixture
def camera_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "camera"
    directory.mkdir()
    (directory / "b.jpg").write_bytes(jpeg_header(640, 480))
    (directory / "a.png").write_bytes(png_bytes(4, 5))
    (directory / "notes.txt").write_text("not an image")
    return directory


# --- MRZ reader -------------------------------------------------------------------


def test_reader_replays_the_file_in_order_and_cycles(mrz_file: Path) -> None:
    reader = SimulatedMRZReader.from_config(hardware(mrz_file=mrz_file))

    texts = [reader.read(timeout=0) for _ in range(5)]

    assert texts == [ANNA, TD1, ANNA, TD1, ANNA]
    assert reader.returned == texts


def test_presented_document_wins_then_the_replay_resumes(mrz_file: Path) -> None:
    reader = SimulatedMRZReader.from_config(hardware(mrz_file=mrz_file))
    assert reader.read(0) == ANNA

    reader.present(PRESENTED)

    assert reader.read(0) == PRESENTED
    assert reader.read(0) == TD1
    assert reader.returned == [ANNA, PRESENTED, TD1]


def test_reader_without_samples_times_out_with_none(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mrz"
    empty.write_text("# nothing yet\n\n", encoding="utf-8")
    reader = SimulatedMRZReader.from_config(hardware(mrz_file=empty))

    started = time.monotonic()
    assert reader.read(timeout=0.05) is None
    assert time.monotonic() - started >= 0.05
    assert reader.returned == [None]
    assert "reads only presented documents" in reader.status().detail


def test_present_from_another_thread_wakes_a_waiting_read() -> None:
    reader = SimulatedMRZReader()
    threading.Timer(0.05, reader.present, args=(PRESENTED,)).start()

    assert reader.read(timeout=5) == PRESENTED


def test_closed_reader_refuses_reads_and_wakes_waiters() -> None:
    reader = SimulatedMRZReader()
    threading.Timer(0.05, reader.close).start()

    with pytest.raises(DeviceError, match="closed"):
        reader.read(timeout=5)
    with pytest.raises(DeviceError, match="closed"):
        reader.present(PRESENTED)
    assert reader.status().ok is False


def test_reader_rejects_a_negative_timeout() -> None:
    with pytest.raises(ValueError, match="timeout"):
        SimulatedMRZReader([ANNA]).read(-1)


def test_mrz_file_parsing_strips_comments_blank_runs_and_crlf() -> None:
    text = "# header\r\n\r\n  LINE1  \r\nLINE2\r\n\r\n\r\n# between\r\nLINE3\r\n"
    assert parse_mrz_file(text) == ["LINE1\nLINE2", "LINE3"]


def test_missing_mrz_file_is_a_device_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mrz"
    with pytest.raises(DeviceError, match="nope.mrz"):
        SimulatedMRZReader.from_config(hardware(mrz_file=missing))


def test_default_mrz_file_is_the_package_specimens() -> None:
    samples, where = load_mrz_file(None)
    assert samples and where.startswith("appliance/demo_data/specimens.mrz")


# --- camera -----------------------------------------------------------------------


def test_package_sample_face_is_a_valid_png() -> None:
    data = resources.files("appliance").joinpath("demo_data/face.png").read_bytes()

    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (160, 200, 8, 2)
    # Every chunk's CRC holds and the pixels inflate to the size IHDR announces.
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert kind == b"IEND"
    assert len(zlib.decompress(idat)) == height * (1 + width * 3)


def test_camera_without_a_directory_returns_the_sample_face(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = datetime(2026, 11, 23, 19, 3, tzinfo=timezone.utc)
    monkeypatch.setattr(clock, "utcnow", lambda: moment)
    camera = SimulatedCamera.from_config(hardware())

    photo = camera.capture()

    assert isinstance(photo, Photo)
    assert (photo.media_type, photo.width, photo.height, photo.captured_at) == ("image/png", 160, 200, moment)
    assert photo.data.startswith(PNG_SIGNATURE)
    assert camera.captures == ["face.png"]


def test_camera_returns_the_directory_images_in_turn(camera_dir: Path) -> None:
    camera = SimulatedCamera.from_config(hardware(camera_dir=camera_dir))

    photos = [camera.capture() for _ in range(3)]

    assert camera.captures == ["a.png", "b.jpg", "a.png"]
    assert [(p.media_type, p.width, p.height) for p in photos] == [
        ("image/png", 4, 5), ("image/jpeg", 640, 480), ("image/png", 4, 5),
    ]
    assert photos[1].data == (camera_dir / "b.jpg").read_bytes()


def test_fail_next_raises_the_reason_once_and_status_shows_it(camera_dir: Path) -> None:
    camera = SimulatedCamera(camera_dir)
    camera.fail_next("lens cable unplugged")

    with pytest.raises(DeviceError, match="lens cable unplugged"):
        camera.capture()
    assert camera.status().to_dict() == {
        "kind": "camera", "backend": "simulated", "ok": False,
        "detail": "last capture failed: lens cable unplugged",
    }

    assert camera.capture().media_type == "image/png"
    assert camera.failures == ["lens cable unplugged"]
    assert camera.captures == ["a.png"]
    assert camera.status().ok is True


def test_camera_dir_without_images_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="has no .jpg/.jpeg/.png file"):
        SimulatedCamera.from_config(hardware(camera_dir=tmp_path))
    with pytest.raises(DeviceError, match="cannot list camera_dir"):
        SimulatedCamera.from_config(hardware(camera_dir=tmp_path / "missing"))


def test_corrupt_image_file_is_a_device_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"GIF89a not really")
    camera = SimulatedCamera(tmp_path)

    with pytest.raises(DeviceError, match="broken.jpg.*neither PNG nor JPEG"):
        camera.capture()
    assert camera.captures == []
    assert camera.status().ok is False


def test_describe_image_refuses_a_jpeg_without_frame_header() -> None:
    with pytest.raises(DeviceError, match="no frame header"):
        describe_image(b"\xff\xd8\xff\xd9")


# --- power ------------------------------------------------------------------------


def test_battery_starts_at_the_configured_level_and_follows_set() -> None:
    power = SimulatedPowerSource.from_config(hardware(battery_percent=64))
    first = power.read()

    power.set(percent=18.5, charging=True, on_mains=False, solar_watts=42.0, voltage=12.1)
    second = power.read()
    power.set(solar_watts=None)
    third = power.read()

    assert (first.battery_percent, first.charging, first.on_mains, first.solar_watts) == (64, False, True, None)
    assert (second.battery_percent, second.charging, second.on_mains) == (18.5, True, False)
    assert (second.solar_watts, second.voltage) == (42.0, 12.1)
    assert (third.solar_watts, third.voltage, third.battery_percent) == (None, 12.1, 18.5)
    assert power.readings == [first, second, third]
    assert first.read_at.tzinfo is not None


def test_set_refuses_impossible_values() -> None:
    power = SimulatedPowerSource()
    with pytest.raises(ValueError, match="0-100"):
        power.set(percent=101)
    with pytest.raises(ValueError, match="solar_watts"):
        power.set(solar_watts=-1)
    assert power.read().battery_percent == 100


def test_battery_file_scripts_a_discharge(tmp_path: Path) -> None:
    level = tmp_path / "battery"
    level.write_text("80\n")
    power = SimulatedPowerSource.from_config(hardware(battery_percent=100, battery_file=level))

    levels = []
    for text in ("80\n", "55.5", " 7 "):
        level.write_text(text)
        levels.append(power.read().battery_percent)

    assert levels == [80, 55.5, 7]
    assert [r.battery_percent for r in power.readings] == levels
    assert "battery 7%" in power.status().detail


@pytest.mark.parametrize("content", ["full", "", "120", "-3", "nan"])
def test_bad_battery_file_is_a_clear_device_error(tmp_path: Path, content: str) -> None:
    level = tmp_path / "battery"
    level.write_text(content)
    power = SimulatedPowerSource(battery_file=level)

    with pytest.raises(DeviceError) as raised:
        power.read()

    assert str(level) in str(raised.value)
    assert f"must hold a number 0-100, found {content!r}" in str(raised.value)
    assert power.readings == []
    status = power.status()
    assert status.ok is False and str(level) in status.detail

    level.write_text("50")
    assert power.read().battery_percent == 50
    assert power.status().ok is True


def test_missing_battery_file_is_a_device_error(tmp_path: Path) -> None:
    power = SimulatedPowerSource(battery_file=tmp_path / "absent")
    with pytest.raises(DeviceError, match="cannot read battery_file .*absent"):
        power.read()


# --- open_devices ------------------------------------------------------------------


def test_open_devices_picks_the_configured_back_ends(mrz_file: Path, camera_dir: Path, tmp_path: Path) -> None:
    config = config_module.from_mapping(
        {
            "kiosk": {"post_id": "POST-T", "kiosk_id": "K9", "data_dir": str(tmp_path / "data")},
            "hardware": {
                "mrz_reader": "simulated", "camera": "simulated", "power": "simulated",
                "simulated": {"mrz_file": str(mrz_file), "camera_dir": str(camera_dir), "battery_percent": 42},
            },
        },
        environ={},
    )

    devices = open_devices(config.hardware)

    assert isinstance(devices, Devices)
    assert isinstance(devices.mrz_reader, SimulatedMRZReader)
    assert isinstance(devices.camera, SimulatedCamera)
    assert isinstance(devices.power, SimulatedPowerSource)
    assert devices.mrz_reader.read(0) == ANNA
    assert devices.power.read().battery_percent == 42

    assert devices.fingerprint is not None and devices.indicators is not None
    status = devices.status()
    assert list(status) == ["mrz_reader", "camera", "power", "fingerprint", "indicators"]
    for kind, entry in status.items():
        assert entry.kind == kind
        assert entry.backend == "simulated"
        assert entry.ok is True, entry
        assert entry.detail
    assert str(mrz_file) in status["mrz_reader"].detail
    assert str(camera_dir) in status["camera"].detail
    assert status["power"].detail.startswith("battery 42%")

    devices.close()
    assert all(entry.ok is False and entry.detail == "closed" for entry in devices.status().values())


def test_unknown_back_end_names_the_kind_and_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # The config's Literal already refuses unknown names; this is the registry's own
    # guard for a name the config accepts before its back-end module exists.
    unchecked = HardwareSection().model_copy(update={"camera": "webcam9000"})
    opened = []
    monkeypatch.setattr(SimulatedMRZReader, "from_config", classmethod(lambda cls, hw: opened.append(cls)))

    with pytest.raises(DeviceError, match=r"unknown camera back-end 'webcam9000'; "
                                          r"known camera back-ends: picamera2, simulated, v4l2"):
        open_devices(unchecked)
    assert opened == [], "no device is opened when any name is unknown"


def test_back_end_that_cannot_be_imported_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a Pi-only back-end looks like on a laptop: registered, but its module's
    # imports (picamera2, libcamera) are missing.
    monkeypatch.setitem(BACKENDS["camera"], "picamera2", "appliance.hw.camera_not_installed:Picamera2Camera")

    with pytest.raises(DeviceError, match=r"camera back-end 'picamera2' cannot be loaded"):
        backend_class("camera", "picamera2")


def test_every_registered_back_end_implements_its_seam() -> None:
    from appliance.hw.camera import Camera
    from appliance.hw.fingerprint import FingerprintScanner
    from appliance.hw.indicators import Indicators
    from appliance.hw.mrz_reader import MRZReader
    from appliance.hw.power import PowerSource

    seams = {"mrz_reader": MRZReader, "camera": Camera, "power": PowerSource,
             "fingerprint": FingerprintScanner, "indicators": Indicators}
    for kind, names in BACKENDS.items():
        for name in names:
            cls = backend_class(kind, name)
            assert issubclass(cls, seams[kind]) and cls.backend == name and cls.kind == kind


def test_failed_open_closes_what_was_already_opened(
    mrz_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = []
    original_close = SimulatedMRZReader.close

    def recording_close(self: SimulatedMRZReader) -> None:
        closed.append(self)
        original_close(self)

    monkeypatch.setattr(SimulatedMRZReader, "close", recording_close)

    with pytest.raises(DeviceError, match="camera_dir"):
        open_devices(hardware(mrz_file=mrz_file, camera_dir=tmp_path / "missing"))
    assert len(closed) == 1


def test_status_reports_a_device_whose_status_raises(mrz_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    devices = open_devices(hardware(mrz_file=mrz_file))

    def broken() -> DeviceStatus:
        raise RuntimeError("i2c bus hung")

    monkeypatch.setattr(devices.power, "status", broken)

    status = devices.status()
    assert status["power"].to_dict() == {
        "kind": "power", "backend": "simulated", "ok": False, "detail": "status failed: i2c bus hung",
    }
    assert status["camera"].ok is True


def test_a_status_is_frozen_and_its_json_keeps_the_field_order(camera_dir: Path) -> None:
    status = SimulatedCamera.from_config(hardware(camera_dir=camera_dir)).status()

    assert list(status.to_dict()) == ["kind", "backend", "ok", "detail"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.ok = False
