"""The face index's scan split across threads: each thread its share of the rows, the top lists merged."""

from __future__ import annotations

import numpy as np

from appliance.inference import faces


def test_threads_split_the_rows_and_find_the_same_top_k(tmp_path, monkeypatch):
    monkeypatch.setattr(faces, "BLOCK", 1024)  # 20 blocks: every thread gets several, and a short last one
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((20_000 + 333, 64), dtype=np.float32)
    faces.build(tmp_path / "f", vectors, np.arange(len(vectors), dtype=np.int32))
    index = faces.FaceIndex(tmp_path / "f")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    seen = set()
    for probe in rng.standard_normal((8, 64), dtype=np.float32):
        one = index.search(probe, k=10, threads=1)
        for threads in (2, 3):
            assert index.search(probe, k=10, threads=threads) == one
        exact = np.argsort(-(unit @ (probe / np.linalg.norm(probe))))[:10]
        assert len(set(exact.tolist()) & {m.row for m in one}) >= 9
        seen.update(m.row // (len(vectors) // 2) for m in one)
    assert seen >= {0, 1}  # the best rows come from both halves of the list


def test_scan_share_boundaries_cover_every_row_once(monkeypatch):
    monkeypatch.setattr(faces, "BLOCK", 100)
    codes = np.zeros((1050, 8), dtype=np.int8)
    codes[:, 0] = 1
    codes[1049, 0] = 127  # the very last row is the best: the last share must reach it
    codes[0, 0] = 126     # and the first row the second best
    inv = np.ones(1050, dtype=np.float32)
    query = np.zeros((1, 8), dtype=np.int8)
    query[0, 0] = 1
    rows = faces._scan(codes, inv, query, keep=2, threads=2)
    assert sorted(rows.tolist()) == [0, 1049]
