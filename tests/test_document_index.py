"""The document index's paged table (format 2): one page read a hit, nothing read ahead, long
records and many reports of one document across pages, and format 1 indexes still open."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from appliance.bench import pagecache
from appliance.inference import documents

DATA = Path(__file__).parent / "data"


def _records(count: int, seed: int = 3) -> list[documents.Record]:
    rng = np.random.default_rng(seed)
    return [documents.Record(("UTO", "D", "FRA", "KEN")[i % 4], "P", f"N{n:09d}", ("stolen", "lost")[i % 2])
            for i, n in enumerate(rng.choice(10**9, count, replace=False))]


def _counting_reads(index: documents.DocumentIndex, monkeypatch) -> list[tuple[int, int]]:
    reads: list[tuple[int, int]] = []
    real = index._read_page

    def read(page: int, pages: int = 1) -> bytes:
        reads.append((page, pages))
        return real(page, pages)

    monkeypatch.setattr(index, "_read_page", read)
    return reads


def test_a_hit_reads_one_page_and_a_miss_none(tmp_path, monkeypatch):
    records = _records(30_000)
    manifest = documents.build(iter(records), tmp_path / "d")
    assert manifest["format"] == 2 and manifest["pages"] == (tmp_path / "d" / "table.bin").stat().st_size // 4096
    assert not (tmp_path / "d" / "build.tmp").exists()  # the build's bucket files are gone
    index = documents.DocumentIndex(tmp_path / "d")
    try:
        reads = _counting_reads(index, monkeypatch)
        for record in records[::97]:
            reads.clear()
            assert index.lookup(record.issuing_state, record.document_number) == [record]
            assert reads and len(reads) <= 2 and all(pages == 1 for _, pages in reads)
        # Almost every miss ends in the filter; the few it lets through read one page and find nothing.
        reads.clear()
        assert not any(index.lookup("UTO", f"X{i}") for i in range(5000))
        assert len(reads) < 5000 * 0.01
        # Fences and filter together stay well under 2 bytes a record.
        assert index.fences.nbytes + index.filter_bytes() < 1.4 * len(records)
    finally:
        index.close()


def test_a_cold_hit_brings_back_one_page_only(tmp_path):
    records = _records(50_000)
    documents.build(iter(records), tmp_path / "d")
    table = tmp_path / "d" / "table.bin"
    index = documents.DocumentIndex(tmp_path / "d")
    try:
        pagecache.evict(table)
        assert pagecache.resident_bytes(table) == 0
        for record in records[:20]:
            assert index.lookup(record.issuing_state, record.document_number) == [record]
        # No read-ahead: 20 hits leave at most 2 pages each in the page cache, not 32.
        assert 0 < pagecache.resident_bytes(table) <= 40 * pagecache.PAGE
    finally:
        index.close()


def test_long_records_and_many_reports_span_pages(tmp_path):
    long_reason = "reported by " + "x" * 9000  # longer than two pages
    many = [documents.Record("UTO", "P", "SAME1", f"report {i}") for i in range(2000)]
    records = _records(5000) + many + [documents.Record("D", "I", "LONG1", long_reason)]
    documents.build(iter(records), tmp_path / "d")
    index = documents.DocumentIndex(tmp_path / "d")
    try:
        assert index.lookup("D", "LONG1") == [documents.Record("D", "I", "LONG1", long_reason)]
        assert sorted(r.reason for r in index.lookup("UTO", "SAME1")) == sorted(r.reason for r in many)
        for record in records[:5000:50]:
            assert index.lookup(record.issuing_state, record.document_number) == [record]
        assert sorted(index, key=lambda r: (r.issuing_state, r.document_number, r.reason)) == \
            sorted(records, key=lambda r: (r.issuing_state, r.document_number, r.reason))
    finally:
        index.close()


def test_the_same_records_build_the_same_files(tmp_path):
    # Distinct documents sort by key whatever order they arrive in: the same files.
    records = _records(3000)
    documents.build(iter(records), tmp_path / "a")
    documents.build(iter(reversed(records)), tmp_path / "b")
    for name in ("table.bin", "fences.npy", "filter.bin"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_format_1_index_still_opens_lists_and_derives(tmp_path):
    shutil.copytree(DATA / "documents-index-pyfusefilter", tmp_path / "old")
    old = documents.DocumentIndex(tmp_path / "old")
    try:
        assert old.format == 1
        stored = list(old)
        assert stored and all(old.lookup(r.issuing_state, r.document_number) for r in stored[:50])
    finally:
        old.close()
    documents.derive(tmp_path / "old", tmp_path / "next", [documents.Change("add", documents.Record("D", "P", "NEW9", "lost"))])
    derived = documents.DocumentIndex(tmp_path / "next")
    try:
        assert derived.format == 1 and derived.lookup("D", "NEW9")[0].reason == "lost"
        assert len(list(derived)) == len(stored) + 1
    finally:
        derived.close()


def test_unknown_format_is_refused(tmp_path):
    documents.build(iter(_records(10)), tmp_path / "d")
    manifest = tmp_path / "d" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"format": 2', '"format": 9'))
    with pytest.raises(ValueError, match="not a document index of format 1 or 2"):
        documents.DocumentIndex(tmp_path / "d")
