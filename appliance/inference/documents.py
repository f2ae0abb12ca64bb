"""Stolen/lost travel document index: an in-RAM binary fuse filter over an exact, memory-mapped check.

Sized for INTERPOL SLTD scale (about 100 M records) on a 4 GB board:

- ``filter.bin``: a binary fuse filter (8-bit fingerprints, ``fuse_filter.py``), about
  1.13 bytes per record, the only part held in RAM. A miss (almost every traveller) is
  answered here; it has no false negatives and about 0.4 % false positives.
- ``keys.npy``: the 64-bit fingerprints of every record, sorted, memory-mapped; a filter
  positive is confirmed by a binary search that touches one page, found through
  ``fences.npy`` (every 512th key, small enough to keep in RAM).
- ``offsets.npy`` + ``records.tsv``: for each sorted key, where its record
  (state, type, number, reason) starts; the record is compared field by field, so two
  documents that happen to share a fingerprint never confuse each other: no false positive.
- ``delta.jsonl``: additions and removals applied since the base was built, replayed into
  small dicts when the index is opened, so a delta bundle never rebuilds 100 M records.

The lookup key is (issuing state, normalised number). The document type is stored and
shown but is not part of the key: a stolen passport presented as an identity card (or
listed with the wrong type) must still be stopped.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from appliance.inference.files import fsync_dir, save_npy
from appliance.inference.fuse_filter import FilterError, FuseFilter

# Format 1 since the first index: filter.bin is the reference C layout, which pyfusefilter
# wrote before fuse_filter.py did, so an index built then opens as it is.
FORMAT = 1
FENCE_STRIDE = 512  # keys per fence: 512 x 8 bytes = one 4 KiB page of keys.npy
FILES = ("manifest.json", "filter.bin", "keys.npy", "fences.npy", "offsets.npy", "records.tsv")
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Record:
    """One listed document as stored: ICAO state code, document type (may be empty), number, reason."""

    issuing_state: str
    document_type: str
    document_number: str
    reason: str

    def line(self) -> bytes:
        fields = (self.issuing_state, self.document_type, self.document_number, _one_line(self.reason))
        return ("\t".join(fields) + "\n").encode("utf-8")

    @classmethod
    def from_line(cls, raw: bytes) -> "Record":
        state, doc_type, number, reason = raw.decode("utf-8").rstrip("\n").split("\t", 3)
        return cls(state, doc_type, number, reason)

    def to_dict(self) -> dict[str, str]:
        return {"issuing_state": self.issuing_state, "document_type": self.document_type,
                "document_number": self.document_number, "reason": self.reason}


def _one_line(text: str) -> str:
    # Tabs and newlines delimit records.tsv; a reason never needs them.
    return " ".join(text.split())


def fingerprint(issuing_state: str, document_number: str) -> int:
    """The 64-bit key of (state, number); both already normalised (upper case, A-Z 0-9)."""
    digest = hashlib.blake2b(f"{issuing_state}{_SEPARATOR}{document_number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def build(records: Iterable[Record], directory: Path, *, total: int | None = None,
          progress: Callable[[int], None] | None = None) -> dict:
    """Write a complete index of ``records`` into ``directory`` (created; must not hold an index).

    Every file is fsynced before this returns, so a caller may switch to the directory
    as soon as it does. ``progress`` is called with the number of records read so far
    (every 65 536 records). Peak memory is about 24 bytes per record (fingerprints,
    offsets and the sort order), not the records themselves. Returns the manifest.
    """
    directory.mkdir(parents=True, exist_ok=False)
    keys = np.empty(max(total or 0, 1 << 16), dtype=np.uint64)
    offsets = np.empty_like(keys)
    count = position = 0
    with open(directory / "records.tsv", "wb") as out:
        for record in records:
            if count == len(keys):
                keys = np.resize(keys, len(keys) * 2)
                offsets = np.resize(offsets, len(offsets) * 2)
            line = record.line()
            keys[count] = fingerprint(record.issuing_state, record.document_number)
            offsets[count] = position
            position += len(line)
            out.write(line)
            count += 1
            if progress and count % 65536 == 0:
                progress(count)
        out.flush()
        os.fsync(out.fileno())
    if progress:
        progress(count)
    keys, offsets = keys[:count], offsets[:count]
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    offsets = offsets[order]
    del order
    save_npy(directory / "keys.npy", keys)
    save_npy(directory / "offsets.npy", offsets)
    save_npy(directory / "fences.npy", keys[::FENCE_STRIDE].copy())
    unique = np.unique(keys)  # the filter wants distinct keys; a document listed twice is one key
    del keys, offsets
    (directory / "filter.bin").write_bytes(FuseFilter.build(unique).to_bytes())
    manifest = {"format": FORMAT, "kind": "documents", "records": count, "keys": int(len(unique)),
                "delta": {"additions": 0, "removals": 0}}
    _write_manifest(directory, manifest)
    fsync_dir(directory)
    return manifest


def _write_manifest(directory: Path, manifest: dict) -> None:
    path = directory / "manifest.json"
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


# -- Deltas -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One delta operation: add a record, or remove (state, number[, type]) entirely."""

    op: str  # "add" | "remove"
    record: Record

    def to_json(self) -> str:
        return json.dumps({"op": self.op, **self.record.to_dict()}, ensure_ascii=False)


