"""``kiosk bench screening`` runs end to end on tiny sizes and prints one JSON object with every figure."""

from __future__ import annotations

import json


def test_bench_screening_json_tiny(run_cli, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("bench", "screening", "--json", "--faces", "3000", "--dim", "32", "--face-queries", "5",
                     "--documents", "5000", "--lookups", "200", "--names", "2000", "--name-queries", "12",
                     "--baseline-queries", "6", "--work-dir", str(work))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    faces, documents, names = data["faces"], data["documents"], data["names"]
    assert faces["bytes_per_vector"] == 32 + 8
    assert set(faces["threads_1"]) == {"int8", "faiss_flat_ip_f32", "faiss_over_int8"}
    assert 0.9 <= faces["recall_at_10"] <= 1 and faces["nearest_in_top_10"] == 1.0
    assert faces["one_recall_at_10"] == faces["nearest_in_top_10"] and faces["ten_recall_at_10"] == faces["recall_at_10"]
    assert faces["bandwidth_bound_ms"] > 0 and faces["int8_over_bound_1_thread"] > 0
    assert documents["false_negatives_in_2000_listed"] == 0 and documents["lookup"]["p99_us"] > 0
    assert documents["set_ram_bytes_per_record"] > documents["filter_bytes_per_record"]
    assert set(names["recall_by_perturbation"]) == {"typo", "two typos", "cyrillic", "respelled", "swapped",
                                                    "typo and swapped"}
    assert names["baseline"]["queries"] == 6
    assert all(isinstance(ok, bool) for part in (faces, documents, names) for ok in part["targets"].values())
    assert list(work.iterdir()) == []  # index files are removed afterwards


def test_bench_screening_text_report(run_cli):
    result = run_cli("bench", "screening", "--faces", "0", "--documents", "2000", "--lookups", "100",
                     "--names", "0")
    assert result.exit_code == 0, result.output
    assert "documents (2,000 records, 100 lookups)" in result.stdout
    assert "targets: documents.ram_le_2_bytes_per_record" in result.stdout
