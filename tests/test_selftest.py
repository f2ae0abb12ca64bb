"""``kiosk selftest``: passes on simulators, fails with a hint when a device is missing or silent."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.workflow import selftest
from appliance.config import HardwareSection
from appliance.hw import BACKENDS, KINDS, NOT_FITTED, backend_class
from appliance.hw.fingerprint_simulated import R30xSimulator
from appliance.hw.mrz_reader_serial import SerialMRZReader
from appliance.hw.pty_peer import PtyPeer

KEYS = ["device", "backend", "port", "ok", "result", "hint"]


@pytest.fixture(autouse=True)
def quick_indicators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "INDICATOR_STEP_S", 0.01)


def with_hardware(config_path: Path, text: str) -> None:
    config_path.write_text(config_path.read_text() + "\n[hardware]\n" + text, encoding="utf-8")


def test_simulated_kiosk_passes(config) -> None:
    rows = selftest.run(config)
    assert [row["device"] for row in rows] == [*KINDS, "time", "sd_card"]
    assert all(list(row) == KEYS for row in rows)
    assert all(row["ok"] and row["hint"] == "" for row in rows), rows
    by_device = {row["device"]: row for row in rows}
    assert by_device["mrz_reader"]["result"] == "read a TD3 document (check digits ok)"
    assert by_device["camera"]["result"] == "captured 160x200 image/png"
    assert by_device["fingerprint"]["result"].startswith("module answered: capacity 1000")


def test_cli_table_and_json(run_cli) -> None:
    table = run_cli("selftest")
    assert table.exit_code == 0, table.output
    assert "PASS  mrz_reader" in table.stdout and "all 7 devices passed" in table.stdout
    rows = json.loads(run_cli("selftest", "--json").stdout)
    assert [row["ok"] for row in rows] == [True] * 7


def test_missing_serial_reader_fails_with_a_hint_and_exit_1(run_cli, config_path, tmp_path) -> None:
    with_hardware(config_path, f'mrz_reader = "serial"\nfingerprint = "none"\n'
                               f'[hardware.mrz_serial]\nport = "{tmp_path / "ttyUSB0"}"\n')
    result = run_cli("selftest")
    assert result.exit_code == 1
    assert "FAIL  mrz_reader   serial" in result.stdout
    assert "does not exist (unplugged?" in result.stdout
    assert "hint: plug the reader in; check hardware.mrz_serial.port" in result.stdout
    assert "PASS  fingerprint  none" in result.stdout and "not fitted" in result.stdout
    assert "6 passed, 1 failed" in result.stdout
    rows = json.loads(run_cli("selftest", "--json").stdout)
    assert [row["device"] for row in rows if not row["ok"]] == ["mrz_reader"]


def test_a_connected_serial_reader_and_r30x_module_pass(config_path, tmp_path) -> None:
    reader, module = PtyPeer(tmp_path / "ttyMRZ"), R30xSimulator(tmp_path / "ttyFP")
    try:
        with_hardware(config_path, f'mrz_reader = "serial"\nfingerprint = "r30x"\n'
                                   f'[hardware.mrz_serial]\nport = "{reader.path}"\n'
                                   f'[hardware.fingerprint_r30x]\nport = "{module.path}"\n')
        rows = {row["device"]: row for row in selftest.run(config_module.load(config_path, environ={}))}
        assert rows["mrz_reader"]["ok"] and rows["mrz_reader"]["result"].endswith("no document on the reader")
        assert rows["fingerprint"]["ok"] and rows["fingerprint"]["port"] == f"{module.path} @57600"
        assert module.commands.count("VfyPwd") == 2  # open, then the probe's own handshake
    finally:
        reader.close()
        module.close()


def test_a_noisy_reader_and_silent_module_fail(config_path, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader, module = PtyPeer(tmp_path / "ttyMRZ"), R30xSimulator(tmp_path / "ttyFP")
    module.fault(*["silent"] * 3)
    # pyserial flushes input on open, so the noise is sent right after the self-test opened the
    # port (a timer would race the open, or the half-second read, on a loaded machine).
    open_reader = SerialMRZReader.from_config.__func__

    def open_then_noise(cls: type[SerialMRZReader], hardware: HardwareSection) -> SerialMRZReader:
        opened = open_reader(cls, hardware)
        reader.write(b"\xff\xfe noise at the wrong baud rate\r\n")
        return opened

    monkeypatch.setattr(SerialMRZReader, "from_config", classmethod(open_then_noise))
    try:
        with_hardware(config_path, f'mrz_reader = "serial"\nfingerprint = "r30x"\n'
                                   f'[hardware.mrz_serial]\nport = "{reader.path}"\n'
                                   f'[hardware.fingerprint_r30x]\nport = "{module.path}"\nresponse_timeout_s = 0.2\n')
        config = config_module.load(config_path, environ={})
        rows = {row["device"]: row for row in selftest.run(config)}
        assert not rows["mrz_reader"]["ok"] and "non-ASCII" in rows["mrz_reader"]["result"]
        assert not rows["fingerprint"]["ok"] and "did not answer VfyPwd" in rows["fingerprint"]["result"]
        assert "TX->RX" in rows["fingerprint"]["hint"]
    finally:
        reader.close()
        module.close()


def test_v4l2_and_modbus_absent_here_fail_with_hints(config) -> None:
    hardware = HardwareSection(camera="v4l2", power="modbus")
    rows = {kind: selftest.check(kind, hardware) for kind in ("camera", "power")}
    assert "/dev/video0 does not exist" in rows["camera"]["result"] and "v4l2-ctl" in rows["camera"]["hint"]
    assert rows["power"]["port"] == "/dev/ttyUSB1 unit 1" and "RS485" in rows["power"]["hint"]


def test_an_unexpected_crash_is_one_failed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(selftest.PROBES, "camera", lambda device: 1 / 0)
    row = selftest.check("camera", HardwareSection())
    assert row["ok"] is False and row["result"] == "ZeroDivisionError: division by zero"
    assert "unexpected error" in row["hint"]


def test_config_names_exactly_the_registered_back_ends() -> None:
    # A back-end in the registry but not in the config Literal (or the reverse) could
    # never be chosen, or would fail only at start-up.
    for kind in KINDS:
        allowed = set(typing.get_args(HardwareSection.model_fields[kind].annotation)) - {NOT_FITTED}
        assert allowed == set(BACKENDS[kind]), kind


def test_every_back_end_carries_its_own_hint_and_port() -> None:
    # Its own, not inherited: the simulated fingerprint scanner is an R30x driver, but its
    # hint is about the simulator's pty, not the module's wiring.
    hardware = HardwareSection()
    for kind in KINDS:
        for backend in BACKENDS[kind]:
            cls = backend_class(kind, backend)
            assert "hint" in vars(cls) and cls.hint, f"no self-test hint for {kind} {backend}"
            assert "attached_to" in vars(cls), f"{kind} {backend} does not say what it is attached to"
            assert isinstance(cls.attached_to(hardware), str) and cls.attached_to(hardware)


def test_a_back_end_that_cannot_be_loaded_is_one_failed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS["camera"], "picamera2", "appliance.hw.camera_not_installed:Picamera2Camera")
    row = selftest.check("camera", HardwareSection(camera="picamera2"))
    assert row["ok"] is False and "camera back-end 'picamera2' cannot be loaded" in row["result"]
    assert row["port"] == "-" and row["hint"] == selftest.UNKNOWN_BACKEND_HINT


def test_face_models_load_and_run_once(run_cli, config_path, face_models) -> None:
    from appliance.inference import litert

    from .conftest import with_screening

    with_screening(config_path, f'face_embedder_model = "{face_models["embedder"]}"\n'
                                f'face_detector_model = "{face_models["detector"]}"\n')
    rows = json.loads(run_cli("selftest", "--json").stdout)
    assert [row["device"] for row in rows] == [*KINDS, "face_models", "time", "sd_card"]
    row = rows[-3]
    runtime = litert.runtime_info()
    assert row["ok"] and row["backend"] == f"{runtime['runtime']} {runtime['version']}"
    assert row["port"] == "face_embedder.tflite + face_detector.tflite"
    assert row["result"].startswith("embedder 112x112 float32 -> 128-d; detector 128x128 float32, 9 boxes "
                                    "(best score 0.12 on a blank image); loaded in ")
    table = run_cli("selftest")
    assert table.exit_code == 0 and "PASS  face_models" in table.stdout and "all 8 devices passed" in table.stdout


def test_a_face_model_that_does_not_load_fails_with_a_hint(run_cli, config_path, tmp_path) -> None:
    from .conftest import with_screening

    junk = tmp_path / "mobilefacenet.tflite"
    junk.write_bytes(b"<html>404 Not Found</html>")  # what a failed download leaves behind
    with_screening(config_path, f'face_embedder_model = "{junk}"\n')
    result = run_cli("selftest")
    assert result.exit_code == 1
    assert "FAIL  face_models  ai-edge-litert" in result.stdout
    assert f"{junk} is not a TFLite model (no TFL3 file identifier)" in result.stdout
    assert "hint: check screening.face_embedder_model" in result.stdout and "kiosk faces models DIR" in result.stdout
    assert "7 passed, 1 failed" in result.stdout
