"""Stolen/lost travel document index: an in-RAM binary fuse filter over an exact check on disk.

Sized for INTERPOL SLTD scale (about 100 M records) on a 4 GB board:

- ``filter.bin``: a binary fuse filter (8-bit fingerprints, ``fuse_filter.py``), about
  1.13 bytes per record, held in RAM. A miss (almost every traveller) is answered here; it
  has no false negatives and about 0.4 % false positives.
- ``table.bin`` (format 2): every record, sorted by its 64-bit key, packed into 4 KiB
  pages that each carry their records' keys; ``fences.npy``, the first key of every page
  (8 bytes a page, about 0.06 B a record), is kept in RAM. A filter positive costs one
  ``pread`` of one page (two when the document's reports straddle pages), nothing read
  ahead: the only disk read of a lookup, and the only page it leaves in the page cache.
  The record is compared field by field, so two documents that share a fingerprint never
  confuse each other: no false positive.
- ``delta.jsonl``: additions and removals applied since the base was built, replayed into
  small dicts when the index is opened, so a delta bundle never rebuilds 100 M records.

Format 1 indexes (``keys.npy`` of sorted keys with ``fences.npy`` every 512th, ``offsets.npy``
into ``records.tsv``; three pages read per hit) still open and answer as they did; every build
writes format 2.

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
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from appliance.inference.files import fsync_dir, save_npy
from appliance.inference.fuse_filter import FilterError, FuseFilter

# Format 2: the paged table. Format 1 (keys.npy, offsets.npy, records.tsv) still opens;
# filter.bin is the reference C layout in both, which pyfusefilter wrote before
# fuse_filter.py did, so an index built then opens as it is.
FORMAT = 2
READABLE_FORMATS = (1, 2)
FENCE_STRIDE = 512  # format 1: keys per fence, 512 x 8 bytes = one 4 KiB page of keys.npy
PAGE = 4096  # format 2: bytes a table page; one page is one read
BUCKETS = 256  # build: records are spread by their key's top byte, then each bucket sorted in RAM
_BIG = 0xFFFF  # a page count meaning "one record too long for a page, over several pages"
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
    (every 65 536 records). The records are first spread over 256 bucket files by their
    key's top byte (sequential writes), then each bucket is sorted in RAM and written out
    as pages: peak memory is the distinct keys (8 bytes a record, for the filter) plus one
    bucket, and the disk is only ever written and read in sequence, as an SD card likes.
    Returns the manifest.
    """
    directory.mkdir(parents=True, exist_ok=False)
    spill = directory / "build.tmp"
    spill.mkdir()
    bucket_files = [open(spill / f"{b:02x}", "wb", buffering=1 << 16) for b in range(BUCKETS)]
    count = 0
    try:
        for record in records:
            key = fingerprint(record.issuing_state, record.document_number)
            line = record.line()
            bucket_files[key >> 56].write(key.to_bytes(8, "little") + len(line).to_bytes(2, "little") + line)
            count += 1
            if progress and count % 65536 == 0:
                progress(count)
    finally:
        for handle in bucket_files:
            handle.close()
    if progress:
        progress(count)
    fences: list[int] = []
    unique_parts: list[np.ndarray] = []
    with open(directory / "table.bin", "wb", buffering=1 << 20) as table:
        pages = _Pages(table, fences)
        for b in range(BUCKETS):
            path = spill / f"{b:02x}"
            keys, lines = _read_bucket(path.read_bytes())
            path.unlink()
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            for key, position in zip(keys.tolist(), order.tolist()):
                pages.add(key, lines[position])
            if len(keys):
                unique_parts.append(keys[np.concatenate(([True], keys[1:] != keys[:-1]))])
        pages.close()
        table.flush()
        os.fsync(table.fileno())
    spill.rmdir()
    save_npy(directory / "fences.npy", np.asarray(fences, dtype=np.uint64))
    unique = np.concatenate(unique_parts) if unique_parts else np.empty(0, dtype=np.uint64)
    (directory / "filter.bin").write_bytes(FuseFilter.build(unique).to_bytes())
    manifest = {"format": FORMAT, "kind": "documents", "records": count, "keys": int(len(unique)),
                "page_bytes": PAGE, "pages": len(fences), "delta": {"additions": 0, "removals": 0}}
    _write_manifest(directory, manifest)
    fsync_dir(directory)
    return manifest


