"""``kiosk bench soak``: a month at a solar post without an RTC, the uplink up every few days, a shutdown each night."""

from __future__ import annotations

from typing import Any

import click

from appliance.cli.bench_powercut import emit


@click.command("soak")
@click.option("--days", default=30, show_default=True, type=click.IntRange(2, 366), help="Simulated days.")
@click.option("--per-day", default=300, show_default=True, type=click.IntRange(10, 100_000),
              help="Crossings a day, each with a 640x480 face photo.")
@click.option("--uplink-every", default=3, show_default=True, type=click.IntRange(1, 60),
              help="The uplink comes up for up to an hour every this many days (and on the last).")
@click.option("--officers", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Officers recording at once over the API.")
@click.option("--partition-mib", default=256, show_default=True, type=click.IntRange(64, 65_536),
              help="Size of the loop-mounted ext4 file that plays the card's data partition.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the supervisor's watch error.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures.")
def command(days: int, per_day: int, uplink_every: int, officers: int, partition_mib: int, seed: int,
            as_json: bool) -> None:
    """Simulated month: HQ exactly once with right or re-anchored times, the card within budget, memory flat."""
    from appliance.bench import soak

    settings = soak.Settings(days=days, per_day=per_day, uplink_every=uplink_every, officers=officers,
                             partition_mib=partition_mib, seed=seed)
    figures = soak.run(settings, lambda text: click.echo(text, err=True))  # progress on stderr, JSON or not
    emit(figures, as_json, _report)


def _report(f: dict[str, Any]) -> None:
    hq, times, card, nights, memory = f["hq"], f["times"], f["partition"], f["nights"], f["memory_kb"]
    click.echo(f"{f['days']} days x {f['per_day']} crossings with photos, uplink on {f['uplink_days']} days: "
               f"{f['acknowledged']} acknowledged")
    click.echo(f"HQ: {hq['held']} crossings, exactly once in kiosk order: {hq['exactly_once_in_order']} "
               f"(missing {hq['missing']}, duplicated {hq['duplicates']}); {hq['photos_complete']} photos complete")
    click.echo(f"times: {times['right']} right as recorded, {times['reanchored']} re-anchored by HQ, "
               f"{times['as_sent']} untrusted and left as sent, {times['wrong']} outside their uncertainty "
               f"(worst error {times['worst_error_s']} s; {times['recorded_untrusted']} recorded under an untrusted "
               f"clock, which was {times['clock_behind_at_last_boot_h']} h behind at the last boot)")
    click.echo(f"card: {card['size_mib']} MiB, budget {card['budget_mib']} MiB, fullest night "
               f"{card['max_fill_percent']} % of budget, at the end {card['final_fill_percent']} %; "
               f"{card['photos_full']} photos kept whole, {card['thumbnails']} thumbnails")
    click.echo(f"nights: {nights['clean_exits']} of {f['days']} clean shutdowns by the power policy, "
               f"{nights['notices_at_hq']} notices at HQ, p50 {nights['shutdown_s']['p50']} s after the battery fell")
    click.echo(f"kiosk run RSS at day's end: first week {memory['kiosk_first_week']} kB, last week "
               f"{memory['kiosk_last_week']} kB (growth {memory['kiosk_growth_kb']} kB); HQ ingest by window "
               f"{memory['hq_ingest_by_window']} kB")
    first, last = f["record_ms"]["first_week"], f["record_ms"]["last_week"]
    click.echo(f"boot to a healthy API: first week {f['boot_s']['first_week']} s, last week "
               f"{f['boot_s']['last_week']} s; photo + record p50/p99: first week {first['p50']}/{first['p99']} ms, "
               f"last week {last['p50']}/{last['p99']} ms")
    click.echo("ok" if f["ok"] else "SOAK FAILED")
