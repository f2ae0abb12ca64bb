"""Screening indexes on their own: document filter + exact check, int8 faces, fuzzy names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import InferenceError
from appliance.inference import documents, faces, litert, names
from appliance.inference.fuse_filter import FilterError, FuseFilter

DATA = Path(__file__).parent / "data"


# -- Documents ----------------------------------------------------------------------------

def _records(count: int, seed: int = 1) -> list[documents.Record]:
    rng = np.random.default_rng(seed)
    return [documents.Record(("UTO", "D", "FRA")[i % 3], "P", f"N{n:09d}", "stolen")
            for i, n in enumerate(rng.choice(10**9, count, replace=False))]


def test_document_index_has_no_false_negative_and_no_false_positive(tmp_path):
    records = _records(20_000)
    manifest = documents.build(iter(records), tmp_path / "d")
    assert manifest["records"] == manifest["keys"] == 20_000
    index = documents.DocumentIndex(tmp_path / "d")
    try:
        for record in records[::7]:
            assert index.lookup(record.issuing_state, record.document_number) == [record]
        # The filter lets about 1 in 256 unknown keys through; the exact check stops every one.
        assert not any(index.lookup("UTO", f"X{i}") for i in range(20_000))
        # Same number, other state: a different document.
        first = records[0]
        assert index.lookup("GBR", first.document_number) == []
        assert index.filter_bytes() < 1.25 * 20_000
    finally:
        index.close()


def test_document_reported_many_times_across_a_fence_is_found_whole(tmp_path):
    # 2,000 reports of one document span several 512-key pages of keys.npy.
    many = [documents.Record("UTO", "P", "SAME1", f"report {i}") for i in range(2000)]
    documents.build(iter(_records(3000) + many), tmp_path / "d")
    index = documents.DocumentIndex(tmp_path / "d")
    try:
        assert sorted(r.reason for r in index.lookup("UTO", "SAME1")) == sorted(r.reason for r in many)
    finally:
        index.close()


def test_document_delta_adds_and_removes_without_rebuilding_the_base(tmp_path):
    records = _records(1000)
    documents.build(iter(records), tmp_path / "base")
    gone, kept = records[0], records[1]
    changes = [documents.Change("add", documents.Record("D", "I", "NEW1", "stolen")),
               documents.Change("remove", documents.Record(gone.issuing_state, "", gone.document_number, ""))]
    manifest = documents.derive(tmp_path / "base", tmp_path / "next", changes)
    assert manifest["records"] == 1000 and manifest["delta"] == {"additions": 1, "removals": 1}
    # The big files are the base's, hard-linked, not rewritten.
    assert (tmp_path / "next" / "table.bin").stat().st_ino == (tmp_path / "base" / "table.bin").stat().st_ino
    index = documents.DocumentIndex(tmp_path / "next")
    try:
        assert index.lookup("D", "NEW1")[0].reason == "stolen"
        assert index.lookup(gone.issuing_state, gone.document_number) == []
        assert index.lookup(kept.issuing_state, kept.document_number) == [kept]
        assert sum(1 for _ in index) == 1000
    finally:
        index.close()
    base = documents.DocumentIndex(tmp_path / "base")
    try:
        assert base.lookup(gone.issuing_state, gone.document_number) == [gone]  # old version untouched
    finally:
        base.close()


def test_document_removal_of_one_type_keeps_the_other_report(tmp_path):
    documents.build(iter([documents.Record("UTO", "P", "AB1", "lost"), documents.Record("UTO", "I", "AB1", "stolen")]),
                    tmp_path / "base")
    documents.derive(tmp_path / "base", tmp_path / "next",
                     [documents.Change("remove", documents.Record("UTO", "P", "AB1", ""))])
    index = documents.DocumentIndex(tmp_path / "next")
    try:
        assert [r.document_type for r in index.lookup("UTO", "AB1")] == ["I"]
    finally:
        index.close()


def test_empty_document_index(tmp_path):
    documents.build(iter([]), tmp_path / "d")
    index = documents.DocumentIndex(tmp_path / "d")
    try:
        assert index.lookup("UTO", "AB1") == [] and list(index) == []
    finally:
        index.close()


def test_index_built_with_pyfusefilter_still_opens():
    # Built by the code before fuse_filter.py (pyfusefilter's C filter); the file layout is the
    # same, so a kiosk's lists in force need no rebuild. The C filter's verdicts on 20,000
    # unlisted keys were recorded with it: the numpy lookup passes exactly the same ones.
    reference = json.loads((DATA / "documents-index-pyfusefilter.json").read_text())
    index = documents.DocumentIndex(DATA / "documents-index-pyfusefilter")
    try:
        records = [documents.Record(**item) for item in reference["records"]]
        for record in records:
            assert record in index.lookup(record.issuing_state, record.document_number)
        probes = np.array([documents.fingerprint("UTO", f"Q{i}") for i in range(20000)], dtype=np.uint64)
        passed = np.flatnonzero(index.filter.contains(probes)).tolist()
        assert passed == reference["probes_the_c_filter_passed"]
        assert [i for i in range(20000) if int(probes[i]) in index.filter] == passed
        assert not any(index.lookup("UTO", f"Q{i}") for i in passed)  # the exact check stops them
    finally:
        index.close()


def test_damaged_filter_is_refused_with_a_rebuild_message(tmp_path):
    shutil.copytree(DATA / "documents-index-pyfusefilter", tmp_path / "d")
    data = (tmp_path / "d" / "filter.bin").read_bytes()
    (tmp_path / "d" / "filter.bin").write_bytes(data[:-1])
    with pytest.raises(ValueError, match="filter.bin is damaged .*rebuild the index"):
        documents.DocumentIndex(tmp_path / "d")


@pytest.mark.parametrize("count", [0, 1, 2, 3, 100, 50_000])
def test_fuse_filter_finds_every_key_and_few_others(count):
    rng = np.random.default_rng(count)
    keys = np.unique(rng.integers(0, 2**64, count, dtype=np.uint64))
    built = FuseFilter.build(keys)
    assert built.contains(keys).all() and all(int(key) in built for key in keys[:1000])
    others = rng.integers(0, 2**64, 100_000, dtype=np.uint64)
    assert 0.002 < built.contains(others).mean() < 0.006  # 8-bit fingerprints: 1/256
    again = FuseFilter.from_bytes(built.to_bytes())
    assert again.to_bytes() == built.to_bytes() == FuseFilter.build(keys).to_bytes()  # reproducible
    assert np.array_equal(again.contains(others), built.contains(others))


def test_fuse_filter_size_per_key():
    keys = np.unique(np.random.default_rng(3).integers(0, 2**64, 1_000_000, dtype=np.uint64))
    assert FuseFilter.build(keys).nbytes / len(keys) < 1.14


def test_fuse_filter_refuses_repeated_keys_and_bad_files():
    with pytest.raises(ValueError, match="distinct"):
        FuseFilter.build(np.array([5, 7, 5], dtype=np.uint64))
    data = FuseFilter.build(np.arange(1000, dtype=np.uint64)).to_bytes()
    with pytest.raises(FilterError, match="shorter than"):
        FuseFilter.from_bytes(data[:10])
    with pytest.raises(FilterError, match="does not match"):
        FuseFilter.from_bytes(data + b"\0")


# -- Faces --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def face_set(tmp_path_factory):
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5000, 64), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    directory = tmp_path_factory.mktemp("faces") / "f"
    faces.build(directory, vectors, np.arange(5000, dtype=np.int32) + 100)
    return vectors, faces.FaceIndex(directory), rng


def test_face_index_stores_d_plus_8_bytes_per_vector(face_set):
    vectors, index, _ = face_set
    sizes = sum((index.directory / n).stat().st_size - 128 for n in ("codes.npy", "inv_norms.npy", "rows.npy"))
    assert sizes == 5000 * (64 + 8)
    assert index.codes.dtype == np.int8 and isinstance(index.codes, np.memmap)


def test_face_top_k_matches_exact_float_search(face_set):
    vectors, index, rng = face_set
    overlap, nearest = [], []
    for target in rng.integers(0, 5000, 40):
        query = vectors[target] + rng.standard_normal(64).astype(np.float32) * 0.1
        exact = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:10] + 100
        found = index.search(query, k=10)
        assert [m.similarity for m in found] == sorted((m.similarity for m in found), reverse=True)
        overlap.append(len({m.row for m in found} & set(exact.tolist())) / 10)
        nearest.append(found[0].row == target + 100)
    assert all(nearest)
    assert np.mean(overlap) >= 0.97


def test_face_threads_give_the_same_answer(face_set):
    vectors, index, _ = face_set
    assert index.search(vectors[3], k=5, threads=1) == index.search(vectors[3], k=5, threads=2)


@pytest.mark.parametrize("bad, message", [(np.ones(63), "63 dimensions"), (np.zeros(64), "zero"),
                                          (np.full(64, np.nan), "not finite")])
def test_face_bad_query_is_refused(face_set, bad, message):
    with pytest.raises(ValueError, match=message):
        face_set[1].search(bad)


def test_quantize_keeps_direction_and_scale():
    codes, inv = faces.quantize(np.array([[0.5, -1.0, 0.25, 0.0]], dtype=np.float32))
    assert codes.tolist() == [[64, -127, 32, 0]]
    assert inv[0] == pytest.approx(1 / np.linalg.norm([64, -127, 32, 0]))


# -- Names --------------------------------------------------------------------------------

PEOPLE = [("DOE", "JOHN"), ("ИВАНОВ", "ПЁТР"), ("AL-RASHID", "MOHAMMED"), ("OYELARAN", ""), ("SMITH", "ALICE MAY"),
          ("ROE", "RICHARD"), ("MÜLLER", "HANS"), ("JOHNSON", "JOHN")]


@pytest.fixture(scope="module")
def name_index(tmp_path_factory):
    rng = np.random.default_rng(3)
    filler = [("".join(chr(65 + c) for c in rng.integers(0, 26, 7)), "".join(chr(65 + c) for c in rng.integers(0, 26, 5)))
              for _ in range(3000)]
    rows = [names.NameRow(i, False, s, g) for i, (s, g) in enumerate(PEOPLE + filler)]
    directory = tmp_path_factory.mktemp("names") / "n"
    names.build(directory, rows, np.zeros(len(rows), dtype=np.int16))
    return names.NameIndex(directory)


@pytest.mark.parametrize("surname, given, entry, evidence", [
    ("DOE", "JOHN", 0, "surname and given names equal"),
    ("DOE", "JOHM", 0, "surname equal, given names phonetic match"),
    ("JOHNSTON", "JOHN", 7, "surname spelling close, given names equal"),
    ("IVANOV", "PYOTR", 1, "surname equal, given names phonetic match"),
    ("Иванов", "Пётр", 1, "surname and given names equal"),
    ("ALRASHID", "MUHAMMAD", 2, "surname equal, given names phonetic match"),
    ("MOHAMMED", "AL RASHID", 2, "surname and given names equal but swapped"),
    ("OYELARAN", "ADE", 3, "surname equal (no given names on the list)"),
    ("SMITH", "ALICE", 4, "surname equal, given names partly equal"),
    ("MULLER", "HANS", 6, "surname and given names equal"),  # accents are dropped, as in most MRZs
    ("MUELLER", "HANS", 6, "surname phonetic match, given names equal"),  # the ICAO spelling of Ü
])
def test_name_variants_find_their_entry_with_an_explanation(name_index, surname, given, entry, evidence):
    best = name_index.search(surname, given, limit=3)[0]
    assert best.entry == entry
    assert best.evidence == evidence


def test_different_given_names_score_low(name_index):
    best = name_index.search("DOE", "JANE", limit=1)[0]
    assert best.entry == 0 and best.score == 0.5 and best.evidence == "surname equal, given names differ"
    assert name_index.search("ROE", "RICHARD", limit=1)[0].entry == 5


def test_candidate_generation_scores_only_a_few_names(name_index, monkeypatch):
    calls = []
    original = names.compare
    monkeypatch.setattr(names, "compare", lambda *args: calls.append(args) or original(*args))
    name_index.search("DOE", "JOHN")
    assert 0 < len(calls) <= 10  # of 3,007 names: only those sharing a similar token are scored


@pytest.mark.parametrize("a, b, expected", [("PYOTR", "PETR", "phonetic match"), ("JANE", "JOHN", "differ"),
                                            ("YURI", "IOURI", "phonetic match"), ("DOE", "ROE", "differ")])
def test_token_similarity(a, b, expected):
    assert names._token_similarity(a, b)[1] == expected


def test_face_search_keeps_the_interpreter_sound(face_set):
    # simsimd 6.5's cdist(out=...) returned None without a reference: a long-running kiosk
    # would eventually crash freeing None. The index must never lose references to None.
    import sys

    vectors, index, _ = face_set
    index.search(vectors[0])
    before = sys.getrefcount(None)
    for i in range(200):
        index.search(vectors[i])
    assert sys.getrefcount(None) >= before


# -- Runtime seam -------------------------------------------------------------------------

def test_runtime_whose_library_does_not_load_is_a_clear_error(tmp_path, monkeypatch):
    # What ai-edge-litert does on a root without libstdc++6: its __init__ dlopens the library
    # with ctypes, which raises OSError, not ImportError.
    package = tmp_path / "broken_litert"
    package.mkdir()
    (package / "__init__.py").write_text("import ctypes\nctypes.CDLL('libno_such_runtime_library.so.6')\n")
    (package / "interpreter.py").write_text("Interpreter = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(litert, "RUNTIMES", (("ai-edge-litert", "broken_litert.interpreter"),))
    litert._runtime.cache_clear()
    try:
        with pytest.raises(InferenceError, match=r"no LiteRT/TFLite runtime can be loaded .*ai-edge-litert is "
                                                 r"installed but its library does not load .*libno_such_runtime"
                                                 r".*install the system's libstdc\+\+6"):
            litert.runtime_info()
    finally:
        litert._runtime.cache_clear()


@pytest.mark.parametrize("query, listed", [("خالد", "KHALED"), ("خالد", "HALED"), ("محمد", "MOHAMED"),
                                           ("الحسن", "EL HASSAN"), ("الحسن", "ELHASSAN"), ("الحسن", "AL-HASAN"),
                                           ("يوسف", "YOUSSEF"), ("حسين", "HOUSSEIN"), ("مصطفى", "MUSTAPHA")])
def test_arabic_script_finds_its_latin_listing(tmp_path, query, listed):
    # Short vowels are not written in Arabic, the article is joined, and Latin lists spell
    # KH or H, OU or U: the consonants, folded across those schemes, still meet.
    rng = np.random.default_rng(5)
    filler = [("".join(chr(65 + c) for c in rng.integers(0, 26, 6)), "OMAR") for _ in range(2000)]
    rows = [names.NameRow(i, False, s, g) for i, (s, g) in enumerate([(listed, "OMAR")] + filler)]
    names.build(tmp_path / "n", rows, np.zeros(len(rows), dtype=np.int16))
    best = names.NameIndex(tmp_path / "n").search(query, "عمر", limit=3)[0]
    assert best.entry == 0 and best.score >= 0.8
    assert best.evidence == "surname phonetic match, given names phonetic match"


def test_arabic_consonant_key_is_only_for_tokens_written_without_vowels():
    assert names._query_sounds("KHLD") > names._query_sounds("KHLD") - {"a" + names._arabic_key("KHLD")}
    assert not any(sound.startswith("a") for sound in names._query_sounds("MARIA"))  # Latin queries pay nothing
    assert names._token_similarity("MR", "MORAD")[1] == "differ"  # the consonants must all be there
    assert names._token_similarity("LHSN", "HASSAN") == (0.9, "phonetic match")


def test_name_vocabulary_is_a_sorted_byte_array(tmp_path):
    rows = [names.NameRow(0, False, "ZED", "ANNA"), names.NameRow(1, True, "ABEL", "ANNA MARIA")]
    names.build(tmp_path / "n", rows, np.zeros(2, dtype=np.int16))
    index = names.NameIndex(tmp_path / "n")
    assert sorted(index.word(i) for i in range(len(index.words))) == ["ABEL", "ANNA", "MARIA", "ZED"]
    assert all(index.word(index.token_id(w)) == w for w in ("ABEL", "ANNA", "MARIA", "ZED"))
    assert index.token_id("ZE") is None and index.token_id("ZEDD") is None and index.token_id("AAA") is None
    names.build(tmp_path / "empty", [], np.zeros(0, dtype=np.int16))
    empty = names.NameIndex(tmp_path / "empty")
    assert empty.token_id("ANNA") is None and empty.search("ANNA", "") == []
