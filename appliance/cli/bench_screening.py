"""``kiosk bench screening``: the face, document and name indexes beside faiss, numpy, a Python set and rapidfuzz.

The measuring is ``appliance.bench.screening``; this command runs it and prints the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from appliance.cli.common import KioskCommand, print_json


def _pools(pools: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['library']} {p['internal_api']} {p['version'] or ''} x{p['num_threads']}".replace("  ", " ")
                     for p in pools) or "none loaded"


def _report_faces(faces: dict[str, Any]) -> None:
    from appliance.bench.screening import KNN_EPSILON

    versions = ", ".join(f"{name} {version}" for name, version in faces["versions"].items())
    click.echo(f"\nfaces ({faces['vectors']:,} x {faces['dim']}-d, top-10, one query at a time, float32 queries; "
               f"{faces['kernel']}; {versions}; {faces['rounds']} interleaved rounds)")
    for threads in (1, 2):
        row = faces[f"threads_{threads}"]
        click.echo(f"  {threads} thread(s) [BLAS/OpenMP pools: {_pools(row['thread_pools'])}]")
        click.echo(f"    int8 index          median {row['int8']['median_ms']:7.2f} ms  p99 {row['int8']['p99_ms']:7.2f} ms")
        for name, label in (("faiss_sq8", "faiss SQ8 (8-bit)"), ("faiss_flat_ip_f32", "faiss IndexFlatIP f32"),
                            ("numpy_f32_matvec", "numpy f32 mat-vec")):
            click.echo(f"    {label:<20} median {row[name]['median_ms']:7.2f} ms  p99 {row[name]['p99_ms']:7.2f} ms"
                       f"  ({row[f'{name}_over_int8']:.2f}x the int8 index)")
        batch = row["faiss_batch_of_queries"]
        click.echo(f"    faiss on all {faces['queries']} queries as one batch: flat f32 "
                   f"{batch['faiss_flat_ip_f32']['per_query_ms']:.3f} ms/query, SQ8 "
                   f"{batch['faiss_sq8']['per_query_ms']:.3f} ms/query")
    click.echo("  faiss splits its work across the queries of a batch, so one query uses one thread whatever the "
               "setting:\n  its 2-thread single-query figures are its 1-thread ones; only the batch line can use "
               "the second thread.")
    click.echo(f"  int8 index, 2 threads vs 1: {faces['int8_two_thread_speedup']:.2f}x")
    click.echo(f"  recall@10 vs exact f32 (faiss R@10 | ann-benchmarks k-NN, eps {KNN_EPSILON} | strict top-10 "
               f"overlap):")
    for name, figures in (("int8 index", faces), ("faiss SQ8 (8-bit)", faces["faiss_sq8"])):
        click.echo(f"    {name}: {figures['one_recall_at_10']:.4f} | {figures['knn_recall_at_10']:.4f} | "
                   f"{figures['ten_recall_at_10']:.4f}")
    click.echo(f"  storage: int8 index {faces['bytes_per_vector']} bytes/vector (faiss SQ8 {faces['dim']}, "
               f"flat {faces['dim'] * 4})")
    best = ", ".join(f"{name} {value} GB/s" for name, value in faces["read_bandwidth_256mib_best_gb_s"].items())
    click.echo(f"  read-bandwidth bound: one thread reading the {faces['bytes_scanned'] / 1e6:.0f} MB the scan reads "
               f"(count_nonzero over the codes, in the same rounds): median {faces['bandwidth_bound_ms']:.2f} ms = "
               f"{faces['read_bandwidth_gb_s']} GB/s; int8 1-thread median is {faces['int8_over_bound_1_thread']:.2f}x "
               f"the bound\n  (256 MiB read passes, best of 5: {best})")


def _report_documents(d: dict[str, Any]) -> None:
    def line(label: str, figures: dict[str, float]) -> str:
        return (f"    {label:<34} p50 {figures['p50_us']:8.2f} us  p99 {figures['p99_us']:8.2f} us  "
                f"({figures['n']:,} lookups)")

    built = "cached index" if d["index_cached"] else f"built in {d['build_s']} s"
    click.echo(f"\ndocuments ({d['records']:,} records, {built}; page {d['page_bytes']} B)")
    click.echo(line("cold cache, misses", d["cold_misses"]))
    click.echo(line("cold cache, hits (disk reads)", d["cold_hits"]))
    click.echo(line("warm cache, half hits", d["warm"]))
    click.echo(line("Python set, same warm lookups", d["set_lookup"]))
    click.echo(f"  resident: {d['resident_bytes_per_record']} B/record = heap {d['heap_bytes_per_record']} (filter "
               f"{d['filter_bytes_per_record']}, beyond {d['ram_fixed_overhead_bytes'] / 1e6:.1f} MB fixed) + file "
               f"pages the cold run touched {d['file_pages_touched_by_cold_run_bytes'] / 1e6:.2f} MB (misses "
               f"{d['file_pages_touched_by_cold_misses_bytes'] / 1e6:.2f} MB, {d['file_pages_touched_per_cold_hit']} "
               f"pages a hit)")
    click.echo(f"  Python set: {d['set_ram_bytes_per_record']} B/record ({d['set_over_index_resident']}x the index); "
               f"disk {d['disk_bytes_per_record']} B/record; false negatives {d['false_negatives_in_listed']}/"
               f"{d['listed_checked']}")
    at = d["at_100M"]
    click.echo(f"  at 100 M records (extrapolated): resident {at['resident_gb']} GB ({at['resident_bytes_per_record']} "
               f"B/record), disk {at['disk_gb']} GB; set {at['set_ram_gb']} GB; fits a 4 GB board: "
               f"{'yes' if at['fits_4gb_board'] else 'no'}")


def _report_names(n: dict[str, Any]) -> None:
    click.echo(f"\nnames ({n['names']:,} names, {n['queries']} perturbed queries)")
    click.echo(f"  index: recall@10 {n['recall_at_10']:.3f}, median {n['latency']['median_ms']:.2f} ms p99 "
               f"{n['latency']['p99_ms']:.2f} ms")
    click.echo("  by perturbation: " + ", ".join(f"{k} {v:.2f}" for k, v in n["recall_by_perturbation"].items()))
    b = n["baseline"]
    click.echo(f"  rapidfuzz {n.get('rapidfuzz_version', '')} extract WRatio ({b['queries']} queries): recall@10 "
               f"{b['recall_at_10']:.3f} (index on the same queries {b['ours_on_same_queries']:.3f}), median "
               f"{b['latency']['median_ms']:.1f} ms; baseline/index = {n['baseline_over_ours']}x")


def _report(results: dict[str, Any]) -> None:
    from appliance.bench.machine import summary

    if results.get("faces"):
        _report_faces(results["faces"])
    if results.get("documents"):
        _report_documents(results["documents"])
    if results.get("names"):
        _report_names(results["names"])
    click.echo("\n" + summary(results["machine"]))
    click.echo("targets: " + ", ".join(f"{part}.{name} {'met' if ok else 'NOT met'}"
                                       for part, figures in results.items() if isinstance(figures, dict)
                                       for name, ok in figures.get("targets", {}).items()))


@click.command("screening", cls=KioskCommand)
@click.option("--faces", "face_count", type=click.IntRange(0), default=1_000_000, show_default=True,
              help="Face vectors in the index (0 skips the face benchmark).")
@click.option("--dim", type=click.IntRange(16, 4096), default=128, show_default=True, help="Embedding dimension.")
@click.option("--face-queries", type=click.IntRange(1), default=200, show_default=True, help="Face queries.")
@click.option("--rounds", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Interleaved rounds in which the face engines take turns.")
@click.option("--documents", "document_count", type=click.IntRange(0), default=10_000_000, show_default=True,
              help="Synthetic document records (0 skips the document benchmark).")
@click.option("--lookups", type=click.IntRange(2), default=200_000, show_default=True,
              help="Warm document lookups (half listed); half as many cold misses.")
@click.option("--cold-hits", type=click.IntRange(1), default=1000, show_default=True,
              help="Listed documents looked up with a cold page cache.")
@click.option("--names", "name_count", type=click.IntRange(0), default=1_000_000, show_default=True,
              help="Names in the name index (0 skips the name benchmark).")
@click.option("--name-queries", type=click.IntRange(1), default=1000, show_default=True,
              help="Perturbed name queries with known targets.")
@click.option("--baseline-queries", type=click.IntRange(1), default=100, show_default=True,
              help="Of those, how many the (slow) rapidfuzz WRatio baseline runs.")
@click.option("--seed", type=int, default=20261123, show_default=True, help="Seed of the synthetic data.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where index files are written (default: a temporary directory, removed afterwards).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where built document indexes are kept for later runs, keyed by size and seed "
                   "(default: $XDG_CACHE_HOME/kiosk-bench).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every figure.")
def command(face_count: int, dim: int, face_queries: int, rounds: int, document_count: int, lookups: int,
            cold_hits: int, name_count: int, name_queries: int, baseline_queries: int, seed: int,
            work_dir: Path | None, cache_dir: Path | None, as_json: bool) -> None:
    """Benchmark face, document and name screening beside faiss, numpy, a Python set and rapidfuzz."""
    from appliance.bench import screening as bench

    results = bench.run(face_count, dim, face_queries, document_count, lookups, name_count, name_queries,
                        baseline_queries, seed, work_dir, quiet=as_json, rounds=rounds, cold_hits=cold_hits,
                        cache_dir=cache_dir)
    if as_json:
        print_json(results)
    else:
        _report(results)
