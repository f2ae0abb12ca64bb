"""One harness per decoder of outside input: bytes in, and only the project's own error out.

Each harness feeds one input to a decoder the way the kiosk does, and lets through only
the error that decoder documents (a ``KioskError`` subclass: a clear message, nothing
stored). Anything else escaping is a crash the fuzzer reports. A harness also checks what
the decoder returns, where there is something to check, so a wrong answer is a crash too.

Where a signature stands in front of the interesting part (the CBOR envelope, list
bundles), half the inputs are signed by the harness with a key it trusts, so the fuzzer
reaches the body decoders instead of stopping at a bad signature every time.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
from datetime import date
from pathlib import Path
from typing import Callable

import cbor2
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.config import UplinkSection
from appliance.domain import mrz
from appliance.errors import BundleError, FrameError, ImportFileError, MRZError, ProtocolError
from appliance.hw import r30x_protocol
from appliance.hw.mrz_framing import LINES_FOR_LENGTH, MRZAssembler
from appliance.lists import apply, bundle, csv_format
from appliance.storage.store import Store
from appliance.uplink import protocol
from appliance.uplink.sender import Sender
from hq.db import HQDatabase
from hq.ingest import _checked_items

TODAY = date(2026, 12, 1)
# Fixed keys: a fuzzer's run is reproducible from its input alone.
_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_PUBLIC = _KEY.public_key()
TOPIC = protocol.topic("POST-F", "K1", "crossings")


def _chunks(data: bytes, sizes: bytes) -> list[bytes]:
    """``data`` cut into pieces whose lengths the input chooses (as a UART delivers it)."""
    pieces, start = [], 0
    for size in sizes or b"\x40":
        if start >= len(data):
            break
        pieces.append(data[start:start + 1 + size % 64])
        start += 1 + size % 64
    if start < len(data):
        pieces.append(data[start:])
    return pieces


def mrz_parse(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        result = mrz.parse(text, today=TODAY)
    except MRZError:
        return
    assert result.format in mrz.FORMATS
    assert set(result.failed_checks) <= set(mrz.CHECKS)
    assert result.valid == (not result.failed_checks)
    result.to_dict()


def mrz_framing(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, sizes_len = data[0], data[1] % 16
    sizes, stream = data[2:2 + sizes_len], data[2 + sizes_len:]
    line_end = ("any", "cr", "lf", "crlf")[mode % 4]
    framed = mode & 4
    assembler = MRZAssembler(line_end, 0x02 if framed else None, 0x03 if framed else None)
    results = []
    for piece in _chunks(stream, sizes):
        results += assembler.feed(piece)
    results += assembler.flush()
    for result in results:
        if isinstance(result, FrameError):
            assert str(result)
            continue
        assert isinstance(result, str), result
        lines = result.split("\n")
        assert LINES_FOR_LENGTH[len(lines[0])] == len(lines) and len({len(line) for line in lines}) == 1, result


def r30x_packets(data: bytes) -> None:
    if not data:
        return
    sizes_len = data[0] % 16
    parser = r30x_protocol.PacketParser()
    out: list[object] = []
    for piece in _chunks(data[1 + sizes_len:], data[1:1 + sizes_len]):
        out += parser.feed(piece)
    for item in out:
        if isinstance(item, r30x_protocol.Packet):
            # A packet the parser accepted is one the encoder would write the same way.
            assert item.pid in r30x_protocol.PACKET_IDS
            assert r30x_protocol.encode(item.pid, item.payload, item.address)
            try:
                item.confirmation
            except FrameError:
                pass
        else:
            assert isinstance(item, (FrameError, r30x_protocol.Noise)), item
            str(item)


def _signed_envelope(header_bytes: bytes, body: bytes) -> bytes:
    try:
        header = cbor2.loads(header_bytes) if header_bytes else {}
    except Exception:
        header = {}
    if not isinstance(header, dict):
        header = {"value": header}
    header = {"v": 1, "kind": "batch", "topic": TOPIC, "sent_at": "2026-12-01T00:00:00.000000Z",
              **{k: v for k, v in header.items() if isinstance(k, str) and k != "topic"}}
    try:
        signed = cbor2.dumps([header, body])
    except Exception:
        return b""
    return cbor2.dumps([header, body, _KEY.sign(signed)])


def cbor_envelope(data: bytes) -> None:
    if not data:
        return
    if data[0] & 1:
        # Signed by the trusted key: the header's fields and the body are the fuzzer's.
        split = data[1] if len(data) > 1 else 0
        message = _signed_envelope(data[2:2 + split], data[2 + split:])
    else:
        message = data[1:]
    try:
        received = protocol.open_message(message, TOPIC, _PUBLIC)
    except ProtocolError:
        return
    assert isinstance(received.payload, dict)
    # What the kiosk does with a receipt: checked, then the rows it names deleted.
    try:
        _sender().on_receipt(dict(received.payload))
    except ProtocolError:
        pass
    # What HQ does with a batch: every item checked, then stored in one transaction. A checked
    # batch must store: a failing insert would leave it unreceipted, sent again for ever.
    try:
        items = _checked_items(dict(received.payload))
    except ProtocolError:
        return
    assert all(isinstance(item["data"], dict) and isinstance(item["text"], str) for item in items)
    _hq().store_items("POST-F", "K1", items)


_STATE: dict[str, object] = {}


def _hq() -> HQDatabase:
    if "hq" not in _STATE:
        _STATE["hq"] = HQDatabase(":memory:")
    return _STATE["hq"]  # type: ignore[return-value]


def _sender() -> Sender:
    """A kiosk's sender over a throw-away store (created once per fuzzing process)."""
    if "sender" not in _STATE:
        store = Store(Path(tempfile.mkdtemp(prefix="fuzz-kiosk-")) / "kiosk.sqlite3")
        _STATE["sender"] = Sender(store, UplinkSection(), lambda *_args: False)
    return _STATE["sender"]  # type: ignore[return-value]


