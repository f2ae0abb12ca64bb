"""The list bundle format, shared by HQ (which signs) and the kiosk (which verifies).

A bundle is one byte string, so it travels the same way on a USB stick or over MQTT::

    b"KIOSK-LIST-BUNDLE/1\\n"
    header length      4 bytes, big endian
    header             UTF-8 JSON (below)
    payload            zstd-compressed NDJSON, one record per line
    signature          64 bytes: Ed25519 over everything before it

Header fields: ``format`` (1), ``list``, ``kind`` (persons | documents), ``type``
(full | delta), ``version``, ``base_version`` (the version a delta applies to; null
for a full bundle), ``published_at`` (HQ's UTC time, ISO), ``key_id`` (first 16 hex
digits of SHA-256 of the signing public key), ``records``, ``payload`` {``size``,
``sha256``} of the compressed payload, and ``content_sha256`` of the uncompressed NDJSON.
Optional, persons bundles only: ``face_model``, the hex SHA-256 (64 lowercase digits) of the
embedder ``.tflite`` file that produced the records' ``face`` vectors; absent, the faces are
of unknown model (bundles from before the field existed).

Records are the CSV interchange columns as JSON strings (``aliases`` written as in the
CSV). Persons records may carry ``face``: a list of floats (an embedding). Delta records
carry ``op``: ``add`` (a persons ``add`` replaces the entry with that id) or ``remove``
(persons: by ``id``; documents: by ``issuing_state`` and ``document_number``, and only
that ``document_type`` when one is given).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import zstandard
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from appliance.errors import BundleError

MAGIC = b"KIOSK-LIST-BUNDLE/1\n"
FORMAT = 1
SIGNATURE_SIZE = 64
MAX_HEADER = 64 * 1024
MAX_CONTENT = 64 * 1024 ** 3  # decompression bound: SLTD scale, not a zstd bomb without end
KINDS = ("persons", "documents")
TYPES = ("full", "delta")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def short_model(face_model: str | None) -> str:
    """A face model id as shown to people: its first 12 hex digits, or "unknown"."""
    return face_model[:12] if face_model else "unknown"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(data: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; raises BundleError naming ``source``."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BundleError(f"{source} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{source} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class Bundle:
    """A bundle whose structure, signature and hashes were checked; records decoded on demand."""

    header: dict[str, Any]
    payload: bytes
    sha256: str  # of the whole bundle

    @property
    def list(self) -> str:
        return self.header["list"]

    @property
    def kind(self) -> str:
        return self.header["kind"]

    @property
    def type(self) -> str:
        return self.header["type"]

    @property
    def version(self) -> str:
        return self.header["version"]

    @property
    def base_version(self) -> str | None:
        return self.header["base_version"]

    @property
    def face_model(self) -> str | None:
        """SHA-256 of the embedder that made the ``face`` vectors; None: unknown (field absent)."""
        return self.header.get("face_model")

    def records(self) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        """(line number, record or None, raw line) of each payload line, streamed.

        The content hash is checked when the last line has been read: a consumer must read
        to the end (and raises BundleError there if the content does not match the header).
        """
        content = hashlib.sha256()
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(self.payload)
            for number, raw in enumerate(_lines(reader, content), start=1):
                try:
                    record = json.loads(raw)
                except ValueError:
                    yield number, None, raw[:80]
                    continue
                yield number, record if isinstance(record, dict) else None, raw[:80]
        except zstandard.ZstdError as exc:
            raise BundleError(f"bundle payload is not valid zstd data: {exc}") from None
        if content.hexdigest() != self.header.get("content_sha256"):
            raise BundleError("bundle content hash does not match its header")


def _lines(reader: Any, content: Any) -> Iterator[str]:
    pending = b""
    total = 0
    while True:
        chunk = reader.read(1 << 20)
        if not chunk:
            break
        content.update(chunk)
        total += len(chunk)
        if total > MAX_CONTENT:
            raise BundleError(f"bundle payload expands beyond {MAX_CONTENT} bytes")
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line.decode("utf-8", errors="replace")
    if pending.strip():
        yield pending.decode("utf-8", errors="replace")


def encode(header: dict[str, Any], records: Iterable[dict[str, Any]], private_key: Ed25519PrivateKey) -> bytes:
    """Sign and serialise a bundle (HQ side); fills in ``records``, ``payload``, ``content_sha256``, ``key_id``."""
    content = hashlib.sha256()
    compressor = zstandard.ZstdCompressor(level=9)
    chunks = []
    writer = compressor.compressobj()
    count = 0
    for record in records:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        content.update(line)
        chunks.append(writer.compress(line))
        count += 1
    chunks.append(writer.flush())
    payload = b"".join(chunks)
    header = {**header, "format": FORMAT, "records": count, "content_sha256": content.hexdigest(),
              "payload": {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()},
              "key_id": key_id(private_key.public_key())}
    header_bytes = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
    body = MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes + payload
    return body + private_key.sign(body)


def decode(data: bytes, trusted: Ed25519PublicKey) -> Bundle:
    """Check a bundle's structure, signature and hashes (in that order); raises BundleError saying which failed."""
    if not data.startswith(MAGIC):
        raise BundleError("not a list bundle (it does not start with KIOSK-LIST-BUNDLE/1)")
    fixed = len(MAGIC) + 4
    if len(data) < fixed + SIGNATURE_SIZE:
        raise BundleError(f"bundle is truncated: {len(data)} bytes, too short to hold a header and a signature")
    (header_size,) = struct.unpack(">I", data[len(MAGIC):fixed])
    if header_size > MAX_HEADER:
        raise BundleError(f"bundle header claims {header_size} bytes (at most {MAX_HEADER}): damaged bundle")
    if len(data) < fixed + header_size + SIGNATURE_SIZE:
        raise BundleError(f"bundle is truncated: {len(data)} bytes, the header alone needs "
                          f"{fixed + header_size + SIGNATURE_SIZE}")
    try:
        header = json.loads(data[fixed:fixed + header_size].decode("utf-8"))
        payload_size = int(header["payload"]["size"])
    except (ValueError, KeyError, TypeError):
        raise BundleError("bundle header is not readable (damaged bundle)") from None
    expected = fixed + header_size + payload_size + SIGNATURE_SIZE
    if len(data) < expected:
        raise BundleError(f"bundle is truncated: {len(data)} bytes of {expected}")
    if len(data) > expected:
        raise BundleError(f"bundle has {len(data) - expected} bytes after its signature (damaged or two bundles)")
    body, signature = data[:-SIGNATURE_SIZE], data[-SIGNATURE_SIZE:]
    try:
        trusted.verify(signature, body)
    except InvalidSignature:
        signer = header.get("key_id") if isinstance(header, dict) else None
        mine = key_id(trusted)
        if signer and signer != mine:
            raise BundleError(f"bundle signed by key {signer}, this kiosk trusts key {mine}") from None
        raise BundleError("bundle signature does not verify with HQ's key (altered or damaged bundle)") from None
    payload = body[fixed + header_size:]
    if hashlib.sha256(payload).hexdigest() != header["payload"].get("sha256"):
        raise BundleError("bundle payload hash does not match its header")
    check_header(header)
    return Bundle(header=header, payload=payload, sha256=hashlib.sha256(data).hexdigest())


