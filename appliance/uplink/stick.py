"""Crossings by USB stick: the export file a kiosk writes and the receipt file HQ writes back.

Both ends import this module, as they do protocol.py, so the file formats cannot drift.
docs/uplink.md ("Crossings by USB stick") describes both files.

Export file (``kiosk-export-<post>-<kiosk>-<seq>.kexp``): ``EXPORT_MAGIC`` then one CBOR array
``[header, ciphertext, signature]``:

- ``header``: ``{"v": 1, "kind": "stick_export", "post_id", "kiosk_id", "export_id", "export_seq",
  "created_at", "items", "captures", "epk", "nonce"}`` in clear, so HQ can find the kiosk's
  enrolled key before anything else;
- ``ciphertext``: ChaCha20-Poly1305 of ``zstd(cbor(payload))`` with the header as associated
  data, under a key derived (HKDF-SHA256) from X25519 between a fresh ephemeral key (``epk``)
  and HQ's stick key: a sealed box only HQ opens, so a lost stick shows no traveller;
- ``signature``: Ed25519 over ``cbor([header, ciphertext])`` by the kiosk's signing key (the
  one that signs its MQTT messages);
- ``payload``: ``{"batch": export_id, "items": [...], "captures": [...]}``: ``items`` exactly as
  in an uplink batch (``{"seq", "kind", "id", "created_at", "data"}``, data the stored JSON
  text), ``captures`` as uplink capture chunks holding the whole capture (offset 0).

Receipt file (``.receipt``): ``RECEIPT_MAGIC`` then a protocol envelope sealed by HQ's signing
key for the kiosk's own ``receipts`` topic, kind ``stick_receipt``, payload ``{"batch":
export_id, "export_seq", "items": [[seq, id], ...], "progress": [], "at"}``: an MQTT receipt in
a file, checked by the same signature and topic rule.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cbor2
import zstandard
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.domain import clock
from appliance.errors import ProtocolError
from appliance.uplink import protocol

EXPORT_MAGIC = b"KIOSK-EXPORT v1\n"
RECEIPT_MAGIC = b"KIOSK-RECEIPT v1\n"
EXPORT_SUFFIX = ".kexp"
RECEIPT_SUFFIX = ".receipt"
# A stick export is read whole into memory on HQ and written whole on the board: bounded
# so a hostile file cannot take either machine's memory (photos beyond the export's own
# photo budget wait for the next stick or the uplink).
MAX_EXPORT_BYTES = 768 * 1024 * 1024
HKDF_INFO = b"kiosk stick export v1"
HEADER_TYPES: dict[str, type | tuple[type, ...]] = {
    "v": int, "kind": str, "post_id": str, "kiosk_id": str, "export_id": str, "export_seq": int,
    "created_at": str, "items": int, "captures": int, "epk": bytes, "nonce": bytes,
}


def export_name(post_id: str, kiosk_id: str, export_seq: int) -> str:
    return f"kiosk-export-{post_id}-{kiosk_id}-{export_seq:06d}{EXPORT_SUFFIX}"


def receipt_path(export_file: Path) -> Path:
    """Where HQ writes the receipt of an export by default: beside it, same stem."""
    return export_file.with_suffix(RECEIPT_SUFFIX)


# --- export ---------------------------------------------------------------------------

def seal_export(signing_key: Ed25519PrivateKey, hq_stick_key: X25519PublicKey, *, post_id: str, kiosk_id: str,
                export_id: str, export_seq: int, payload: dict[str, Any]) -> bytes:
    """The bytes of one export file: encrypted for ``hq_stick_key``, signed by ``signing_key``."""
    ephemeral = X25519PrivateKey.generate()
    epk = _raw(ephemeral.public_key())
    nonce = os.urandom(12)
    header = {"v": protocol.SCHEMA_VERSION, "kind": "stick_export", "post_id": post_id, "kiosk_id": kiosk_id,
              "export_id": export_id, "export_seq": export_seq, "created_at": clock.iso(clock.utcnow()),
              "items": len(payload.get("items", [])), "captures": len(payload.get("captures", [])),
              "epk": epk, "nonce": nonce}
    key = _derive(ephemeral.exchange(hq_stick_key), epk, _raw(hq_stick_key))
    plain = zstandard.ZstdCompressor(level=3).compress(cbor2.dumps(payload))
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, plain, cbor2.dumps(header))
    signature = signing_key.sign(cbor2.dumps([header, ciphertext]))
    return EXPORT_MAGIC + cbor2.dumps([header, ciphertext, signature])


@dataclass(frozen=True)
class Export:
    header: dict[str, Any]
    payload: dict[str, Any]

    @property
    def post_id(self) -> str:
        return str(self.header["post_id"])

    @property
    def kiosk_id(self) -> str:
        return str(self.header["kiosk_id"])


def open_export(data: bytes, kiosk_key: Callable[[str, str], Ed25519PublicKey],
                hq_stick_key: X25519PrivateKey) -> Export:
    """Check and decrypt one export file.

    ``kiosk_key(post_id, kiosk_id)`` returns the kiosk's enrolled public key (raising
    ProtocolError when it is not enrolled). Raises ProtocolError saying what is wrong: not
    an export file, truncated, not signed by that kiosk, encrypted for another HQ key, or
    a payload that does not decode.
    """
    header, ciphertext, signature = _parts(data, EXPORT_MAGIC, "export")
    for name, kind in HEADER_TYPES.items():
        if not isinstance(header.get(name), kind):
            raise ProtocolError(f"export header field {name!r} is missing or not {_type_name(kind)}")
    if header["kind"] != "stick_export":
        raise ProtocolError(f"file is a {header['kind']!r}, not a stick export")
    if not isinstance(ciphertext, bytes):
        raise ProtocolError("export body is not bytes")
    who = f"{header['post_id']}/{header['kiosk_id']}"
    try:
        kiosk_key(header["post_id"], header["kiosk_id"]).verify(signature, cbor2.dumps([header, ciphertext]))
    except InvalidSignature:
        raise ProtocolError(f"bad signature: the export is not signed by the key enrolled for kiosk {who} "
                            "(altered, or written by another kiosk)") from None
    try:
        peer = X25519PublicKey.from_public_bytes(header["epk"])
        key = _derive(hq_stick_key.exchange(peer), header["epk"], _raw(hq_stick_key.public_key()))
        plain = ChaCha20Poly1305(key).decrypt(header["nonce"], ciphertext, cbor2.dumps(header))
    except (InvalidTag, ValueError):
        raise ProtocolError(f"export from {who} does not decrypt with this HQ's stick key "
                            "(encrypted for another HQ, or uplink.hq_stick_key on the kiosk is wrong)") from None
    try:
        declared = zstandard.frame_content_size(plain)
        if declared > MAX_EXPORT_BYTES:
            raise ProtocolError(f"export would decompress to {declared} bytes, more than {MAX_EXPORT_BYTES}")
        payload = cbor2.loads(zstandard.ZstdDecompressor().decompress(plain, max_output_size=MAX_EXPORT_BYTES))
    except ProtocolError:
        raise
    except Exception as exc:  # zstd and cbor2 raise several types for garbage
        raise ProtocolError(f"export payload does not decode: {exc}") from None
    if not (isinstance(payload, dict) and isinstance(payload.get("items"), list)
            and isinstance(payload.get("captures"), list)):
        raise ProtocolError("export payload is not {items, captures}")
    if len(payload["items"]) != header["items"] or len(payload["captures"]) != header["captures"]:
        raise ProtocolError("export payload does not hold the counts its header declares")
    if payload.get("batch") != header["export_id"]:
        raise ProtocolError("export payload belongs to another export id")
    return Export(header, payload)


# --- receipt --------------------------------------------------------------------------

def seal_receipt(hq_key: Ed25519PrivateKey, post_id: str, kiosk_id: str, payload: dict[str, Any]) -> bytes:
    """A receipt file for one kiosk, signed by HQ for that kiosk's own receipts topic."""
    topic = protocol.topic(post_id, kiosk_id, "receipts")
    return RECEIPT_MAGIC + protocol.seal(hq_key, topic, "stick_receipt", payload)


