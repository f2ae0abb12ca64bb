"""The R30x/ZFM packet protocol and driver against the simulator on a pty: the real bytes both ways."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from appliance.config import FingerprintR30xSettings, HardwareSection
from appliance.errors import DeviceError, FrameError
from appliance.hw import r30x_protocol as proto
from appliance.hw.fingerprint_r30x import R30xScanner
from appliance.hw.fingerprint_simulated import (
    R30xSimulator,
    SimulatedFingerprintScanner,
    sample_template,
)

# --- the packet format -------------------------------------------------------------------


def test_handshake_packet_matches_the_datasheet_bytes() -> None:
    # VfyPwd with the default password and address, as printed in the R30x user manual.
    assert proto.command(proto.VFY_PWD, bytes(4)).hex(" ") == "ef 01 ff ff ff ff 01 00 07 13 00 00 00 00 00 1b"


def test_parser_reassembles_packets_torn_anywhere() -> None:
    stream = proto.encode(proto.PID_ACK, b"\x00") + proto.encode(proto.PID_DATA, bytes(range(128)))
    for cut in range(1, len(stream)):
        parser = proto.PacketParser()
        packets = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert [(p.pid, p.payload) for p in packets] == [(proto.PID_ACK, b"\x00"), (proto.PID_DATA, bytes(range(128)))]


def test_parser_reports_a_bad_checksum_and_resynchronises() -> None:
    bad = bytearray(proto.encode(proto.PID_ACK, b"\x00"))
    bad[-1] ^= 0xFF
    items = proto.PacketParser().feed(b"\x13\x37" + bytes(bad) + proto.encode(proto.PID_ACK, b"\x02"))
    assert isinstance(items[0], proto.Noise) and items[0].data == b"\x13\x37"
    assert isinstance(items[1], FrameError) and "checksum" in str(items[1])
    assert items[2].confirmation == 0x02


def test_parser_refuses_an_impossible_header() -> None:
    items = proto.PacketParser().feed(b"\xef\x01\xff\xff\xff\xff\x09\x00\x03\x00\x00\x00")
    assert isinstance(items[0], FrameError) and "corrupt packet header (packet id 0x09" in str(items[0])


def test_encode_refuses_what_the_protocol_cannot_carry() -> None:
    with pytest.raises(ValueError, match="unknown packet id"):
        proto.encode(0x05, b"")
    with pytest.raises(ValueError, match="over the protocol's 256"):
        proto.encode(proto.PID_DATA, bytes(300))


# --- driver against the simulator ----------------------------------------------------------


@pytest.fixture
def module(tmp_path: Path):
    simulator = R30xSimulator(tmp_path / "ttyFP", password="0000002a")
    yield simulator
    simulator.close()


def scanner_for(module: R30xSimulator, **overrides) -> R30xScanner:
    # A generous answer timeout: a simulator thread starved on a loaded machine must not look
    # like a lost answer and be retried, which the tests would see as a repeated command.
    settings = FingerprintR30xSettings(**{"port": module.path, "password": "0000002A", "response_timeout_s": 2.0,
                                          "finger_timeout_s": 1.0, **overrides})
    return R30xScanner.from_config(HardwareSection(fingerprint="r30x", fingerprint_r30x=settings))


def test_handshake_capture_and_upload(module: R30xSimulator) -> None:
    scanner = scanner_for(module)
    assert scanner.parameters == {"capacity": 1000, "security_level": 3, "packet_size": 128, "baud": 57600}

    capture = scanner.capture()

    assert capture.template == sample_template() and len(capture.template) == 512
    assert (capture.format, capture.ok, capture.hints) == ("r30x-char", True, [])
    assert module.commands == ["VfyPwd", "ReadSysPara", "GenImg", "Img2Tz", "UpChar"]
    assert scanner.status().ok is True
    scanner.close()


def test_waits_for_the_finger(module: R30xSimulator) -> None:
    scanner = scanner_for(module)
    module.finger = False
    started = time.monotonic()
    with pytest.raises(DeviceError, match="no finger on the fingerprint sensor"):
        scanner.capture(timeout=1.0)  # several finger polls (FINGER_POLL_S) even on a loaded machine
    assert time.monotonic() - started >= 1.0
    assert module.commands.count("GenImg") >= 2
    assert scanner.status().ok is False

    module.finger = True
    assert scanner.capture().ok
    assert scanner.status().ok is True
    scanner.close()


def test_a_poor_image_is_retaken_with_a_hint(module: R30xSimulator) -> None:
    scanner = scanner_for(module)
    module.image_results.extend([0x07, 0x06])

    capture = scanner.capture()

    assert capture.ok and capture.template == sample_template()
    assert capture.hints == [
        "too little of the finger seen: press the whole pad flat on the glass",
        "image smudged: wipe the glass and the finger, then press flat",
        "read at attempt 3 of 3",
    ]
    # The same as codes, for the officer's language.
    assert [item.code for item in capture.reasons] == ["fingerprint.partial", "fingerprint.smudged",
                                                       "fingerprint.retried"]
    assert [item.text() for item in capture.reasons] == capture.hints
    scanner.close()


def test_gives_up_after_the_configured_attempts(module: R30xSimulator) -> None:
    scanner = scanner_for(module, attempts=2)
    module.image_results.extend([0x06, 0x07])
    with pytest.raises(DeviceError, match="no usable fingerprint after 2 attempts: too little of the finger"):
        scanner.capture()
    assert "UpChar" not in module.commands
    scanner.close()


@pytest.mark.parametrize("fault", ["corrupt", "noise", "torn", "silent"])
def test_a_corrupted_torn_noisy_or_lost_answer_is_retried(module: R30xSimulator, fault: str) -> None:
    scanner = scanner_for(module)
    module.fault(fault)

    capture = scanner.capture()

    assert capture.template == sample_template()
    if fault in ("corrupt", "silent"):
        assert module.commands[2:4] == ["GenImg", "GenImg"], "the spoiled exchange was sent again"
        assert any(result.startswith("error") for _, result in scanner.exchanges)
    else:
        assert module.commands[2:] == ["GenImg", "Img2Tz", "UpChar"], "nothing needed repeating"
    if fault == "noise":
        assert scanner.noise
    scanner.close()


def test_a_corrupted_template_packet_is_uploaded_again(module: R30xSimulator) -> None:
    scanner = scanner_for(module)
    module.fault("corrupt_data")

    capture = scanner.capture()

    assert capture.template == sample_template()
    assert module.commands[2:] == ["GenImg", "Img2Tz", "UpChar", "UpChar"]
    scanner.close()


def test_corruption_that_does_not_stop_is_a_frame_error(module: R30xSimulator) -> None:
    scanner = scanner_for(module)
    module.fault("corrupt", "corrupt", "corrupt")
    with pytest.raises(FrameError, match="checksum"):
        scanner.capture()
    scanner.close()


def test_wrong_password_is_refused_at_open(module: R30xSimulator) -> None:
    settings = FingerprintR30xSettings(port=module.path, password="DEADBEEF", response_timeout_s=0.3)
    with pytest.raises(DeviceError, match="refused the handshake: wrong module password"):
        R30xScanner.from_config(HardwareSection(fingerprint="r30x", fingerprint_r30x=settings))


def test_a_silent_port_names_the_port_and_what_to_check(module: R30xSimulator) -> None:
    module.fault("silent", "silent", "silent")
    with pytest.raises(DeviceError, match=r"did not answer VfyPwd within 0.3 s on .*ttyFP at 57600 baud \(check power"):
        scanner_for(module, response_timeout_s=0.3)


def test_missing_port_is_a_device_error() -> None:
    settings = FingerprintR30xSettings(port="/dev/ttyNOPE9")
    with pytest.raises(DeviceError, match="fingerprint module: cannot open /dev/ttyNOPE9: .*does not exist"):
        R30xScanner.from_config(HardwareSection(fingerprint="r30x", fingerprint_r30x=settings))


def test_unplugged_module_fails_the_capture_clearly(module: R30xSimulator) -> None:
    scanner = scanner_for(module)
    module.close()
    with pytest.raises(DeviceError, match="fingerprint module"):
        scanner.capture(timeout=0.2)
    scanner.close()
    with pytest.raises(DeviceError, match="closed"):
        scanner.capture()


def test_the_simulated_back_end_runs_the_real_driver_on_a_pty() -> None:
    scanner = SimulatedFingerprintScanner.from_config(HardwareSection())
    try:
        assert isinstance(scanner, R30xScanner)
        assert scanner.port.port.startswith("/dev/pts/")
        assert scanner.capture().template == sample_template()
        assert scanner.simulator.commands[-3:] == ["GenImg", "Img2Tz", "UpChar"]
        assert "simulated R30x module answering" in scanner.status().detail
    finally:
        scanner.close()
    assert scanner.status().ok is False


def test_simulator_refuses_unknown_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="packet_size"):
        R30xSimulator(packet_size=100)
    simulator = R30xSimulator(tmp_path / "fp")
    try:
        with pytest.raises(ValueError, match="unknown fault"):
            simulator.fault("gremlins")
    finally:
        simulator.close()
