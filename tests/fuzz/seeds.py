"""Valid inputs of each harness's kind: where the fuzzer starts mutating from."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Callable

import cbor2
import zstandard

from appliance.hw import r30x_protocol
from appliance.lists import bundle
from appliance.uplink import protocol
from tests.fuzz.targets import _KEY, TOPIC

_DEMO = resources.files("appliance").joinpath("demo_data")


def _specimens() -> list[str]:
    return [block.strip() for block in _DEMO.joinpath("specimens.mrz").read_text().split("\n\n") if block.strip()]


def mrz() -> list[bytes]:
    return [text.encode() for text in _specimens()]


def mrz_framing() -> list[bytes]:
    out = []
    for text in _specimens()[:3]:
        lines = text.encode().split(b"\n")
        out.append(b"\x00\x00" + b"".join(line + b"\r\n" for line in lines))
        out.append(b"\x04\x02\x07\x11" + b"\x02" + b"\r".join(lines) + b"\r\x03")
    return out


def r30x() -> list[bytes]:
    ack = r30x_protocol.encode(r30x_protocol.PID_ACK, b"\x00" + bytes(range(16)))
    data = r30x_protocol.encode(r30x_protocol.PID_DATA, bytes(range(128)))
    end = r30x_protocol.encode(r30x_protocol.PID_END, bytes(64))
    return [b"\x00" + ack, b"\x02\x05\x09" + b"noise" + ack + data + end]


def _batch() -> dict:
    record = json.dumps({"id": "c1", "seq": 1, "surname": "OKAFOR"}, sort_keys=True)
    return {"batch": "b1", "items": [{"seq": 1, "kind": "crossing", "id": "c1", "created_at":
                                      "2026-12-01T00:00:00.000000Z", "data": record}] * 3}


def envelope() -> list[bytes]:
    sealed = protocol.seal(_KEY, TOPIC, "batch", _batch(), compress=True)
    header = cbor2.dumps({"z": True})
    zipped = zstandard.ZstdCompressor().compress(cbor2.dumps(_batch()))
    receipt = cbor2.dumps({"batch": "b1", "items": [[1, "c1"], [2, "c2"]], "progress": [[3, "p1", 4096]],
                           "at": "2026-12-01T00:00:00.000000Z"})
    return [b"\x00" + sealed, bytes([1, len(header)]) + header + zipped,
            bytes([1, 0]) + cbor2.dumps(_batch()), bytes([1, 0]) + receipt]


def _bundle_header() -> dict:
    return {"list": "persons", "kind": "persons", "type": "full", "version": "v1", "base_version": None,
            "published_at": "2026-11-23T19:03:00.000000Z"}


def list_bundle() -> list[bytes]:
    records = [{"id": "P-1", "surname": "DOE", "given_names": "JOHN", "aliases": "", "birth_date": "1980-01-01",
                "sex": "M", "nationality": "UTO", "document_issuer": "", "document_number": "",
                "reason": "demo", "face": [0.5, -0.25, 0.125, 1.0]},
               {"op": "remove", "id": "P-2"}]
    whole = bundle.encode(_bundle_header(), records, _KEY)
    plain = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    header = {**_bundle_header(), "format": 1, "records": 2, "key_id": bundle.key_id(_KEY.public_key()),
              "face_model": "0" * 64}
    delta = {**header, "type": "delta", "base_version": "v0"}
    out = [b"\x00" + whole]
    for head in (header, delta):
        text = json.dumps(head).encode()
        out.append(b"\x01" + len(text).to_bytes(2, "big") + text + plain)
    return out


def csv() -> list[bytes]:
    return [b"\x00" + _DEMO.joinpath("persons.csv").read_bytes(), b"\x01" + _DEMO.joinpath("documents.csv").read_bytes()]


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "mrz": mrz, "mrz-framing": mrz_framing, "r30x": r30x, "envelope": envelope, "bundle": list_bundle, "csv": csv,
}


def write(name: str, corpus: Path) -> None:
    """Add the seeds of ``name`` to a corpus directory (named by content, so repeats are free)."""
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS[name]():
        (corpus / f"seed-{hashlib.sha1(seed).hexdigest()}").write_bytes(seed)