def open_receipt(data: bytes, post_id: str, kiosk_id: str, hq_key: Ed25519PublicKey) -> dict[str, Any]:
    """The payload of a receipt file meant for this kiosk and signed by HQ.

    Raises ProtocolError for a file that is not a receipt, is truncated, is another
    kiosk's (names both), or is not signed by HQ.
    """
    header, _body, _signature = _parts(data, RECEIPT_MAGIC, "receipt")
    mine = protocol.topic(post_id, kiosk_id, "receipts")
    if header.get("topic") != mine:
        raise ProtocolError(f"receipt is for {header.get('topic')!r}, not this kiosk ({post_id}/{kiosk_id})")
    try:
        message = protocol.open_message(data[len(RECEIPT_MAGIC):], mine, hq_key)
    except ProtocolError as exc:
        raise ProtocolError(f"receipt refused: {exc} (not signed by this kiosk's HQ?)") from None
    if message.kind != "stick_receipt":
        raise ProtocolError(f"file is a {message.kind!r} message, not a stick receipt")
    payload = message.payload
    if not isinstance(payload.get("batch"), str) or not isinstance(payload.get("export_seq"), int):
        raise ProtocolError("receipt does not name its export (batch, export_seq)")
    return payload


# --- keys -----------------------------------------------------------------------------