def derive(base: Path, directory: Path, changes: Iterable[Change]) -> dict:
    """A new index in ``directory``: the base's files (hard links, no copy) plus its delta
    and ``changes`` appended. Returns the new manifest; ``records`` is exact."""
    directory.mkdir(parents=True, exist_ok=False)
    for name in FILES[1:]:
        try:
            os.link(base / name, directory / name)
        except OSError:
            # Another file system (or one without hard links): copy instead.
            import shutil

            shutil.copyfile(base / name, directory / name)
    index = DocumentIndex(base)
    try:
        manifest = dict(index.manifest)
        lines = (base / "delta.jsonl").read_text(encoding="utf-8") if (base / "delta.jsonl").exists() else ""
        count = manifest["records"]
        additions, removals = manifest["delta"]["additions"], manifest["delta"]["removals"]
        new_lines = []
        for change in changes:
            if change.op == "add":
                count += 1
                additions += 1
            else:
                gone = index.lookup(change.record.issuing_state, change.record.document_number)
                if change.record.document_type:
                    gone = [r for r in gone if r.document_type == change.record.document_type]
                count -= len(gone)
                removals += 1
            index.apply(change)
            new_lines.append(change.to_json() + "\n")
    finally:
        index.close()
    with open(directory / "delta.jsonl", "w", encoding="utf-8") as handle:
        handle.write(lines + "".join(new_lines))
        handle.flush()
        os.fsync(handle.fileno())
    manifest["records"] = count
    manifest["delta"] = {"additions": additions, "removals": removals}
    _write_manifest(directory, manifest)
    fsync_dir(directory)
    return manifest


# -- Lookup -----------------------------------------------------------------------------

