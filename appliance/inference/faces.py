"""Face index: int8 embeddings with a per-vector scale, exact 1:N top-k by cosine similarity.

Files, all memory-mapped when opened:

- ``codes.npy``: N x d int8, each embedding divided by its own max |component| / 127;
- ``inv_norms.npy``: N float32, 1 / ||code||, the per-vector scale that turns a code dot
  product into a cosine;
- ``rows.npy``: N int32, which list entry each vector belongs to.

That is d + 8 bytes per vector. Search is exact brute force in two stages: SimSIMD's int8
dot-product kernel (AVX2/AVX-512 VNNI on x86, NEON/SVE sdot on the Pi's arm64) scores
every code against the int8 query in cache-sized blocks, keeping a running top-K; the K
survivors are rescored with the float query against their codes, which removes the
query's own rounding error. Nothing is approximate except the stored codes themselves.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.inference.files import save_npy

FORMAT = 1
BLOCK = 65536  # rows scored per kernel call: a 256 KiB float32 output stays in L2
RESCORE = 64  # int8 survivors rescored with the float query (at least 4 x k)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 1/||code||) of float vectors (n x d); zero vectors get scale 0."""
    vectors = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(vectors).max(axis=1, keepdims=True)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    codes = np.clip(np.rint(vectors / scale), -127, 127).astype(np.int8)
    norms = np.linalg.norm(codes.astype(np.float32), axis=1)
    inv = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    return codes, inv


def build(directory: Path, vectors: np.ndarray, rows: np.ndarray, chunk: int = 262144) -> dict:
    """Quantize ``vectors`` (n x d float) and write the index; ``rows`` (n ints) name their entries.

    Works in chunks so that 1 M float vectors never need a second float copy. Every file
    is fsynced before it returns. Returns the manifest.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"face vectors must be a 2-D array (n x d), got shape {vectors.shape}")
    n, dim = vectors.shape
    if len(rows) != n:
        raise ValueError(f"{n} vectors but {len(rows)} row ids")
    directory.mkdir(parents=True, exist_ok=True)
    codes = np.lib.format.open_memmap(directory / "codes.npy", mode="w+", dtype=np.int8, shape=(n, dim))
    inv = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        codes[start:start + chunk], inv[start:start + chunk] = quantize(vectors[start:start + chunk])
    codes.flush()
    with open(directory / "codes.npy", "rb+") as handle:
        os.fsync(handle.fileno())
    del codes
    save_npy(directory / "inv_norms.npy", inv)
    save_npy(directory / "rows.npy", np.asarray(rows, dtype=np.int32))
    manifest = {"format": FORMAT, "kind": "faces", "vectors": n, "dim": dim, "bytes_per_vector": dim + 8}
    with open(directory / "faces.json", "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return manifest


@dataclass(frozen=True)
class FaceMatch:
    """One listed face close to the query: its entry row and cosine similarity."""

    row: int
    similarity: float


class FaceIndex:
    """An opened face index (memory-mapped); ``search`` is safe to call from several threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.manifest = json.loads((self.directory / "faces.json").read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{self.directory} is not a face index of format {FORMAT}")
        self.codes = np.load(self.directory / "codes.npy", mmap_mode="r")
        self.inv_norms = np.load(self.directory / "inv_norms.npy", mmap_mode="r")
        self.rows = np.load(self.directory / "rows.npy", mmap_mode="r")

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def __len__(self) -> int:
        return int(self.manifest["vectors"])

    def search(self, embedding: np.ndarray, k: int = 10, threads: int = 1) -> list[FaceMatch]:
        """The k most similar listed faces, best first (exact over every stored code).

        Raises ValueError for an embedding of the wrong dimension or with no direction.
        """
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"face embedding has {query.shape[0]} dimensions, the list's index has {self.dim}")
        norm = float(np.linalg.norm(query))
        if not np.isfinite(norm) or norm == 0:
            raise ValueError("face embedding is zero or not finite")
        if len(self) == 0 or k <= 0:
            return []
        query_code, _ = quantize(query[None, :])
        keep = min(max(RESCORE, 4 * k), len(self))
        candidates = _scan(self.codes, self.inv_norms, query_code, keep, threads)
        # Second stage: the float query against the survivors' codes, so only the stored
        # side's rounding remains in the similarity.
        rescored = (self.codes[candidates].astype(np.float32) @ query) * self.inv_norms[candidates] / norm
        order = np.argsort(-rescored, kind="stable")[:k]
        return [FaceMatch(row=int(self.rows[candidates[i]]), similarity=float(rescored[i])) for i in order]


