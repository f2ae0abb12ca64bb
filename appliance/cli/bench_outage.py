"""``kiosk bench outage``: the broker down while crossings with photos are recorded, then the drain to HQ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from appliance.cli.bench_powercut import emit
from appliance.cli.common import ReportingCommand


# Reporting: a refused kiosk config or a timed-out wait is ``error: ...`` and exit 1.
@click.command("outage", cls=ReportingCommand)
@click.option("--crossings", default=50_000, show_default=True, type=click.IntRange(10, 10_000_000),
              help="Crossings (each with a face photo) recorded while the broker is down.")
@click.option("--officers", default=4, show_default=True, type=click.IntRange(1, 16),
              help="Officers recording the backlog at once over the API.")
@click.option("--inflight-captures", type=click.IntRange(1, 99), default=None,
              help="The kiosk's [uplink] max_inflight_captures (photos in flight at once); default: its own.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run in this (new or empty) folder and keep it: the kiosk's data, HQ's database, for a post-mortem.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures.")
def command(crossings: int, officers: int, inflight_captures: int | None, keep: Path | None, as_json: bool) -> None:
    """Long outage: drain time, peak memory of kiosk run, record latency while draining, HQ exactly-once in order."""
    from appliance.bench import outage

    figures = outage.run(outage.Settings(crossings=crossings, officers=officers, inflight_captures=inflight_captures,
                                         keep=keep),
                         None if as_json else lambda text: click.echo(text, err=True))
    emit(figures, as_json, _report)


def _report(f: dict[str, Any]) -> None:
    memory, hq, idle, busy = f["memory_kb"], f["hq"], f["record_ms_idle"], f["record_ms_while_draining"]
    click.echo(f"recorded offline: {f['recorded_offline']} crossings with photos in {f['recording_s']} s "
               f"({f['recorded_per_s']}/s); {f['backlog_rows']} outbox rows")
    click.echo(f"drain after the broker came back: {f['drain_s']} s (first receipt after {f['first_receipt_s']} s, "
               f"then {f['drained_rows_per_s']} rows/s; {f['inflight_captures']} photo(s) in flight)")
    click.echo(f"officer's crossing (photo + record) while draining: p50 {busy['p50']} ms, p99 {busy['p99']} ms "
               f"(n {busy['n']}); link idle before the outage: p50 {idle['p50']} ms, p99 {idle['p99']} ms")
    click.echo(f"kiosk run RSS: idle {memory['idle'] // 1024} MiB, after recording "
               f"{memory['after_recording'] // 1024} MiB, after the drain {memory['after_drain'] // 1024} MiB, "
               f"peak {memory['peak'] // 1024} MiB")
    click.echo(f"HQ: {hq['held']} crossings, exactly once in kiosk order: {hq['exactly_once_in_order']}; "
               f"photos complete {hq['photos_complete']} of {hq['photos_on_kiosk']}")
    click.echo("ok" if f["ok"] else "OUTAGE RUN FAILED")