def commit_file(partial: Path, target: Path) -> None:
    """Give a written and fsynced ``partial`` its name for good: the rename, then the renamed file and
    its folder fsynced. Until then a power cut or a pulled stick leaves at most a ``.part``. On FAT
    the rename makes a new folder entry with no size and no first cluster, filled in only when the
    file's inode is next written: without the second fsync of the file, a power cut left the export
    under its name with 0 bytes (the booted image's stick test). Raises OSError."""
    os.replace(partial, target)
    for path, flags in ((target, os.O_RDONLY), (target.parent, os.O_RDONLY | os.O_DIRECTORY)):
        handle = os.open(path, flags)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def generate_key_file(path: Path) -> str:
    """Write HQ's X25519 stick key (PEM, mode 0600) to ``path``; returns its public key in base64.

    Refuses to overwrite: exports already on their way would no longer open.
    """
    key = X25519PrivateKey.generate()
    protocol.write_key_file(path, key)
    return base64.b64encode(_raw(key.public_key())).decode()


def load_private_key(path: Path) -> X25519PrivateKey:
    """Raises UplinkError naming the file if it is missing or not an X25519 PEM key."""
    key: X25519PrivateKey = protocol.read_key_file(path, X25519PrivateKey, "stick key", "kiosk-hq keygen --stick")
    return key


def load_public_key(text: str) -> X25519PublicKey:
    """Raises ProtocolError if ``text`` is not a base64 32-byte X25519 public key."""
    try:
        return X25519PublicKey.from_public_bytes(base64.b64decode(text.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"not an X25519 public key in base64: {exc}") from None


# --- plumbing -------------------------------------------------------------------------

def _parts(data: bytes, magic: bytes, what: str) -> tuple[dict[str, Any], Any, bytes]:
    if not data.startswith(magic):
        if len(data) < len(magic) and magic.startswith(data):
            raise ProtocolError(f"{what} file is truncated ({len(data)} bytes)")
        raise ProtocolError(f"not a kiosk {what} file (it does not start with {magic.strip().decode()!r})")
    if len(data) > MAX_EXPORT_BYTES:
        raise ProtocolError(f"{what} file of {len(data)} bytes is larger than {MAX_EXPORT_BYTES}")
    try:
        envelope = cbor2.loads(data[len(magic):])
    except cbor2.CBORDecodeEOF:
        raise ProtocolError(f"{what} file is truncated ({len(data)} bytes): copy it again from the stick") from None
    except Exception as exc:
        raise ProtocolError(f"{what} file is damaged: {exc}") from None
    if not (isinstance(envelope, list) and len(envelope) == 3 and isinstance(envelope[0], dict)
            and isinstance(envelope[2], bytes)):
        raise ProtocolError(f"{what} file is not [header, body, signature]")
    if envelope[0].get("v") != protocol.SCHEMA_VERSION:
        raise ProtocolError(f"{what} file has schema version {envelope[0].get('v')!r}, not {protocol.SCHEMA_VERSION}")
    return envelope[0], envelope[1], envelope[2]


def _derive(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + recipient, info=HKDF_INFO).derive(shared)


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _type_name(kind: type | tuple[type, ...]) -> str:
    return kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