def _read_bucket(data: bytes) -> tuple[np.ndarray, list[bytes]]:
    """(keys, lines) of one bucket file: records of (8-byte key, 2-byte length, line)."""
    keys, lines = [], []
    position, end = 0, len(data)
    while position < end:
        keys.append(int.from_bytes(data[position:position + 8], "little"))
        size = int.from_bytes(data[position + 8:position + 10], "little")
        lines.append(data[position + 10:position + 10 + size])
        position += 10 + size
    return np.asarray(keys, dtype=np.uint64), lines


class _Pages:
    """Packs sorted (key, line) records into PAGE-byte pages: a 2-byte count, the keys
    (8 bytes each), the lines' end offsets (2 bytes each), the lines. A line too long for a
    page gets pages of its own: count _BIG, key, 4-byte length, the line, zero padding."""

    def __init__(self, out: Any, fences: list[int]) -> None:
        self.out, self.fences = out, fences
        self.keys: list[int] = []
        self.lines: list[bytes] = []
        self.used = 2

    def add(self, key: int, line: bytes) -> None:
        if 2 + 10 + len(line) > PAGE:
            self.flush()
            blob = _BIG.to_bytes(2, "little") + key.to_bytes(8, "little") + len(line).to_bytes(4, "little") + line
            size = -(-len(blob) // PAGE) * PAGE
            self.out.write(blob + bytes(size - len(blob)))
            self.fences.extend([key] * (size // PAGE))
            return
        if self.used + 10 + len(line) > PAGE:
            self.flush()
        self.keys.append(key)
        self.lines.append(line)
        self.used += 10 + len(line)

    def flush(self) -> None:
        if not self.keys:
            return
        ends, position = [], 0
        for line in self.lines:
            position += len(line)
            ends.append(position)
        page = (len(self.keys).to_bytes(2, "little") + np.asarray(self.keys, dtype="<u8").tobytes()
                + np.asarray(ends, dtype="<u2").tobytes() + b"".join(self.lines))
        self.out.write(page + bytes(PAGE - len(page)))
        self.fences.append(self.keys[0])
        self.keys, self.lines, self.used = [], [], 2

    def close(self) -> None:
        self.flush()


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
    for name in sorted(p.name for p in base.iterdir() if p.is_file() and p.name not in ("manifest.json", "delta.jsonl")):
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
        if self.manifest.get("format") not in READABLE_FORMATS or self.manifest.get("kind") != "documents":
            raise ValueError(f"{self.directory} is not a document index of format {' or '.join(map(str, READABLE_FORMATS))}")
        # Read into RAM, not mapped: almost every lookup ends in the filter, and a mapped one
        # would wait on the SD card for each page it has not touched yet.
        try:
            self.filter = FuseFilter.load(self.directory / "filter.bin")
        except FilterError as exc:
            raise ValueError(f"{self.directory}/filter.bin is damaged ({exc}): rebuild the index") from None
        self._open = True
        self.format = int(self.manifest["format"])
        self._maps: list[mmap.mmap] = []
        self._records: mmap.mmap | bytes = b""
        if self.format == 1:
            self.keys = self._map_npy("keys.npy")
            self.offsets = self._map_npy("offsets.npy")
            self._records_file = open(self.directory / "records.tsv", "rb")
            size = os.fstat(self._records_file.fileno()).st_size
            if size:
                self._records = mmap.mmap(self._records_file.fileno(), size, access=mmap.ACCESS_READ)
                self._records.madvise(mmap.MADV_RANDOM)
        else:
            # Read with pread, told to read nothing ahead: a lookup needs one page, and the
            # kernel's default read-ahead would pull in dozens, from an SD card, into the
            # RAM the index is meant to spare.
            self._records_file = open(self.directory / "table.bin", "rb")
            self._pages = os.fstat(self._records_file.fileno()).st_size // PAGE
            os.posix_fadvise(self._records_file.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        self.fences = np.array(np.load(self.directory / "fences.npy"))
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
        if self.format != 1:
            return self._paged(key, issuing_state, document_number)
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

    def _read_page(self, page: int, pages: int = 1) -> bytes:
        return os.pread(self._records_file.fileno(), PAGE * pages, page * PAGE)

    def _big(self, page: int, data: bytes) -> tuple[int, int, Callable[[], Record]]:
        """(key, pages spanned, a reader of the record) of a page holding one long record."""
        size = int.from_bytes(data[10:14], "little")
        span = -(-(14 + size) // PAGE)

        def record() -> Record:
            whole = self._read_page(page, span) if span > 1 else data
            return Record.from_line(whole[14:14 + size])

        return int.from_bytes(data[2:10], "little"), span, record

    def _paged(self, key: int, issuing_state: str, document_number: str) -> list[Record]:
        """The records of ``key`` in the table: from the last page whose first key is below
        it, on through the pages that start with it (a document reported many times)."""
        fences = self.fences
        needle = np.uint64(key)
        page = max(int(np.searchsorted(fences, needle, side="left")) - 1, 0)
        found = []
        while page < self._pages:
            data = self._read_page(page)
            count = int.from_bytes(data[:2], "little")
            if count == _BIG:
                big_key, span, record = self._big(page, data)
                if big_key == key:
                    found.append(record())
                page += span
            else:
                keys = np.frombuffer(data, dtype="<u8", count=count, offset=2)
                first = int(np.searchsorted(keys, needle, side="left"))
                last = int(np.searchsorted(keys, needle, side="right"))
                if last > first:
                    ends = np.frombuffer(data, dtype="<u2", count=count, offset=2 + 8 * count)
                    base = 2 + 10 * count
                    for i in range(first, last):
                        begin = base + (int(ends[i - 1]) if i else 0)
                        found.append(Record.from_line(data[begin:base + int(ends[i])]))
                page += 1
            if page >= self._pages or fences[page] != needle:
                break
        return [r for r in found if r.issuing_state == issuing_state and r.document_number == document_number]

    def _table_records(self) -> Iterator[Record]:
        page = 0
        while page < self._pages:
            data = self._read_page(page)
            count = int.from_bytes(data[:2], "little")
            if count == _BIG:
                _, span, record = self._big(page, data)
                yield record()
                page += span
                continue
            ends = np.frombuffer(data, dtype="<u2", count=count, offset=2 + 8 * count).tolist()
            base, begin = 2 + 10 * count, 0
            for end in ends:
                yield Record.from_line(data[base + begin:base + end])
                begin = end
            page += 1

    def lookup(self, issuing_state: str, document_number: str) -> list[Record]:
        """Every listed record of (state, number); [] when the document is not listed."""
        key = (issuing_state, document_number)
        removed = self._removed.get(key, set())
        base = [] if removed is None else [r for r in self._base(issuing_state, document_number)
                                           if r.document_type not in removed]
        return base + list(self._added.get(key, []))

    def __iter__(self) -> Iterator[Record]:
        """Every record in force (base minus removals, plus additions), in no particular order."""
        for record in self._stored():
            removed = self._removed.get((record.issuing_state, record.document_number), set())
            if removed is not None and record.document_type not in removed:
                yield record
        for records in self._added.values():
            yield from records

    def _stored(self) -> Iterator[Record]:
        if self.format != 1:
            yield from self._table_records()
        elif isinstance(self._records, mmap.mmap):  # b"" (no records file content) has nothing to yield
            self._records.seek(0)
            for raw in iter(self._records.readline, b""):
                yield Record.from_line(raw)

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
