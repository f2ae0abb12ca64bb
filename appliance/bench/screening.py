"""``kiosk bench screening``: the three screening indexes beside their peers, measured in one run.

- faces: the int8 index (SimSIMD kernel) against faiss-cpu ``IndexFlatIP`` on float32 and a
  numpy float32 matrix-vector product, one query at a time, 1 and 2 threads; recall
  against exact float32 search; bytes per vector; the memory-bandwidth bound.
- documents: the fuse filter + memory-mapped index against a Python ``set`` of the same
  keys: lookup latency and RAM per record, extrapolated to 100 M records.
- names: the fuzzy name index against rapidfuzz ``process.extract`` with WRatio over every
  name: recall of the true entry in the top 10, and latency.

Synthetic data is generated from ``--seed``, so two runs see the same lists and queries.
"""

from __future__ import annotations

import gc
import os
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import click
import numpy as np

from appliance.bench import machine, pagecache
from appliance.domain.names import fold
from appliance.inference import documents, faces, names

STATES = ("UTO", "D", "FRA", "GBR", "USA", "NGA", "KEN", "MLI", "NER", "BDI", "KGZ", "RUS", "CHN", "IND", "BRA",
          "MEX", "EGY", "TUR", "IRN", "PAK", "SDN", "ETH", "COD", "TZA", "UGA", "GHA", "SEN", "CIV", "CMR", "TCD")


def _rss() -> dict[str, int]:
    """Resident memory of this process: anonymous (heap) and file-backed (memory maps), bytes."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(("RssAnon:", "RssFile:")):
                name, value = line.split(":")
                found[name] = int(value.split()[0]) * 1024
    return {"anon": found.get("RssAnon", 0), "file": found.get("RssFile", 0)}


_OPEN_PROBE = """
import json, sys
from pathlib import Path
from appliance.bench.screening import _rss
from appliance.inference.documents import DocumentIndex, fingerprint
before = _rss()
index = DocumentIndex(Path(sys.argv[1]))
index.lookup("UTO", "X")
print(json.dumps({"before": before, "opened": _rss()}))
"""


def _open_rss(directory: Path) -> int:
    """Resident heap a fresh process gains by opening the index (this process's allocator
    still holds the build's freed memory, which would hide it)."""
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", _OPEN_PROBE, str(directory)], capture_output=True, text=True,
                          check=True)
    figures = json.loads(done.stdout)
    return figures["opened"]["anon"] - figures["before"]["anon"]


_SET_PROBE = """
import json, sys
from appliance.bench.screening import _rss
before = _rss()
with open(sys.argv[1], encoding="ascii") as handle:
    keys = {line.rstrip("\\n") for line in handle}
print(json.dumps({"before": before, "built": _rss(), "keys": len(keys)}))
"""


def _set_rss(path: Path) -> int:
    """Resident heap a fresh process gains holding the keys listed in ``path`` as a Python set."""
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", _SET_PROBE, str(path)], capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    return figures["built"]["anon"] - figures["before"]["anon"]


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples)
    return {"median_ms": float(np.median(values) * 1e3), "p99_ms": float(np.percentile(values, 99) * 1e3)}


def _timed(calls: int, call: Callable[[int], Any], warmup: int = 3) -> list[float]:
    for i in range(min(warmup, calls)):
        call(i)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return times


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        click.echo(text)


def _progress(quiet: bool, total: int, what: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="rec", unit_scale=True, file=sys.stderr, disable=quiet, leave=False)


# -- Faces ----------------------------------------------------------------------------------

def _read_bandwidth() -> dict[str, Any]:
    """Bytes per second one thread reads from memory: the fastest of two read-only passes over
    256 MiB (far beyond any cache), best of 5 each. Nothing is written, so a scan that only
    reads its codes is bounded by this, not by a copy's (read + write) figure."""
    data = np.ones(32 * 1024 * 1024, dtype=np.float64)
    passes = {"numpy count_nonzero (bytes)": lambda: np.count_nonzero(data.view(np.bool_)),
              "numpy sum (float64)": lambda: float(data.sum())}
    best: dict[str, float] = {}
    for name, read in passes.items():
        read()
        seconds = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            read()
            seconds = min(seconds, time.perf_counter() - start)
        best[name] = data.nbytes / seconds
    fastest = max(best, key=lambda name: best[name])
    return {"bytes_per_s": best[fastest], "pass": fastest,
            "passes_gb_s": {name: round(value / 1e9, 2) for name, value in best.items()}}


