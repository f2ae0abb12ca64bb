"""The serial MRZ reader against a pty peer: framing, torn frames, noise, unplug and replug."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.config import HardwareSection, MRZSerialSettings
from appliance.errors import DeviceError, FrameError
from appliance.hw.mrz_framing import MRZAssembler
from appliance.hw.mrz_reader_serial import SerialMRZReader
from appliance.hw.pty_peer import PtyPeer

from .waiting import wait_until

TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")


def doc(lines: tuple[str, ...]) -> str:
    return "\n".join(lines)


def wire(lines: tuple[str, ...], end: str = "\r\n") -> bytes:
    return "".join(line + end for line in lines).encode()


# --- the assembler (pure) --------------------------------------------------------------


@pytest.mark.parametrize("lines", [TD3, TD1, TD2])
@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_every_document_shape_and_line_end_assembles(lines, end) -> None:
    assert MRZAssembler("any").feed(wire(lines, end)) == [doc(lines)]


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_a_stream_torn_anywhere_gives_the_same_documents(cuts) -> None:
    stream = wire(TD3) + wire(TD1, "\n") + wire(TD2, "\r")
    assembler = MRZAssembler("any")
    results, start = [], 0
    for cut in sorted(set(c for c in cuts if c < len(stream))) + [len(stream)]:
        results += assembler.feed(stream[start:cut])
        start = cut
    assert results == [doc(TD3), doc(TD1), doc(TD2)]


def test_noise_is_an_error_and_the_next_document_still_reads() -> None:
    results = MRZAssembler().feed(b"\x00\xff\xfe\r\n" + wire(TD3))
    assert isinstance(results[0], FrameError) and "non-ASCII" in str(results[0])
    assert results[1:] == [doc(TD3)]


@pytest.mark.parametrize("garbage, message", [
    (b"hello world\r\n", "characters outside A-Z 0-9 <"),
    (b"ABC<<123\r\n", "line of 8 characters"),
    (b"A" * 250, "without a line end"),
])
def test_each_kind_of_garbage_is_named(garbage, message) -> None:
    results = MRZAssembler().feed(garbage)
    assert len(results) == 1 and isinstance(results[0], FrameError)
    assert message in str(results[0])


def test_lines_of_two_documents_mixed_are_refused() -> None:
    results = MRZAssembler().feed(wire((TD3[0],)) + wire(TD2))
    assert isinstance(results[0], FrameError) and "line 1 had 44" in str(results[0])
    # The TD2 line that broke the TD3 started over: the rest of TD2 is reported incomplete later.
    assert MRZAssembler().flush() == []


def test_an_incomplete_document_is_reported_on_flush() -> None:
    assembler = MRZAssembler()
    assert assembler.feed(wire(TD1[:2])) == []
    assert assembler.busy
    [error] = assembler.flush()
    assert isinstance(error, FrameError) and "got 2 of 3 lines of 30 characters" in str(error)
    assert not assembler.busy


def test_an_unterminated_last_line_completes_on_flush() -> None:
    assembler = MRZAssembler()
    assert assembler.feed((TD3[0] + "\r\n" + TD3[1]).encode()) == []
    assert assembler.flush() == [doc(TD3)]


def test_stx_etx_framing() -> None:
    assembler = MRZAssembler("cr", frame_start=0x02, frame_end=0x03)
    stream = b"\x02" + wire(TD3, "\r") + b"\x03" + b"\r\n" + b"\x02" + wire(TD1[:1], "\r") + b"\x03" + b"junk"
    results = assembler.feed(stream)
    assert results[0] == doc(TD3)
    assert isinstance(results[1], FrameError) and "incomplete MRZ after frame end" in str(results[1])
    assert isinstance(results[2], FrameError) and "outside a frame" in str(results[2])


def test_crlf_only_framing_keeps_a_lone_cr_inside_a_line() -> None:
    # With line_end = "crlf" a lone CR is stray whitespace, not a line end.
    assert MRZAssembler("crlf").feed((TD3[0] + "\r" + "\r\n" + TD3[1] + "\r\n").encode()) == [doc(TD3)]


# --- the reader over a pty ---------------------------------------------------------------


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyMRZ"


def reader_for(port: str, **overrides) -> SerialMRZReader:
    # A generous document gap: a loaded machine may pause a writer between the pieces of
    # one document for longer than a real UART would, and that must not tear the document.
    settings_ = MRZSerialSettings(**{"port": port, "document_gap_s": 2.0, "reconnect_interval_s": 0.05,
                                     **overrides})
    return SerialMRZReader.from_config(HardwareSection(mrz_reader="serial", mrz_serial=settings_))


def test_reads_a_document_sent_in_torn_pieces(link: Path) -> None:
    with PtyPeer(link) as peer:
        reader = reader_for(str(link))
        assert reader.status().ok is True
        threading.Thread(target=peer.write_slowly, args=(wire(TD3), 7)).start()
        assert reader.read(timeout=3) == doc(TD3)
        assert reader.read(timeout=0.1) is None
        reader.close()


def test_noise_raises_a_frame_error_then_the_reader_goes_on(link: Path) -> None:
    with PtyPeer(link) as peer:
        reader = reader_for(str(link))
        peer.write(b"\x15\x80garbage\r\n" + wire(TD1))
        with pytest.raises(FrameError, match="non-ASCII"):
            reader.read(timeout=2)
        assert reader.read(timeout=2) == doc(TD1)
        assert any(event.startswith("frame error") for event in reader.events)
        reader.close()


def test_half_a_document_then_silence_is_an_incomplete_error(link: Path) -> None:
    with PtyPeer(link) as peer:
        reader = reader_for(str(link), document_gap_s=0.15)
        peer.write(wire(TD3[:1]))
        started = time.monotonic()
        with pytest.raises(FrameError, match="incomplete MRZ after silence: got 1 of 2"):
            reader.read(timeout=3)
        assert time.monotonic() - started >= 0.15
        reader.close()


def test_unplug_and_replug_without_restarting(link: Path) -> None:
    peer = PtyPeer(link)
    reader = reader_for(str(link))
    peer.write(wire(TD3))
    assert reader.read(timeout=2) == doc(TD3)

    peer.write(wire(TD1[:1]))  # the cable is pulled in the middle of a document
    # Once the first line is in (and the document gap has not passed), pull the cable.
    wait_until(lambda: reader.read(timeout=0) is None and reader.assembler.busy, what="the first line")
    peer.close()
    with pytest.raises(FrameError, match="disconnected in the middle of a document"):
        reader.read(timeout=1)
    with pytest.raises(DeviceError, match="does not exist"):
        reader.read(timeout=0.2)
    status = reader.status()
    assert status.ok is False and "disconnected" in status.detail

    replugged = PtyPeer(link)  # the same by-id path, a new tty behind it
    try:
        def reconnected() -> bool:
            try:
                return reader.read(timeout=0.05) is None and reader.connected
            except DeviceError:  # not opened again yet: the next attempt is reconnect_interval_s away
                return False

        wait_until(reconnected, what="the reader to reconnect while waiting for a document")
        assert reader.status().ok is True
        replugged.write(wire(TD2, "\n"))
        assert reader.read(timeout=2) == doc(TD2)
        assert [e.split()[0] for e in reader.events] == ["connected", "disconnected", "frame", "connected"]
    finally:
        reader.close()
        replugged.close()


def test_reader_absent_at_start_is_picked_up_when_plugged_in(link: Path) -> None:
    reader = reader_for(str(link))
    assert reader.connected is False
    assert "does not exist" in reader.status().detail

    def plug() -> None:
        time.sleep(0.2)  # plugged in while the kiosk is already waiting for a document
        peer = PtyPeer(link)
        plugged.append(peer)
        # pyserial flushes input on open: send once the kiosk has the port.
        wait_until(lambda: reader.connected, what="the reader to open the port")
        peer.write(wire(TD3))

    plugged: list[PtyPeer] = []
    threading.Thread(target=plug).start()
    assert reader.read(timeout=10) == doc(TD3)
    reader.close()
    plugged[0].close()


def test_close_wakes_a_waiting_read(link: Path) -> None:
    with PtyPeer(link):
        reader = reader_for(str(link))
        threading.Timer(0.1, reader.close).start()
        with pytest.raises(DeviceError, match="closed"):
            reader.read(timeout=5)
        assert reader.status().to_dict() == {
            "kind": "mrz_reader", "backend": "serial", "ok": False, "detail": "closed"}


def test_negative_timeout_and_malformed_url() -> None:
    with pytest.raises(DeviceError, match="cannot open"):
        reader_for("nosuchscheme://x")
    with pytest.raises(ValueError, match="timeout"):
        SerialMRZReader(MRZSerialSettings(port="loop://")).read(-1)


def test_loop_url_echoes_what_is_written() -> None:
    # pyserial's loop:// is a port with nothing behind it: what goes out comes back in.
    reader = reader_for("loop://")
    reader._port.write(wire(TD1))
    assert reader.read(timeout=1) == doc(TD1)
    reader.close()
