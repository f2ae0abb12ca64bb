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
    # A near-tie within the tolerance counts for ann-benchmarks' k-NN recall, never against it.
    assert faces["ten_recall_at_10"] <= faces["knn_recall_at_10"] <= 1
    sq8 = faces["faiss_sq8"]
    assert 0.5 <= sq8["ten_recall_at_10"] <= sq8["knn_recall_at_10"] <= 1
    assert sq8["threads_1"]["median_ms"] > 0 and sq8["threads_2"]["median_ms"] > 0
    assert {"one_recall_at_10_ge_0.99", "knn_recall_at_10_ge_0.99", "ten_recall_at_10_ge_0.99"} <= set(faces["targets"])
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


def test_recall_readings_on_a_known_answer():
    import numpy as np

    from appliance.bench.screening import KNN_EPSILON, _recall

    # One query along the first axis; vector i has cosine 1 - i / 100 to it, so the exact
    # top 10 are rows 0..9; row 10 is moved to trail row 9 by half the tolerance.
    similarity = 1 - np.arange(20) / 100
    similarity[10] = similarity[9] - KNN_EPSILON / 2
    vectors = np.zeros((20, 2), dtype=np.float32)
    vectors[:, 0] = similarity
    vectors[:, 1] = np.sqrt(1 - similarity ** 2)
    probe = np.array([[1.0, 0.0]], dtype=np.float32)
    truth = np.arange(10)[None, :]
    truth_similarity = similarity[None, :10].astype(np.float32)
    # Returned: the nearest is missing, row 10 (a near-tie with row 9) and row 15 (far) stand in.
    found = [[1, 2, 3, 4, 5, 6, 7, 8, 10, 15]]
    figures = _recall(found, truth, truth_similarity, vectors, probe)
    assert figures["one_recall_at_10"] == 0.0
    assert figures["ten_recall_at_10"] == 0.8
    assert abs(figures["knn_recall_at_10"] - 0.9) < 1e-9