def _interleaved(rounds: int, queries: int, engines: dict[str, tuple[int, Callable[[int], Any]]]) -> dict[str, list[float]]:
    """Per-query seconds of each engine, measured in ``rounds`` rounds that take turns.

    ``engines`` maps a name to (how many of the queries it runs, call(query number)). Each
    round runs every engine on its next slice of queries, the order rotating from round to
    round, so a burst of load from elsewhere on the machine falls on all of them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in engines}
    names = list(engines)
    for name, (count, call) in engines.items():  # warm-up: first touches, lazy allocations
        for i in range(min(3, count)):
            call(i)
    for round_number in range(rounds):
        for name in names[round_number % len(names):] + names[:round_number % len(names)]:
            count, call = engines[name]
            for i in range(round_number * count // rounds, (round_number + 1) * count // rounds):
                start = time.perf_counter()
                call(i % queries)
                times[name].append(time.perf_counter() - start)
    return times


def bench_faces(count: int, dim: int, queries: int, seed: int, work: Path, quiet: bool,
                rounds: int = 5) -> dict[str, Any]:
    import faiss

    rng = np.random.default_rng(seed)
    _say(quiet, f"faces: {count:,} x {dim}-d vectors, {queries} queries, top-10")
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # A listed person seen again: the listed embedding plus noise (cosine about 0.7 to it).
    # float32 throughout: under NumPy 2 a float64 scalar would make the queries float64, and
    # every float32 product with them would convert the whole matrix first.
    targets = rng.integers(0, count, queries)
    noise = rng.standard_normal((queries, dim), dtype=np.float32) * np.float32(1 / np.sqrt(dim))
    probes = (vectors[targets] + noise).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    start = time.perf_counter()
    faces.build(work / "faces", vectors, np.arange(count, dtype=np.int32))
    build_s = time.perf_counter() - start
    index = faces.FaceIndex(work / "faces")
    stored = sum((work / "faces" / name).stat().st_size - 128 for name in ("codes.npy", "inv_norms.npy", "rows.npy"))
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    # faiss's own 8-bit flat index on the same data, d bytes a vector: the same kind of
    # codes from the peer library, so the recall figures show what 8 bits allow.
    sq8 = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sq8.train(vectors[:min(count, 100_000)])
    sq8.add(vectors)
    result: dict[str, Any] = {"vectors": count, "dim": dim, "queries": queries, "k": 10, "build_s": round(build_s, 2),
                              "rounds": rounds, "bytes_per_vector": round(stored / count, 2), "kernel": _kernel_name(),
                              "versions": machine.versions("numpy", "faiss-cpu", "simsimd")}
    faiss.omp_set_num_threads(2)
    truth_similarity, truth = flat.search(probes, 10)
    found = [[m.row for m in index.search(probes[i], k=10)] for i in range(queries)]
    result.update(_recall(found, truth, truth_similarity, vectors, probes))
    _, sq8_found = sq8.search(probes, 10)
    result["faiss_sq8"] = _recall([row.tolist() for row in sq8_found], truth, truth_similarity, vectors, probes)
    codes_bytes = np.asarray(index.codes).reshape(-1).view(np.bool_)
    # numpy's float32 mat-vec is ten times slower than the others: a fifth of the queries.
    numpy_queries = max(1, min(queries, queries // 5 or 1))
    for threads in (1, 2):
        # simsimd and faiss-cpu bundle the same libgomp (one soname), which the loader loads
        # once: simsimd's kernel sets the calling thread's OpenMP thread count on every call,
        # so faiss's count is set again right before each of its searches.
        def faiss_search(peer: Any, batch: np.ndarray, threads: int = threads) -> Any:
            faiss.omp_set_num_threads(threads)
            return peer.search(batch, 10)

        with machine.limited_threads(threads):
            engines = {
                "int8": (queries, lambda i: index.search(probes[i], k=10, threads=threads)),
                "faiss_flat_ip_f32": (queries, lambda i: faiss_search(flat, probes[i:i + 1])),
                "faiss_sq8": (queries, lambda i: faiss_search(sq8, probes[i:i + 1])),
                "numpy_f32_matvec": (numpy_queries, lambda i: np.argpartition(vectors @ probes[i], -10)[-10:]),
            }
            if threads == 1:
                # The bound, taken in the same rounds: one thread reading the very bytes the
                # scan reads (the index's codes), and doing nothing else with them.
                engines["read_pass"] = (queries, lambda i: np.count_nonzero(codes_bytes))
            timed = _interleaved(rounds, queries, engines)
            # The same queries as one batch: faiss splits a batch across its threads (and uses
            # BLAS for the flat index from 20 queries on); per query = batch time / queries.
            batch = {}
            for name, peer in (("faiss_flat_ip_f32", flat), ("faiss_sq8", sq8)):
                faiss_search(peer, probes)
                start = time.perf_counter()
                faiss_search(peer, probes)
                batch[name] = {"per_query_ms": round((time.perf_counter() - start) / queries * 1e3, 3)}
            pools = machine.thread_pools()  # as faiss's searches ran
        row: dict[str, Any] = {name: _percentiles(samples) for name, samples in timed.items()}
        ours = row["int8"]["median_ms"]
        for name in ("faiss_flat_ip_f32", "faiss_sq8", "numpy_f32_matvec"):
            row[f"{name}_over_int8"] = round(row[name]["median_ms"] / ours, 2)
        row["faiss_batch_of_queries"] = batch
        row["thread_pools"] = pools
        result[f"threads_{threads}"] = row
    faiss.omp_set_num_threads(1)
    scanned = count * dim
    read_pass = result["threads_1"].pop("read_pass")
    result["threads_1"].pop("read_pass_over_int8", None)
    bound_ms = read_pass["median_ms"]
    bandwidth = _read_bandwidth()
    result["read_bandwidth_gb_s"] = round(scanned / bound_ms / 1e6, 2)
    result["read_bandwidth_pass"] = "numpy count_nonzero over the index's codes, in the rounds"
    result["read_bandwidth_256mib_best_gb_s"] = bandwidth["passes_gb_s"]
    result["bytes_scanned"] = scanned
    result["bandwidth_bound_ms"] = round(bound_ms, 3)
    result["bandwidth_bound_p99_ms"] = round(read_pass["p99_ms"], 3)
    one, two = result["threads_1"], result["threads_2"]
    result["int8_over_bound_1_thread"] = round(one["int8"]["median_ms"] / bound_ms, 2)
    result["int8_two_thread_speedup"] = round(one["int8"]["median_ms"] / two["int8"]["median_ms"], 2)
    result["targets"] = {
        "faster_than_faiss_sq8_1_thread": one["faiss_sq8_over_int8"] > 1,
        "faster_than_faiss_flat_1_thread": one["faiss_flat_ip_f32_over_int8"] > 1,
        "top_10_overlap_ge_faiss_sq8": result["ten_recall_at_10"] >= result["faiss_sq8"]["ten_recall_at_10"],
        "within_1.3x_of_read_bandwidth_bound": result["int8_over_bound_1_thread"] <= 1.3,
        "two_threads_scale_1.7x_or_more": result["int8_two_thread_speedup"] >= 1.7,
        "bytes_per_vector_le_d_plus_8": result["bytes_per_vector"] <= dim + 8,
    }
    del flat, sq8, vectors
    gc.collect()
    return result


KNN_EPSILON = 1e-3  # ann-benchmarks' default tolerance on the distance (here 1 - cosine)


def _recall(found: list[list[int]], truth: np.ndarray, truth_similarity: np.ndarray, vectors: np.ndarray,
            probes: np.ndarray) -> dict[str, float]:
    """Three published readings of recall@10 for the rows ``found`` per query, against exact search.

    - one_recall_at_10: faiss's R@10, the exact nearest neighbour is among the 10 returned;
    - knn_recall_at_10: ann-benchmarks' k-NN recall, the share of the 10 returned whose exact
      distance is within KNN_EPSILON of the exact 10th nearest's (a near-tie counts);
    - ten_recall_at_10: the strict overlap of the 10 returned with the exact top 10.
    """
    one, knn, ten = [], [], []
    for i, rows in enumerate(found):
        exact = set(truth[i].tolist())
        one.append(int(truth[i][0]) in rows)
        ten.append(len(exact & set(rows)) / 10)
        similarity = vectors[rows] @ probes[i]
        knn.append(float(np.sum(similarity >= truth_similarity[i][9] - KNN_EPSILON)) / 10)
    return {"one_recall_at_10": float(np.mean(one)), "knn_recall_at_10": float(np.mean(knn)),
            "ten_recall_at_10": float(np.mean(ten)),
            # Earlier names of two of them, kept for scripts that read them.
            "nearest_in_top_10": float(np.mean(one)), "recall_at_10": float(np.mean(ten))}


def _kernel_name() -> str:
    try:
        import simsimd

        caps = [name for name, on in simsimd.get_capabilities().items() if on and name != "serial"]
        # simsimd's bundled __init__.pyi omits the __version__ the module has.
        return f"simsimd {simsimd.__version__} ({', '.join(caps)})"  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover
        return "numpy int32 (simsimd missing)"


# -- Documents --------------------------------------------------------------------------------

def _numbers(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` document numbers: 9 characters A-Z 0-9, as a fixed-width bytes array."""
    alphabet = np.frombuffer((string.ascii_uppercase + string.digits).encode(), dtype=np.uint8)
    return alphabet[rng.integers(0, 36, (count, 9))].view("S9").reshape(-1)


