"""``kiosk bench screening``: the face, document and name indexes beside faiss, a Python set and rapidfuzz.

The measuring is ``appliance.bench.screening``; this command runs it and prints the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from appliance.cli.common import KioskCommand, print_json

def _report(results: dict[str, Any]) -> None:
    from appliance.bench.screening import KNN_EPSILON

    faces, documents, names = results.get("faces"), results.get("documents"), results.get("names")
    if faces:
        click.echo(f"\nfaces ({faces['vectors']:,} x {faces['dim']}-d, top-10, one query at a time; {faces['kernel']})")
        for threads in (1, 2):
            row = faces[f"threads_{threads}"]
            click.echo(f"  {threads} thread(s): int8 median {row['int8']['median_ms']:.2f} ms p99 "
                       f"{row['int8']['p99_ms']:.2f} ms | faiss IndexFlatIP f32 median "
                       f"{row['faiss_flat_ip_f32']['median_ms']:.2f} ms p99 {row['faiss_flat_ip_f32']['p99_ms']:.2f} ms"
                       f" | faiss/int8 = {row['faiss_over_int8']:.2f}x")
        click.echo(f"  numpy f32 matvec median {faces['numpy_f32_matvec']['median_ms']:.2f} ms "
                   f"(numpy/int8 = {faces['numpy_over_int8']:.2f}x)")
        click.echo(f"  recall@10 vs exact f32 (faiss R@10 | ann-benchmarks k-NN, eps {KNN_EPSILON} | strict top-10 "
                   f"overlap):")
        for name, figures in (("int8 index", faces), ("faiss SQ8 (8-bit)", faces["faiss_sq8"])):
            click.echo(f"    {name}: {figures['one_recall_at_10']:.4f} | {figures['knn_recall_at_10']:.4f} | "
                       f"{figures['ten_recall_at_10']:.4f}")
        sq8 = faces["faiss_sq8"]
        click.echo(f"  faiss SQ8 median {sq8['threads_1']['median_ms']:.2f} ms at 1 thread (SQ8/int8 = "
                   f"{sq8['threads_1']['sq8_over_int8']:.2f}x), {sq8['threads_2']['median_ms']:.2f} ms at 2 "
                   f"(SQ8/int8 = {sq8['threads_2']['sq8_over_int8']:.2f}x); int8 index {faces['bytes_per_vector']} "
                   f"bytes/vector")
        click.echo(f"  bandwidth bound: {faces['bytes_scanned'] / 1e6:.0f} MB scanned / "
                   f"{faces['copy_bandwidth_gb_s']} GB/s copy = {faces['bandwidth_bound_ms']:.2f} ms; "
                   f"int8 1-thread median is {faces['int8_over_bound_1_thread']:.2f}x the bound")
    if documents:
        d = documents
        click.echo(f"\ndocuments ({d['records']:,} records, {d['lookups']:,} lookups)")
        click.echo(f"  index: p50 {d['lookup']['p50_us']:.1f} us p99 {d['lookup']['p99_us']:.1f} us; RAM "
                   f"{d['ram_bytes_per_record']} B/record beyond {d['ram_fixed_overhead_bytes'] / 1e6:.1f} MB fixed (filter "
                   f"{d['filter_bytes_per_record']}), disk "
                   f"{d['disk_bytes_per_record']} B/record; false negatives {d['false_negatives_in_2000_listed']}/2000")
        click.echo(f"  Python set: p50 {d['set_lookup']['p50_us']:.2f} us p99 {d['set_lookup']['p99_us']:.2f} us; RAM "
                   f"{d['set_ram_bytes_per_record']} B/record (set/index RAM = {d['set_over_index_ram']}x)")
        click.echo(f"  at 100 M records: index RAM {d['at_100M']['ram_gb']} GB, disk {d['at_100M']['disk_gb']} GB; "
                   f"set RAM {d['at_100M']['set_ram_gb']} GB")
    if names:
        n = names
        click.echo(f"\nnames ({n['names']:,} names, {n['queries']} perturbed queries)")
        click.echo(f"  index: recall@10 {n['recall_at_10']:.3f}, median {n['latency']['median_ms']:.2f} ms p99 "
                   f"{n['latency']['p99_ms']:.2f} ms")
        click.echo("  by perturbation: " + ", ".join(f"{k} {v:.2f}" for k, v in n["recall_by_perturbation"].items()))
        b = n["baseline"]
        click.echo(f"  rapidfuzz extract WRatio ({b['queries']} queries): recall@10 {b['recall_at_10']:.3f} "
                   f"(index on the same queries {b['ours_on_same_queries']:.3f}), median {b['latency']['median_ms']:.1f}"
                   f" ms; baseline/index = {n['baseline_over_ours']}x")
    click.echo("\ntargets: " + ", ".join(f"{part}.{name} {'met' if ok else 'NOT met'}"
                                         for part, figures in results.items() if isinstance(figures, dict)
                                         for name, ok in figures.get("targets", {}).items()))


@click.command("screening", cls=KioskCommand)
@click.option("--faces", "face_count", type=click.IntRange(0), default=1_000_000, show_default=True,
              help="Face vectors in the index (0 skips the face benchmark).")
@click.option("--dim", type=click.IntRange(16, 4096), default=128, show_default=True, help="Embedding dimension.")
@click.option("--face-queries", type=click.IntRange(1), default=200, show_default=True, help="Face queries.")
@click.option("--documents", "document_count", type=click.IntRange(0), default=10_000_000, show_default=True,
              help="Synthetic document records (0 skips the document benchmark).")
@click.option("--lookups", type=click.IntRange(2), default=200_000, show_default=True, help="Document lookups.")
@click.option("--names", "name_count", type=click.IntRange(0), default=1_000_000, show_default=True,
              help="Names in the name index (0 skips the name benchmark).")
@click.option("--name-queries", type=click.IntRange(1), default=1000, show_default=True,
              help="Perturbed name queries with known targets.")
@click.option("--baseline-queries", type=click.IntRange(1), default=100, show_default=True,
              help="Of those, how many the (slow) rapidfuzz WRatio baseline runs.")
@click.option("--seed", type=int, default=20261123, show_default=True, help="Seed of the synthetic data.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where index files are written (default: a temporary directory, removed afterwards).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every figure.")
def command(face_count: int, dim: int, face_queries: int, document_count: int, lookups: int, name_count: int,
            name_queries: int, baseline_queries: int, seed: int, work_dir: Path | None, as_json: bool) -> None:
    """Benchmark face, document and name screening beside faiss, a Python set and rapidfuzz."""
    from appliance.bench import screening as bench

    results = bench.run(face_count, dim, face_queries, document_count, lookups, name_count, name_queries,
                        baseline_queries, seed, work_dir, quiet=as_json)
    if as_json:
        print_json(results)
    else:
        _report(results)