def _signed_bundle(header: dict, plain: bytes) -> bytes:
    """A bundle HQ could have signed: the fuzzer's header fields and NDJSON, compressed and hashed right."""
    payload = zstandard.ZstdCompressor().compress(plain)
    header = {**header, "payload": {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()},
              "content_sha256": header.get("content_sha256", hashlib.sha256(plain).hexdigest())}
    try:
        header_text = json.dumps(header).encode()
    except (TypeError, ValueError):
        return b""
    body = bundle.MAGIC + struct.pack(">I", len(header_text)) + header_text + payload
    return body + _KEY.sign(body)


def _records(decoded: bundle.Bundle) -> None:
    """What applying does with each record before anything is built (appliance/lists/apply.py)."""
    for _number, record, raw in decoded.records():
        assert isinstance(raw, str)
        if record is None:
            continue
        assert isinstance(record, dict)
        _entry, problems = csv_format.check_record(decoded.kind, record, extra=("op", "face"))
        assert all(isinstance(problem, str) for problem in problems)
        if record.get("face") is not None:
            vector, problem = apply._face(record["face"], None)
            assert (vector is None) != (problem is None)


def list_bundle(data: bytes) -> None:
    if not data:
        return
    if data[0] & 1:
        # Signed by the trusted key around the fuzzer's header (JSON) and records (NDJSON).
        split = int.from_bytes(data[1:3], "big") % max(1, len(data)) if len(data) > 2 else 0
        try:
            header = json.loads(data[3:3 + split])
        except ValueError:
            return
        if not isinstance(header, dict):
            return
        message = _signed_bundle(header, data[3 + split:])
    else:
        message = data[1:]
    try:
        _records(bundle.decode(message, _PUBLIC))
    except BundleError:
        return


def csv_list(data: bytes) -> None:
    if not data:
        return
    kind = ("persons", "documents")[data[0] & 1]
    try:
        parsed = csv_format.parse(kind, data[1:], "fuzz.csv")
    except ImportFileError as exc:
        assert str(exc)
        return
    # Every entry came from a data line: never more entries than lines after the header.
    assert len(parsed.entries) <= max(0, data[1:].count(b"\n") + data[1:].count(b"\r")), parsed.entries


TARGETS: dict[str, Callable[[bytes], None]] = {
    "mrz": mrz_parse,
    "mrz-framing": mrz_framing,
    "r30x": r30x_packets,
    "envelope": cbor_envelope,
    "bundle": list_bundle,
    "csv": csv_list,
}