def _kernel():
    try:
        import simsimd
    except ImportError:  # pragma: no cover - simsimd ships wheels for x86-64 and arm64
        return None
    return simsimd


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A lasting pool of ``workers`` threads (starting threads per query would cost more than
    a 100 k-face scan)."""
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="face-scan")
        return _pools[workers]


def _scan(codes: np.ndarray, inv_norms: np.ndarray, query_code: np.ndarray, keep: int, threads: int) -> np.ndarray:
    """Row numbers of the ``keep`` best int8 cosine scores.

    With several threads each scans its own contiguous share of the rows with its own top
    list (the kernel releases the GIL), and the lists are merged: one fork and join per query.
    The kernel's own OpenMP threads instead fork and join on every block, and on a busy
    machine their spinning waits cost more than the second core brings.
    """
    n = codes.shape[0]
    if threads <= 1 or n < 2 * BLOCK:
        return _scan_rows(codes, inv_norms, query_code, keep, 0, n)[1]
    bounds = [n * part // threads // BLOCK * BLOCK for part in range(threads)] + [n]
    pool = _pool(threads - 1)
    others = [pool.submit(_scan_rows, codes, inv_norms, query_code, keep, bounds[part], bounds[part + 1])
              for part in range(1, threads)]
    parts = [_scan_rows(codes, inv_norms, query_code, keep, bounds[0], bounds[1])] + [f.result() for f in others]
    scores = np.concatenate([part[0] for part in parts])
    rows = np.concatenate([part[1] for part in parts])
    if len(scores) > keep:
        top = np.argpartition(scores, -keep)[-keep:]
        rows = rows[top]
    return rows


def _scan_rows(codes: np.ndarray, inv_norms: np.ndarray, query_code: np.ndarray, keep: int, begin: int,
               end: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, row numbers) of the ``keep`` best int8 cosine scores among rows begin..end,
    scanning block by block."""
    kernel = _kernel()
    best_scores = np.empty(0, dtype=np.float32)
    best_rows = np.empty(0, dtype=np.int64)
    floor = -np.inf
    for start in range(begin, end, BLOCK):
        stop = min(start + BLOCK, end)
        if kernel is not None:
            # No ``out=``: simsimd 6.5's cdist then returns None without a reference, and
            # after enough calls the interpreter dies freeing None. A 256 KiB result per
            # block costs nothing beside the scan.
            row = np.asarray(kernel.cdist(query_code, codes[start:stop], metric="dot", threads=1,
                                          out_dtype="float32"))[0]
        else:
            row = (codes[start:stop].astype(np.int32) @ query_code[0].astype(np.int32)).astype(np.float32)
        row *= inv_norms[start:stop]
        # Only rows that beat the current k-th best can enter the top list: after the
        # first blocks this is a handful per block, so the merge costs nothing.
        passing = np.flatnonzero(row > floor)
        if len(passing):
            best_scores = np.concatenate([best_scores, row[passing]])
            best_rows = np.concatenate([best_rows, passing + start])
            if len(best_scores) > keep:
                top = np.argpartition(best_scores, -keep)[-keep:]
                best_scores, best_rows = best_scores[top], best_rows[top]
                floor = float(best_scores.min())
    return best_scores, best_rows
