"""``kiosk bench powercut``: SIGKILL ``kiosk run`` at random moments while officers record; count what survived."""

from __future__ import annotations

from typing import Any

import click

from appliance.cli.common import print_json


@click.command("powercut")
@click.option("--cuts", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="How many times the service is killed and started again.")
@click.option("--officers", default=3, show_default=True, type=click.IntRange(1, 16),
              help="Officers recording over the API at once, each as fast as it can.")
@click.option("--max-uptime", default=1.5, show_default=True, type=click.FloatRange(0.05, 60.0),
              help="Each cut lands at a uniformly random moment within this many seconds of READY.")
@click.option("--seed", default=15, show_default=True, type=int, help="Seed of the cut moments.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of counts.")
def command(cuts: int, officers: int, max_uptime: float, seed: int, as_json: bool) -> None:
    """Power cuts at process depth: every acknowledged crossing must be there once, at the kiosk and at HQ."""
    from appliance.bench import powercut

    settings = powercut.Settings(cuts=cuts, officers=officers, max_uptime_s=max_uptime, seed=seed)

    def progress(done: int, total: int) -> None:
        if not as_json and (done % 25 == 0 or done == total):
            click.echo(f"  {done}/{total} cuts", err=True)

    figures = powercut.run(settings, progress)
    if as_json:
        print_json(figures)
    else:
        _report(figures)
    if not figures["ok"]:
        raise SystemExit(1)


def _report(f: dict[str, Any]) -> None:
    hq, ready, health = f["hq"], f["recovery_s"]["to_ready"], f["recovery_s"]["to_health"]
    click.echo(f"{f['cuts']} SIGKILLs of kiosk run ({f['cuts_during_startup']} during start-up), "
               f"{f['officers']} officers recording over the API for {f['recording_s']} s")
    click.echo(f"acknowledged {f['acknowledged']}  present {f['present']}  lost {f['lost']}  "
               f"duplicated {f['duplicated']}  (unanswered {f['unanswered']}, of which stored "
               f"{f['stored_unacknowledged']}; refused {f['refused']})")
    click.echo(f"HQ: held {hq['held']}  missing {hq['missing']}  duplicated {hq['duplicated']}  "
               f"foreign {hq['foreign']}  in kiosk order {hq['in_kiosk_order']}  drained {hq['drained']}")
    click.echo(f"recovery: READY p50 {ready['p50']} s max {ready['max']} s; "
               f"health p50 {health['p50']} s max {health['max']} s (restart to answer)")
    click.echo("checks: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in f["checks"].items()))
    for problem in f["problems"]:
        click.echo(f"  problem: {problem}")
    click.echo("all acknowledged crossings kept, once, and at HQ once" if f["ok"] else "CAMPAIGN FAILED")
