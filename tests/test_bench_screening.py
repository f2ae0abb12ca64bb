"""``kiosk bench screening`` runs end to end on tiny sizes and prints one JSON object with every figure."""

from __future__ import annotations

import json

from appliance.inference.documents import FORMAT


def test_bench_screening_json_tiny(run_cli, tmp_path):
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    result = run_cli("bench", "screening", "--json", "--faces", "3000", "--dim", "32", "--face-queries", "10",
                     "--rounds", "2", "--documents", "5000", "--lookups", "200", "--cold-hits", "50",
                     "--names", "2000", "--name-queries", "14", "--baseline-queries", "6", "--work-dir", str(work),
                     "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    faces, documents, names = data["faces"], data["documents"], data["names"]
    index_format = FORMAT
    machine = data["machine"]
    assert machine["cpus"] >= 1 and len(machine["load_average_at_start"]) == 3 and len(machine["load_average_at_end"]) == 3
    assert faces["bytes_per_vector"] == 32 + 8 and faces["rounds"] == 2
    assert faces["versions"]["numpy"] != "missing" and faces["versions"]["faiss-cpu"] != "missing"
    for threads in (1, 2):
        row = faces[f"threads_{threads}"]
        assert {"int8", "faiss_sq8", "faiss_flat_ip_f32", "numpy_f32_matvec"} <= set(row)
        assert all(row[name]["median_ms"] > 0 for name in ("int8", "faiss_sq8", "faiss_flat_ip_f32", "numpy_f32_matvec"))
        assert row["faiss_sq8_over_int8"] > 0 and row["faiss_flat_ip_f32_over_int8"] > 0
        assert set(row["faiss_batch_of_queries"]) == {"faiss_flat_ip_f32", "faiss_sq8"}
        assert row["faiss_batch_of_queries"]["faiss_sq8"]["per_query_ms"] > 0
        # Every BLAS/OpenMP pool (numpy's and faiss's) ran with the stated thread count.
        assert row["thread_pools"] and all(pool["num_threads"] == threads for pool in row["thread_pools"])
    assert 0.9 <= faces["recall_at_10"] <= 1 and faces["nearest_in_top_10"] == 1.0
    assert faces["one_recall_at_10"] == faces["nearest_in_top_10"] and faces["ten_recall_at_10"] == faces["recall_at_10"]
    # A near-tie within the tolerance counts for ann-benchmarks' k-NN recall, never against it.
    assert faces["ten_recall_at_10"] <= faces["knn_recall_at_10"] <= 1
    sq8 = faces["faiss_sq8"]
    assert 0.5 <= sq8["ten_recall_at_10"] <= sq8["knn_recall_at_10"] <= 1
    assert {"faster_than_faiss_sq8_1_thread", "top_10_overlap_ge_faiss_sq8", "within_1.3x_of_read_bandwidth_bound",
            "two_threads_scale_1.7x_or_more"} <= set(faces["targets"])
    assert faces["read_bandwidth_gb_s"] > 0.1 and faces["bandwidth_bound_ms"] > 0 and faces["int8_over_bound_1_thread"] > 0
    assert faces["bytes_scanned"] == 3000 * 32
    assert documents["false_negatives_in_listed"] == 0 and documents["listed_checked"] == 50
    for run in ("cold_misses", "cold_hits", "warm", "set_lookup"):
        assert 0 < documents[run]["p50_us"] <= documents[run]["p99_us"] <= documents[run]["max_us"]
    assert documents["cold_misses"]["n"] == 100 and documents["cold_hits"]["n"] == 50 and documents["warm"]["n"] == 200
    # Resident memory counts the file pages the cold run brought back, which a hit must read.
    assert documents["file_pages_touched_by_cold_run_bytes"] >= documents["page_bytes"]
    assert documents["resident_bytes"] == documents["heap_bytes"] + documents["file_pages_touched_by_cold_run_bytes"]
    assert documents["set_ram_bytes_per_record"] > documents["filter_bytes_per_record"]
    assert not documents["index_cached"] and (cache / f"documents-5000-seed20261123-format{index_format}").is_dir()
    assert set(names["recall_by_perturbation"]) == {"typo", "two typos", "cyrillic", "respelled", "swapped",
                                                    "typo and swapped", "arabic script"}
    assert all(0 <= recall <= 1 for recall in names["recall_by_perturbation"].values())
    assert names["baseline"]["queries"] == 6 and names["rapidfuzz_version"] != "missing"
    assert set(names["baseline"]["recall_by_perturbation"]) <= set(names["recall_by_perturbation"])
    assert names["baseline"]["latency"]["median_ms"] > 0 and names["baseline_over_ours"] > 0
    assert all(isinstance(ok, bool) for part in (faces, documents, names) for ok in part["targets"].values())
    assert list(work.iterdir()) == []  # index files are removed afterwards
    # A second run reuses the cached documents index.
    again = run_cli("bench", "screening", "--json", "--faces", "0", "--names", "0", "--documents", "5000",
                    "--lookups", "100", "--cold-hits", "20", "--work-dir", str(work), "--cache-dir", str(cache))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["documents"]["index_cached"] is True


def test_bench_screening_text_report(run_cli, tmp_path):
    result = run_cli("bench", "screening", "--faces", "0", "--documents", "2000", "--lookups", "100",
                     "--cold-hits", "10", "--names", "0", "--cache-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "documents (2,000 records, built in" in result.stdout
    assert "cold cache, hits (disk reads)" in result.stdout and "(10 lookups)" in result.stdout
    assert "machine: " in result.stdout and "load average" in result.stdout
    assert "targets: documents.resident_le_2_bytes_per_record" in result.stdout


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