def check_header(header: dict[str, Any]) -> None:
    problems = []
    if header.get("format") != FORMAT:
        problems.append(f"format {header.get('format')!r} is not {FORMAT}")
    if not isinstance(header.get("list"), str) or not _NAME.match(header["list"]):
        problems.append(f"list name {header.get('list')!r} is not acceptable")
    if header.get("kind") not in KINDS:
        problems.append(f"kind {header.get('kind')!r} is not persons or documents")
    if header.get("type") not in TYPES:
        problems.append(f"type {header.get('type')!r} is not full or delta")
    if not isinstance(header.get("version"), str) or not _VERSION.match(header["version"]):
        problems.append(f"version {header.get('version')!r} is not acceptable")
    base = header.get("base_version")
    if header.get("type") == "delta" and (not isinstance(base, str) or not _VERSION.match(base)):
        problems.append("a delta bundle needs its base_version")
    if header.get("type") == "full" and base is not None:
        problems.append("a full bundle has no base_version")
    if not isinstance(header.get("published_at"), str) or not _TIME.match(header["published_at"]):
        problems.append(f"published_at {header.get('published_at')!r} is not a UTC time like 2026-11-23T19:03:00.000000Z")
    if "face_model" in header:
        face_model = header["face_model"]
        if not isinstance(face_model, str) or not _SHA256.match(face_model):
            problems.append(f"face_model {face_model!r} is not the SHA-256 of a model file (64 lowercase hex digits)")
        elif header.get("kind") == "documents":
            problems.append("a documents bundle has no face_model (documents carry no faces)")
    if problems:
        raise BundleError("bundle header refused: " + "; ".join(problems))
