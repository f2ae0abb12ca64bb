"""The uplink wire protocol, schema v1: topics, message kinds and the signed CBOR envelope.

Both ends import this module, so the kiosk and HQ cannot drift apart. Every message, in
either direction, is one CBOR array ``[header, body, signature]``:

- ``header``: ``{"v": 1, "kind": ..., "topic": ..., "sent_at": ISO-8601, "z": bool}``;
  the topic is inside the signed part so a message cannot be replayed to another kiosk;
- ``body``: the CBOR-encoded payload, zstd-compressed when ``z`` is true;
- ``signature``: Ed25519 over ``cbor([header, body])`` by the sender (the kiosk's own key
  for kiosk → HQ, HQ's key for HQ → kiosk).

docs/uplink.md describes every topic and payload.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import zstandard
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from appliance.domain import clock
from appliance.errors import ProtocolError, UplinkError

SCHEMA_VERSION = 1
TOPIC_ROOT = "kiosk/v1"

# Leaf topics under kiosk/v1/{post_id}/{kiosk_id}/ and who publishes them.
KIOSK_TO_HQ = ("status", "health", "alerts", "crossings", "captures")
HQ_TO_KIOSK = ("receipts", "commands", "lists")

# Outbox kinds and the topic each travels on. Alerts (hits, power shutdown notices) jump
# the queue; photos and templates wait until everything else is through.
TOPIC_OF_KIND = {
    "alert": "alerts",
    "power.shutdown": "alerts",
    "crossing": "crossings",
    "crossing_outcome": "crossings",
    "capture": "captures",
}
PRIORITY_OF_KIND = {"alert": 0, "power.shutdown": 0, "crossing": 2, "crossing_outcome": 2, "capture": 3}
# Status and health (priority 1) are never queued: they are sent before any batch.

# Bodies shorter than this are not worth a zstd frame header.
COMPRESS_MIN_BYTES = 256
# A decompression bomb must not take the board's memory.
MAX_BODY_BYTES = 16 * 1024 * 1024


def topic(post_id: str, kiosk_id: str, leaf: str) -> str:
    return f"{TOPIC_ROOT}/{post_id}/{kiosk_id}/{leaf}"


@dataclass(frozen=True)
class TopicParts:
    post_id: str
    kiosk_id: str
    leaf: str


def parse_topic(text: str) -> TopicParts:
    """Split kiosk/v1/{post}/{kiosk}/{leaf}[/...]; raises ProtocolError for anything else."""
    parts = text.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != TOPIC_ROOT or not all(parts[2:5]):
        raise ProtocolError(f"topic {text!r} is not {TOPIC_ROOT}/<post>/<kiosk>/<leaf>")
    leaf = "/".join(parts[4:])
    if parts[4] not in KIOSK_TO_HQ + HQ_TO_KIOSK:
        raise ProtocolError(f"topic {text!r}: unknown leaf {parts[4]!r}")
    return TopicParts(parts[2], parts[3], leaf)


@dataclass(frozen=True)
class Message:
    kind: str
    topic: str
    sent_at: str
    payload: dict[str, Any]
    wire_bytes: int


def seal(key: Ed25519PrivateKey, topic_name: str, kind: str, payload: dict[str, Any],
         compress: bool = True, sent_at: str | None = None) -> bytes:
    """Encode, optionally compress, and sign one message for ``topic_name``."""
    body = cbor2.dumps(payload)
    zipped = compress and len(body) >= COMPRESS_MIN_BYTES
    if zipped:
        body = zstandard.ZstdCompressor(level=9).compress(body)
    header = {"v": SCHEMA_VERSION, "kind": kind, "topic": topic_name,
              "sent_at": sent_at or clock.iso(clock.utcnow()), "z": zipped}
    signature = key.sign(cbor2.dumps([header, body]))
    return cbor2.dumps([header, body, signature])


def open_message(data: bytes, topic_name: str, public_key: Ed25519PublicKey) -> Message:
    """Check and decode one message received on ``topic_name``.

    Raises ProtocolError if it is not a v1 envelope, was signed for another topic, its
    signature does not verify with ``public_key``, or its body does not decode to a map.
    """
    header, body, signature = _envelope(data)
    if header.get("topic") != topic_name:
        raise ProtocolError(f"message was signed for topic {header.get('topic')!r}, received on {topic_name!r}")
    try:
        public_key.verify(signature, cbor2.dumps([header, body]))
    except InvalidSignature:
        raise ProtocolError(f"bad signature on a {header.get('kind')!r} message on {topic_name!r}") from None
    if header.get("z"):
        try:
            # max_output_size only bounds frames that do not declare their size; a declared
            # size must be checked first (and zstd verifies it against the real output).
            declared = zstandard.frame_content_size(body)
            if declared > MAX_BODY_BYTES:
                raise ProtocolError(f"body would decompress to {declared} bytes, more than {MAX_BODY_BYTES}")
            body = zstandard.ZstdDecompressor().decompress(body, max_output_size=MAX_BODY_BYTES)
        except zstandard.ZstdError as exc:
            raise ProtocolError(f"body does not decompress: {exc}") from None
    try:
        payload = cbor2.loads(body)
    except Exception as exc:  # cbor2 raises several types for garbage
        raise ProtocolError(f"body is not CBOR: {exc}") from None
    if not isinstance(payload, dict):
        raise ProtocolError(f"body is a {type(payload).__name__}, not a map")
    return Message(kind=header["kind"], topic=topic_name, sent_at=str(header.get("sent_at", "")),
                   payload=payload, wire_bytes=len(data))


def _envelope(data: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ProtocolError("empty message")
    if len(data) > MAX_BODY_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes is larger than {MAX_BODY_BYTES}")
    try:
        envelope = cbor2.loads(data)
    except Exception as exc:
        raise ProtocolError(f"not a CBOR envelope: {exc}") from None
    if not (isinstance(envelope, list) and len(envelope) == 3):
        raise ProtocolError("not an envelope [header, body, signature] (unsigned or foreign message?)")
    header, body, signature = envelope
    if not isinstance(header, dict) or not isinstance(body, bytes) or not isinstance(signature, bytes):
        raise ProtocolError("envelope parts have the wrong types")
    if header.get("v") != SCHEMA_VERSION:
        raise ProtocolError(f"schema version {header.get('v')!r} is not {SCHEMA_VERSION}")
    if not isinstance(header.get("kind"), str):
        raise ProtocolError("header has no kind")
    return header, body, signature


# --- keys -------------------------------------------------------------------------------

def generate_key_file(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, mode 0600) to ``path``; returns its public key.

    Refuses to overwrite: replacing a kiosk's or HQ's key silently would cut it off from
    the other end.
    """
    key = Ed25519PrivateKey.generate()
    write_key_file(path, key)
    return public_key_text(key.public_key())


def write_key_file(path: Path, key: Any) -> None:
    """Write a private key as PEM (PKCS#8), mode 0600, fsynced; raises UplinkError if ``path`` exists."""
    if path.exists():
        raise UplinkError(f"{path} already exists; remove it first if the key really must be replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())


def read_key_file(path: Path, kind: type, what: str, make: str) -> Any:
    """The PEM private key of type ``kind`` at ``path``; raises UplinkError naming the file (and the
    command ``make`` that creates it) if it is missing, unreadable or of another type."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise UplinkError(f"{what} {path} does not exist (create it with `{make}`)") from None
    except (OSError, ValueError, TypeError) as exc:
        raise UplinkError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(key, kind):
        raise UplinkError(f"{what} {path} is not an {kind.__name__.removesuffix('PrivateKey')} key")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Raises UplinkError naming the file if it is missing or not an Ed25519 PEM key."""
    key: Ed25519PrivateKey = read_key_file(path, Ed25519PrivateKey, "signing key", "keygen")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64: short enough for a config line."""
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """Raises ProtocolError if ``text`` is not a base64 32-byte Ed25519 public key."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"not an Ed25519 public key in base64: {exc}") from None