def synthetic_documents(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(states as indexes into STATES, numbers) of ``count`` synthetic listed documents."""
    rng = np.random.default_rng(seed + 1)
    numbers = _numbers(rng, count)
    states = rng.integers(0, len(STATES), count).astype(np.int8)
    return states, numbers


def document_records(states: np.ndarray, numbers: np.ndarray) -> Iterator[documents.Record]:
    reasons = ("stolen", "lost", "revoked", "invalid")
    for position in range(len(numbers)):
        yield documents.Record(STATES[states[position]], "P", numbers[position].decode(), reasons[position % 4])


def cached_documents_index(cache: Path, count: int, seed: int, quiet: bool) -> tuple[Path, float | None]:
    """The directory of a documents index of ``count`` synthetic records from ``seed``, built
    once under ``cache`` (keyed by size, seed and index format) and reused by later runs;
    and the build's seconds when this call built it (None when it was cached)."""
    directory = cache / f"documents-{count}-seed{seed}-format{documents.FORMAT}"
    if (directory / "manifest.json").exists():
        return directory, None
    states, numbers = synthetic_documents(count, seed)
    building = cache / f"{directory.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    bar = _progress(quiet, count, "documents index")
    start = time.perf_counter()
    documents.build(document_records(states, numbers), building, total=count,
                    progress=lambda done: bar.update(done - bar.n))
    build_s = time.perf_counter() - start
    bar.close()
    os.replace(building, directory)
    return directory, build_s


def _lookups_us(index: documents.DocumentIndex, probes: list[tuple[str, str]]) -> list[float]:
    times = []
    for state, number in probes:
        start = time.perf_counter()
        index.lookup(state, number)
        times.append((time.perf_counter() - start) * 1e6)
    return times


def _us(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples)
    return {"p50_us": round(float(np.median(values)), 2), "p99_us": round(float(np.percentile(values, 99)), 2),
            "max_us": round(float(values.max()), 1), "n": len(samples)}


def bench_documents(count: int, lookups: int, seed: int, work: Path, quiet: bool, cache: Path | None = None,
                    cold_hits: int = 1000) -> dict[str, Any]:
    """The document index beside a Python set: cold misses, cold hits, warm lookups; heap and
    the file pages the lookups touched.

    The index's files are evicted from the page cache (posix_fadvise DONTNEED) once the index
    is open, so the cold runs read the disk as after a reboot; what the lookups bring back in
    is counted with mincore and added to the heap a fresh process gains opening the index.
    """
    _say(quiet, f"documents: {count:,} records, {lookups:,} warm lookups (half listed), {lookups // 2:,} cold misses, "
                f"{cold_hits:,} cold hits")
    directory, build_s = cached_documents_index(cache or work, count, seed, quiet)
    states, numbers = synthetic_documents(count, seed)
    rng = np.random.default_rng(seed + 11)
    gc.collect()
    measured = _open_rss(directory)
    # The fixed overhead (imports' first allocations, Python objects): opening a 1-record index.
    documents.build(iter([documents.Record("UTO", "P", "X1", "")]), work / "documents-1")
    fixed = _open_rss(work / "documents-1")
    misses = [(STATES[i % len(STATES)], "Q" + n.decode()[1:]) for i, n in enumerate(_numbers(rng, lookups // 2))]
    listed = rng.choice(count, size=min(count, cold_hits), replace=False)
    hits = [(STATES[states[i]], numbers[i].decode()) for i in listed]
    warm_listed = rng.integers(0, count, lookups - len(misses))
    warm = [(STATES[states[i]], numbers[i].decode()) for i in warm_listed] + misses
    warm = [warm[i] for i in rng.permutation(len(warm))]
    index = documents.DocumentIndex(directory)
    pagecache.evict_dir(directory)
    evicted = sum(pagecache.resident_dir(directory).values())
    cold_misses = _lookups_us(index, misses)
    after_misses = pagecache.resident_dir(directory)
    cold_hit_times = _lookups_us(index, hits)
    after_cold = pagecache.resident_dir(directory)
    false_negatives = sum(1 for state, number in hits[:2000] if not index.lookup(state, number))
    # Warm: the same kind of lookups with every file page they need in the cache.
    for state, number in warm:
        index.lookup(state, number)
    warm_times = _lookups_us(index, warm)
    filter_bytes = index.filter_bytes()
    disk = sum(p.stat().st_size for p in directory.iterdir())
    index.close()
    del index
    gc.collect()
    keys = {STATES[states[i]] + "\x1f" + numbers[i].decode() for i in range(count)}
    listing = work / "keys.txt"
    with open(listing, "w", encoding="ascii") as handle:
        handle.writelines(key + "\n" for key in keys)
    set_bytes = _set_rss(listing)
    listing.unlink()
    set_probe = [a + "\x1f" + b for a, b in warm]
    peer = _timed(len(set_probe), lambda i: set_probe[i] in keys, warmup=1000)
    del keys, set_probe
    gc.collect()
    # Resident heap a fresh process gains opening the index: the filter and the fences.
    # Below a few MB the allocator's granularity hides it, so it never counts less than the filter.
    heap = max(measured - fixed, filter_bytes)
    touched_misses = sum(after_misses.values()) - evicted
    touched = sum(after_cold.values()) - evicted
    resident = heap + touched
    result: dict[str, Any] = {
        "records": count, "lookups": len(warm), "build_s": None if build_s is None else round(build_s, 1),
        "index_cached": build_s is None, "page_bytes": pagecache.PAGE,
        "cold_misses": _us(cold_misses), "cold_hits": _us(cold_hit_times), "warm": _us(warm_times),
        "set_lookup": _us([t * 1e6 for t in peer]),
        "heap_bytes": heap, "heap_bytes_per_record": round(heap / count, 3), "ram_fixed_overhead_bytes": fixed,
        "filter_bytes_per_record": round(filter_bytes / count, 3),
        "file_pages_after_evicting_bytes": evicted,
        "file_pages_touched_by_cold_misses_bytes": touched_misses,
        "file_pages_touched_by_cold_run_bytes": touched,
        "file_pages_touched_per_cold_hit": round((touched - touched_misses) / max(len(hits), 1) / pagecache.PAGE, 2),
        "file_pages_touched_by_cold_run": {name: after_cold[name] for name in sorted(after_cold) if after_cold[name]},
        "resident_bytes": resident, "resident_bytes_per_record": round(resident / count, 3),
        "disk_bytes_per_record": round(disk / count, 1),
        "set_ram_bytes": set_bytes, "set_ram_bytes_per_record": round(set_bytes / count, 1),
        "set_over_index_resident": round(set_bytes / max(resident, 1), 1),
        "false_negatives_in_listed": false_negatives, "listed_checked": min(2000, len(hits)),
        # The heap grows with the records; the pages a run touches with its lookups, not the list.
        "at_100M": {"resident_gb": round((heap / count * 1e8 + touched) / 1e9, 3),
                    "resident_bytes_per_record": round((heap / count * 1e8 + touched) / 1e8, 3),
                    "disk_gb": round(disk / count * 1e8 / 1e9, 1), "set_ram_gb": round(set_bytes / count * 1e8 / 1e9, 1),
                    "fits_4gb_board": heap / count * 1e8 + touched < 1e9},
    }
    result["targets"] = {"resident_le_2_bytes_per_record": result["resident_bytes_per_record"] <= 2,
                         "cold_miss_p99_le_50_us": result["cold_misses"]["p99_us"] <= 50,
                         "cold_hit_p99_le_5_ms": result["cold_hits"]["p99_us"] <= 5000,
                         "no_false_negative": false_negatives == 0}
    return result


# -- Names ----------------------------------------------------------------------------------

_ONSETS = ["", "B", "D", "G", "H", "K", "KH", "L", "M", "N", "P", "R", "S", "SH", "T", "V", "Y", "Z", "CH", "F", "J",
           "TS", "DR", "ST", "BR"]
_VOWELS = ["A", "E", "I", "O", "U", "AI", "OU", "IA", "EI"]
_CODAS = ["", "", "N", "R", "L", "M", "S", "D", "K", "V", "NT", "SK"]
_CYRILLIC = {"SHCH": "Щ", "SH": "Ш", "CH": "Ч", "KH": "Х", "TS": "Ц", "ZH": "Ж", "YA": "Я", "YU": "Ю", "YO": "Ё",
             "A": "А", "B": "Б", "V": "В", "G": "Г", "D": "Д", "E": "Е", "Z": "З", "I": "И", "Y": "Й", "K": "К",
             "L": "Л", "M": "М", "N": "Н", "O": "О", "P": "П", "R": "Р", "S": "С", "T": "Т", "U": "У", "F": "Ф",
             "H": "Х", "J": "ДЖ", "C": "К", "W": "В", "X": "КС", "Q": "К"}


def _word(rng: np.random.Generator) -> str:
    syllables = rng.integers(2, 4)
    return "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                   + (_CODAS[rng.integers(len(_CODAS))] if k == syllables - 1 else "") for k in range(syllables))


def _to_cyrillic(text: str) -> str:
    out, position = [], 0
    while position < len(text):
        for size in (4, 2, 1):
            piece = text[position:position + size]
            if piece in _CYRILLIC:
                out.append(_CYRILLIC[piece])
                position += size
                break
        else:
            out.append(text[position])
            position += 1
    return "".join(out)


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 4:
        return word
    position = int(rng.integers(1, len(word) - 1))
    action = int(rng.integers(4))
    letter = chr(ord("A") + int(rng.integers(26)))
    if action == 0:
        return word[:position] + letter + word[position + 1:]
    if action == 1:
        return word[:position] + word[position + 1:]
    if action == 2:
        return word[:position] + letter + word[position:]
    return word[:position - 1] + word[position] + word[position - 1] + word[position + 1:]


PERTURBATIONS = ("typo", "two typos", "cyrillic", "respelled", "swapped", "typo and swapped", "arabic script")
ARABIC_SHARE = 0.1  # of the listed names, those of Arabic origin, listed in a Latin spelling
# (letter, Arabic, French-style Latin, English-style Latin)
_ARABIC_CONSONANTS = (("b", "ب", "B", "B"), ("t", "ت", "T", "T"), ("th", "ث", "T", "TH"), ("j", "ج", "DJ", "J"),
                      ("h", "ح", "H", "H"), ("kh", "خ", "KH", "KH"), ("d", "د", "D", "D"), ("r", "ر", "R", "R"),
                      ("z", "ز", "Z", "Z"), ("s", "س", "S", "S"), ("sh", "ش", "CH", "SH"), ("f", "ف", "F", "F"),
                      ("q", "ق", "K", "Q"), ("k", "ك", "K", "K"), ("l", "ل", "L", "L"), ("m", "م", "M", "M"),
                      ("n", "ن", "N", "N"), ("w", "و", "OU", "W"), ("y", "ي", "Y", "Y"))
# (vowel, Arabic: short vowels are not written, long ones are, French-style spellings, English-style)
_ARABIC_VOWELS = (("a", "", ("A", "E"), ("A",)), ("i", "", ("I", "E"), ("I",)), ("u", "", ("OU",), ("U", "O")),
                  ("aa", "ا", ("A",), ("A", "AA")), ("ii", "ي", ("I",), ("I", "EE")), ("uu", "و", ("OU",), ("U", "OO")))


def _arabic_word(rng: np.random.Generator, article: bool) -> tuple[str, str]:
    """(Latin spelling as a list would carry it, the same name in Arabic script) of a
    synthetic Arabic name: short vowels unwritten in Arabic, French- or English-style Latin
    (KH sometimes just H, SH or CH, DJ or J, OU or U), the article joined, spaced or hyphenated."""
    french = bool(rng.random() < 0.5)
    latin, arabic = [], []
    for syllable in range(int(rng.integers(2, 4))):
        consonant = _ARABIC_CONSONANTS[int(rng.integers(len(_ARABIC_CONSONANTS)))]
        vowel = _ARABIC_VOWELS[int(rng.integers(len(_ARABIC_VOWELS))) if rng.random() < 0.4 else int(rng.integers(3))]
        spelled = consonant[2] if french else consonant[3]
        if consonant[0] == "kh" and rng.random() < 0.3:
            spelled = "H"
        spellings = vowel[2] if french else vowel[3]
        latin += [spelled, spellings[int(rng.integers(len(spellings)))]]
        arabic += [consonant[1], vowel[1]]
    if rng.random() < 0.5:  # a closing consonant
        consonant = _ARABIC_CONSONANTS[int(rng.integers(len(_ARABIC_CONSONANTS)))]
        latin.append(consonant[2] if french else consonant[3])
        arabic.append(consonant[1])
    word, script = "".join(latin), "".join(arabic)
    if article:
        word = ("EL ", "AL-", "EL", "AL ")[int(rng.integers(4))] + word
        script = "ال" + script
    return word, script
# Latin spellings of one name that different transliteration schemes give (OU/U, KH/H...).
_RESPELL = (("OU", "U"), ("KH", "H"), ("Y", "I"), ("J", "DJ"), ("V", "W"), ("TS", "TZ"), ("EI", "EY"),
            ("SH", "CH"), ("IA", "IYA"), ("K", "C"), ("F", "PH"), ("U", "OU"))


def _perturb(rng: np.random.Generator, kind: str, surname: str, given: str,
             arabic: dict[str, str]) -> tuple[str, str]:
    """A traveller's (surname, given names) as a query would carry them; ``arabic`` gives
    the Arabic script of the Arabic-origin names' Latin spellings."""
    if kind == "typo":
        return _typo(rng, surname), given
    if kind == "two typos":
        return _typo(rng, surname), _typo(rng, given)
    if kind == "cyrillic":
        return _to_cyrillic(surname), _to_cyrillic(given)
    if kind == "arabic script":
        return arabic[surname], " ".join(arabic[word] for word in given.split())
    if kind == "swapped":
        return given, surname
    if kind == "respelled":
        def respell(word: str) -> str:
            options = [pair for pair in _RESPELL if pair[0] in word]
            if not options:
                return _typo(rng, word)
            old, new = options[int(rng.integers(len(options)))]
            return word.replace(old, new, 1)

        return respell(surname), respell(given)
    return _typo(rng, given), surname


def bench_names(count: int, queries: int, baseline_queries: int, seed: int, work: Path,
                quiet: bool) -> dict[str, Any]:
    from rapidfuzz import fuzz, process

    rng = np.random.default_rng(seed + 2)
    _say(quiet, f"names: {count:,} names, {queries} perturbed queries, baseline on {baseline_queries}")
    surnames = list(dict.fromkeys(_word(rng) for _ in range(max(count // 10, 100))))
    given_pool = list(dict.fromkeys(_word(rng) for _ in range(max(count // 200, 50))))
    # Zipf-like popularity: some names are very common, as in real lists.
    surname_pick = np.minimum(rng.zipf(1.3, count) - 1, len(surnames) - 1)
    given_pick = np.minimum(rng.zipf(1.5, (count, 2)) - 1, len(given_pool) - 1)
    two_given = rng.random(count) < 0.4
    people = [(surnames[surname_pick[i]],
               given_pool[given_pick[i, 0]] + (" " + given_pool[given_pick[i, 1]] if two_given[i] else ""))
              for i in range(count)]
    # Names of Arabic origin, listed in a Latin spelling; the traveller's own papers may give
    # them in Arabic script (the "arabic script" queries).
    arabic: dict[str, str] = {}
    arabic_surnames = [_arabic_word(rng, article=bool(rng.random() < 0.3)) for _ in range(max(count // 100, 20))]
    arabic_given = [_arabic_word(rng, article=False) for _ in range(max(count // 2000, 20))]
    arabic.update(arabic_surnames + arabic_given)
    arabic_rows = np.flatnonzero(rng.random(count) < ARABIC_SHARE)
    for i in arabic_rows.tolist():
        people[i] = (arabic_surnames[int(rng.integers(len(arabic_surnames)))][0],
                     arabic_given[int(rng.integers(len(arabic_given)))][0])
    years = rng.integers(1940, 2005, count).astype(np.int16)
    start = time.perf_counter()
    names.build(work / "names", (names.NameRow(i, False, s, g) for i, (s, g) in enumerate(people)), years)
    build_s = time.perf_counter() - start
    index = names.NameIndex(work / "names")
    kinds = [PERTURBATIONS[i % len(PERTURBATIONS)] for i in range(queries)]
    targets = rng.integers(0, count, queries)
    if len(arabic_rows):
        # An Arabic-script query is of an Arabic-origin name.
        targets = np.where([kind == "arabic script" for kind in kinds],
                           arabic_rows[rng.integers(0, len(arabic_rows), queries)], targets)
    probes = [_perturb(rng, kind, people[t][0], people[t][1], arabic) for kind, t in zip(kinds, targets)]

    def same_name(row: int, target: int) -> bool:
        # Common names repeat: a hit on another entry with exactly the target's name is as right.
        return people[row] == people[target]

    choices = [f"{s} {g}".strip() for s, g in people]
    sample = set(np.linspace(0, queries - 1, min(baseline_queries, queries)).astype(int).tolist())
    found, ours, peer_found, peer_times, peer_kinds = [], [], [], [], []
    # Interleaved: each sampled query runs through rapidfuzz right after the index, so the
    # machine's load falls on both alike.
    for i, ((surname, given), target) in enumerate(zip(probes, targets)):
        start = time.perf_counter()
        matches = index.search(surname, given, limit=10)
        ours.append(time.perf_counter() - start)
        found.append(any(same_name(m.entry, target) for m in matches))
        if i in sample:
            text = fold(f"{surname} {given}")  # the same transliteration our index applies
            start = time.perf_counter()
            best = process.extract(text, choices, scorer=fuzz.WRatio, limit=10)
            peer_times.append(time.perf_counter() - start)
            peer_found.append(any(same_name(position, target) for _, _, position in best))
            peer_kinds.append(kinds[i])

    def by_kind(hits: list[bool], of: list[str]) -> dict[str, float]:
        return {kind: round(float(np.mean([f for f, k in zip(hits, of) if k == kind])), 4)
                for kind in PERTURBATIONS if kind in of}

    ordered = sorted(sample)
    result: dict[str, Any] = {
        "names": count, "queries": queries, "build_s": round(build_s, 1), "arabic_origin_share": ARABIC_SHARE,
        "recall_at_10": float(np.mean(found)), "recall_by_perturbation": by_kind(found, kinds),
        "latency": _percentiles(ours), "rapidfuzz_version": machine.versions("rapidfuzz")["rapidfuzz"],
        "baseline": {"queries": len(sample), "recall_at_10": float(np.mean(peer_found)),
                     "recall_by_perturbation": by_kind(peer_found, peer_kinds),
                     "ours_on_same_queries": float(np.mean([found[i] for i in ordered])),
                     "ours_latency_on_same_queries": _percentiles([ours[i] for i in ordered]),
                     "latency": _percentiles(peer_times)},
    }
    result["baseline_over_ours"] = round(result["baseline"]["latency"]["median_ms"] / result["latency"]["median_ms"], 1)
    result["targets"] = {
        "recall_ge_baseline": result["baseline"]["ours_on_same_queries"] >= result["baseline"]["recall_at_10"],
        "at_least_10x_faster": result["baseline_over_ours"] >= 10,
    }
    return result


# -- One run --------------------------------------------------------------------------------

def default_cache() -> Path:
    """Where built benchmark lists are kept between runs: ``$XDG_CACHE_HOME/kiosk-bench``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiosk-bench"


def run(face_count: int, dim: int, face_queries: int, document_count: int, lookups: int, name_count: int,
        name_queries: int, baseline_queries: int, seed: int, work_dir: Path | None, quiet: bool,
        rounds: int = 5, cold_hits: int = 1000, cache_dir: Path | None = None) -> dict[str, Any]:
    """Every figure of one run (a benchmark whose count is 0 is skipped); index files are
    written under a fresh directory in ``work_dir`` (default: the temporary directory) and
    removed afterwards, except the documents index, which is kept in ``cache_dir`` (default
    ``default_cache()``) keyed by its size and seed, because 10 M records take minutes to build."""
    work = Path(tempfile.mkdtemp(prefix="bench-screening-", dir=work_dir))
    results: dict[str, Any] = {"machine": machine.describe()}
    try:
        if face_count:
            results["faces"] = bench_faces(face_count, dim, face_queries, seed, work, quiet, rounds=rounds)
        if document_count:
            results["documents"] = bench_documents(document_count, lookups, seed, work, quiet,
                                                   cache=cache_dir or default_cache(), cold_hits=cold_hits)
        if name_count:
            results["names"] = bench_names(name_count, name_queries, baseline_queries, seed, work, quiet)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_at_end"] = machine.load_average()
    results["machine"]["thread_pools_at_end"] = machine.thread_pools()
    return results
