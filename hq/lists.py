"""HQ's list publisher: signed full and delta list bundles from HQ's exports, and the signing key.

Exports are the kiosk's CSV interchange format (``appliance.lists.csv_format``) or NDJSON with
the same fields (persons may add ``face``: an embedding as a list of numbers). Every
record is validated with the kiosk's own rules before anything is signed, so a bundle
HQ publishes is never refused for its records. A delta is computed from the previous
export (the one the kiosks hold) and the new one.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.domain import clock
from appliance.errors import BundleError, ImportFileError, InferenceError
from appliance.inference import litert
from appliance.lists import bundle as bundle_format
from appliance.lists.csv_format import COLUMNS, check_entry, parse

ENV_KEY_FILE = "KIOSK_HQ_LIST_KEY"


# -- Keys -----------------------------------------------------------------------------------

def keygen(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair (private PEM, mode 0600; public PEM for the kiosks' config).

    Refuses to overwrite either file (a lost signing key means re-keying every kiosk).
    Returns the key id. Raises BundleError naming the file that exists or cannot be written.
    """
    for path in (private_path, public_path):
        if path.exists():
            raise BundleError(f"{path} already exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
        public_path.write_bytes(public)
    except OSError as exc:
        raise BundleError(f"cannot write the key: {exc}") from None
    return bundle_format.key_id(key.public_key())


def load_private_key(path: str | os.PathLike[str] | None) -> Ed25519PrivateKey:
    """The signing key from ``path`` (or the file named by $KIOSK_HQ_LIST_KEY); there is no default.

    Raises BundleError when neither is given, or the file is unreadable or not an Ed25519 key.
    """
    path = path or os.environ.get(ENV_KEY_FILE)
    if not path:
        raise BundleError(f"no list signing key: give --key FILE or set ${ENV_KEY_FILE} to the private key file")
    try:
        data = Path(path).read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    except OSError as exc:
        raise BundleError(f"cannot read the list signing key {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


# -- Exports ----------------------------------------------------------------------------

def read_export(kind: str, path: Path) -> list[dict[str, Any]]:
    """Validated records of a CSV or NDJSON export (by file name: .ndjson/.jsonl, else CSV).

    Raises ImportFileError (CSV) or BundleError (NDJSON) listing the bad lines.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read export {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".ndjson", ".jsonl"):
        return _read_ndjson(kind, data, str(path))
    try:
        parsed = parse(kind, data, str(path))
    except ImportFileError as exc:
        raise BundleError(str(exc).replace("nothing was imported", "nothing was published")) from None
    if kind == "documents":
        return [{column: entry[column] for column in COLUMNS["documents"]} for entry in parsed.entries]
    return [{"id": entry["entry_id"], **{c: entry[c] for c in COLUMNS["persons"] if c != "id"}}
            for entry in parsed.entries]


def _read_ndjson(kind: str, data: bytes, source: str) -> list[dict[str, Any]]:
    problems: list[str] = []
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}  # person id -> the line it first appeared on
    for line_number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            problems.append(f"line {line_number}: not JSON ({exc})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {line_number}: not a JSON object")
            continue
        extra = sorted(set(record) - set(COLUMNS[kind]) - ({"face"} if kind == "persons" else set()))
        entry = {column: str(record.get(column) or "").strip() for column in COLUMNS[kind]}
        found = [f"unknown field(s) {', '.join(extra)}"] if extra else []
        found += check_entry(kind, entry)
        if kind == "persons" and entry["id"]:
            if entry["id"] in seen:
                found.append(f"field id: {entry['id']!r} is repeated (first on line {seen[entry['id']]})")
            seen.setdefault(entry["id"], line_number)
        problems += [f"line {line_number}: {problem}" for problem in found]
        if not found:
            if record.get("face") is not None:
                entry["face"] = record["face"]
            records.append(entry)
        if len(problems) >= 20:
            break
    if problems:
        raise BundleError(f"{source}: {len(problems)} error(s); nothing was published:\n"
                          + "\n".join(f"  {p}" for p in problems[:20]))
    return records


# -- Deltas -------------------------------------------------------------------------------

def diff(kind: str, old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Delta records (``op`` add/remove) turning export ``old`` into export ``new``."""
    if kind == "persons":
        before = {record["id"]: record for record in old}
        after = {record["id"]: record for record in new}
        ops = [{"op": "remove", "id": entry_id} for entry_id in before if entry_id not in after]
        ops += [{"op": "add", **record} for entry_id, record in after.items() if before.get(entry_id) != record]
        return ops

    def by_document(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for record in records:
            grouped.setdefault((record["issuing_state"], record["document_number"]), []).append(record)
        return grouped

    before_documents, after_documents = by_document(old), by_document(new)
    ops = []
    for key in sorted(set(before_documents) | set(after_documents)):
        old_records, new_records = before_documents.get(key, []), after_documents.get(key, [])
        if old_records == new_records:
            continue
        if all(record in new_records for record in old_records):
            ops += [{"op": "add", **record} for record in new_records if record not in old_records]
        else:
            # Something of this document went: remove all its reports, then add back what stays.
            ops.append({"op": "remove", "issuing_state": key[0], "document_number": key[1], "document_type": ""})
            ops += [{"op": "add", **record} for record in new_records]
    return ops


# -- Publishing ---------------------------------------------------------------------------

def publish(kind: str, list_name: str, version: str, records: Iterable[dict[str, Any]],
            private_key: Ed25519PrivateKey, *, base_version: str | None = None,
            published_at: datetime | None = None, face_model: str | None = None) -> bytes:
    """A signed bundle: full when ``base_version`` is None, else a delta whose ``records``
    carry ``op`` (see ``diff``). ``face_model`` (persons only) is the SHA-256 of the embedder
    that made the records' faces (``face_model_id``). Returns the bundle bytes, ready for a
    USB stick or MQTT.

    Raises BundleError for an unknown kind, an unacceptable list name, version or
    face_model, or a face_model on a documents list.
    """
    if kind not in bundle_format.KINDS:
        raise BundleError(f"unknown list kind {kind!r} (expected persons or documents)")
    header = {"list": list_name, "kind": kind, "type": "full" if base_version is None else "delta",
              "version": version, "base_version": base_version,
              "published_at": clock.iso(published_at or clock.utcnow())}
    if face_model is not None:
        header["face_model"] = face_model
    bundle_format.check_header({**header, "format": bundle_format.FORMAT})
    if base_version is not None and base_version == version:
        raise BundleError(f"a delta's version {version} must differ from its base version")
    return bundle_format.encode(header, records, private_key)


def face_model_id(path: Path) -> str:
    """The id a bundle's ``face_model`` carries for the embedder file at ``path``: its SHA-256,
    the same digest a kiosk reports as ``screening.face.model.embedder``.

    Raises BundleError when the file cannot be read or is not a TFLite model (a photo or
    the detector given by mistake would name a model no kiosk runs).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
        digest = litert.sha256(path)
    except OSError as exc:
        raise BundleError(f"cannot read face model {path}: {exc.strerror or exc}") from None
    except InferenceError as exc:
        raise BundleError(str(exc)) from None
    if head[4:8] != b"TFL3":
        raise BundleError(f"{path} is not a TFLite model (no TFL3 file identifier): give the embedder .tflite "
                          "the kiosks run")
    return digest


def records_of(kind: str, path: Path) -> Iterator[dict[str, Any]]:
    """Full-bundle records of an export (what ``publish`` signs)."""
    yield from read_export(kind, path)