class DocumentIndex:
    """An opened index: the filter in RAM, everything else memory-mapped. Thread-safe for lookups."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.manifest = json.loads((self.directory / "manifest.json").read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT or self.manifest.get("kind") != "documents":
            raise ValueError(f"{self.directory} is not a document index of format {FORMAT}")
        # Read into RAM, not mapped: almost every lookup ends in the filter, and a mapped one
        # would wait on the SD card for each page it has not touched yet.
        try:
            self.filter = FuseFilter.load(self.directory / "filter.bin")
        except FilterError as exc:
            raise ValueError(f"{self.directory}/filter.bin is damaged ({exc}): rebuild the index") from None
        self._open = True
        self._maps: list[mmap.mmap] = []
        self.keys = self._map_npy("keys.npy")
        self.offsets = self._map_npy("offsets.npy")
        self.fences = np.array(np.load(self.directory / "fences.npy"))
        self._records_file = open(self.directory / "records.tsv", "rb")
        size = os.fstat(self._records_file.fileno()).st_size
        self._records = mmap.mmap(self._records_file.fileno(), size, access=mmap.ACCESS_READ) if size else b""
        if isinstance(self._records, mmap.mmap):
            self._records.madvise(mmap.MADV_RANDOM)
        self._added: dict[tuple[str, str], list[Record]] = {}
        self._removed: dict[tuple[str, str], set[str] | None] = {}
        delta = self.directory / "delta.jsonl"
        if delta.exists():
            for line in delta.read_text(encoding="utf-8").splitlines():
                item = json.loads(line)
                op = item.pop("op")
                self.apply(Change(op, Record(**item)))

    def _map_npy(self, name: str) -> np.ndarray:
        """A read-only view of a 1-D ``.npy`` file, mapped for random access.

        MADV_RANDOM: a lookup reads one page of each file, and the kernel's default
        read-around (up to 128 KiB a fault) would pull 32 pages into the page cache for it,
        on an SD card and in the RAM the index is meant to spare.
        """
        with open(self.directory / name, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            start = handle.tell()
            size = os.fstat(handle.fileno()).st_size
            if size == start:
                return np.empty(0, dtype=dtype)
            mapped = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
        mapped.madvise(mmap.MADV_RANDOM)
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype=dtype, count=int(np.prod(shape)), offset=start)

    def apply(self, change: Change) -> None:
        """Apply one delta operation to this open index (in memory only)."""
        record = change.record
        key = (record.issuing_state, record.document_number)
        if change.op == "add":
            self._added.setdefault(key, []).append(record)
        elif change.op == "remove":
            if record.document_type:
                self._added[key] = [r for r in self._added.get(key, []) if r.document_type != record.document_type]
                types = self._removed.get(key, set())
                if types is not None:
                    self._removed[key] = types | {record.document_type}
            else:
                self._added.pop(key, None)
                self._removed[key] = None
        else:
            raise ValueError(f"unknown delta operation {change.op!r}")

    @property
    def records(self) -> int:
        return int(self.manifest["records"])

    def filter_bytes(self) -> int:
        return self.filter.nbytes

    def _base(self, issuing_state: str, document_number: str) -> list[Record]:
        key = fingerprint(issuing_state, document_number)
        if key not in self.filter:
            return []
        needle = np.uint64(key)
        # The fences say which 4 KiB page of keys.npy holds the key's first copy (the last
        # fence strictly below it); only that page is read.
        page = max(int(np.searchsorted(self.fences, needle, side="left")) - 1, 0)
        start = page * FENCE_STRIDE
        window = self.keys[start:start + FENCE_STRIDE + 1]
        low = start + int(np.searchsorted(window, needle, side="left"))
        found = []
        position = low
        while position < len(self.keys) and self.keys[position] == needle:
            begin = int(self.offsets[position])
            end = self._records.find(b"\n", begin)
            record = Record.from_line(self._records[begin:end + 1])
            if record.issuing_state == issuing_state and record.document_number == document_number:
                found.append(record)
            position += 1
        return found

    def lookup(self, issuing_state: str, document_number: str) -> list[Record]:
        """Every listed record of (state, number); [] when the document is not listed."""
        key = (issuing_state, document_number)
        removed = self._removed.get(key, set())
        base = [] if removed is None else [r for r in self._base(issuing_state, document_number)
                                           if r.document_type not in removed]
        return base + list(self._added.get(key, []))

    def __iter__(self) -> Iterator[Record]:
        """Every record in force (base minus removals, plus additions), in no particular order."""
        if isinstance(self._records, mmap.mmap):  # b"" (no records file content) has nothing to yield
            self._records.seek(0)
            for raw in iter(self._records.readline, b""):
                record = Record.from_line(raw)
                removed = self._removed.get((record.issuing_state, record.document_number), set())
                if removed is not None and record.document_type not in removed:
                    yield record
        for records in self._added.values():
            yield from records

    def close(self) -> None:
        if self._open:
            self._open = False
            if isinstance(self._records, mmap.mmap):
                self._records.close()
            self._records_file.close()
            # The arrays are views of the maps: drop them first; a map a caller still holds a
            # view of stays open until that view goes.
            self.keys = self.offsets = np.empty(0, dtype=np.uint64)
            for mapped in self._maps:
                try:
                    mapped.close()
                except BufferError:
                    pass
            self._maps = []

    def __del__(self) -> None:  # pragma: no cover - safety net for a forgotten close()
        try:
            self.close()
        except Exception:
            pass
