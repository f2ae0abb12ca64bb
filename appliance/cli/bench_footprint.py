"""``kiosk bench footprint``: ``kiosk run`` with full-size lists, beside the same kiosk with the demo lists only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from appliance.cli.common import KioskCommand, print_json


def _report(f: dict[str, Any]) -> None:
    from appliance.bench.machine import summary

    s, ours, peer = f["settings"], f["with_lists"], f["demo_lists_only"]
    record = ours["record_ms"]
    click.echo(f"kiosk run with lists: {s['persons']:,} persons (aliases), {s['faces']:,} faces x {s['dim']}-d, "
               f"{s['documents']:,} documents ({'cached' if f['lists_cached'] else 'built this run'})")
    click.echo(f"{'':34} {'with lists':>12} {'demo lists only':>16}")
    click.echo(f"{'start to READY (s)':34} {ours['ready_s']:12.2f} {peer['ready_s']:16.2f}")
    click.echo(f"{'resident memory idle (MB)':34} {ours['rss_idle_mb']:12.1f} {peer['rss_idle_mb']:16.1f}")
    click.echo(f"{'resident after crossings (MB)':34} {ours['rss_after_crossings_mb']:12.1f}")
    click.echo(f"{'idle CPU over ' + str(int(ours['idle_seconds'])) + ' s (% of a core)':34} "
               f"{ours['idle_cpu_percent']:12.2f}")
    click.echo(f"{'record p50 / p99 (ms), draining':34} {record['p50']:>5} / {record['p99']:<5} "
               f"({record['n']} crossings, outbox {ours['outbox_when_recording_ended']} when they ended, "
               f"{'drained' if ours['outbox_drained'] else 'NOT drained'})")
    click.echo(f"{'first crossing after start (ms)':34} {ours['first_record_ms']:12}")
    click.echo(f"lists cost: {f['lists_cost_rss_mb']} MB resident, {f['lists_cost_ready_s']} s to READY")
    pi = f["pi4_estimate"]
    click.echo(f"Pi 4, estimated (not measured): READY {pi['ready_s'][0]}-{pi['ready_s'][1]} s, record p99 "
               f"{pi['record_p99_ms'][0] if pi['record_p99_ms'] else '?'}-"
               f"{pi['record_p99_ms'][1] if pi['record_p99_ms'] else '?'} ms, resident about {pi['rss_mb']} MB")
    click.echo(summary(f["machine"]))
    click.echo("targets: " + ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in f["targets"].items()))


@click.command("footprint", cls=KioskCommand)
@click.option("--persons", type=click.IntRange(1), default=100_000, show_default=True,
              help="Persons on the alert list (half with aliases).")
@click.option("--faces", type=click.IntRange(0), default=100_000, show_default=True,
              help="Of those, how many have a face embedding.")
@click.option("--dim", type=click.IntRange(16, 4096), default=128, show_default=True, help="Face embedding dimension.")
@click.option("--documents", type=click.IntRange(1), default=10_000_000, show_default=True,
              help="Records on the documents list.")
@click.option("--crossings", type=click.IntRange(1), default=1000, show_default=True,
              help="Crossings the officer records while the uplink drains them.")
@click.option("--idle-seconds", type=click.FloatRange(1), default=60.0, show_default=True,
              help="How long the idle CPU is measured.")
@click.option("--seed", type=int, default=20261202, show_default=True, help="Seed of the synthetic lists.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the built lists are kept for later runs, keyed by sizes and seed "
                   "(default: $XDG_CACHE_HOME/kiosk-bench).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every figure.")
def command(persons: int, faces: int, dim: int, documents: int, crossings: int, idle_seconds: float, seed: int,
            cache_dir: Path | None, as_json: bool) -> None:
    """Start-up, memory, idle CPU and record latency of `kiosk run` with full-size lists loaded."""
    from appliance.bench import footprint as bench

    settings = bench.Settings(persons=persons, documents=documents, faces=min(faces, persons), dim=dim,
                              crossings=crossings, idle_s=idle_seconds, seed=seed, cache=cache_dir)
    figures = bench.run(settings, progress=None if as_json else click.echo)
    if as_json:
        print_json(figures)
    else:
        _report(figures)
