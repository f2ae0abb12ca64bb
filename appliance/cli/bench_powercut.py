"""``kiosk bench powercut``: SIGKILL ``kiosk run`` at random moments while officers record; count what survived."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from appliance.cli.common import print_json


@click.command("powercut")
@click.option("--cuts", type=click.IntRange(1, 100_000),
              help="How many times the kiosk is cut and started again [default: 500 at process depth, 20 at machine depth].")
@click.option("--officers", default=3, show_default=True, type=click.IntRange(1, 16),
              help="Officers recording over the API at once, each as fast as it can.")
@click.option("--max-uptime", default=1.5, show_default=True, type=click.FloatRange(0.05, 60.0),
              help="Each cut lands at a uniformly random moment within this many seconds of READY.")
@click.option("--seed", default=15, show_default=True, type=int, help="Seed of the cut moments.")
@click.option("--depth", type=click.Choice(["process", "machine"]), default="process", show_default=True,
              help="process: SIGKILL of kiosk run; machine: the SD image booted under qemu, qemu killed "
                   "(the guest's page cache is lost). Machine depth needs --image; "
                   "each cut costs a boot (minutes under emulation).")
@click.option("--image", "image_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="With --depth machine: the folder image-build/build --out wrote.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of counts.")
def command(cuts: int | None, officers: int, max_uptime: float, seed: int, depth: str, image_dir: Path | None,
            as_json: bool) -> None:
    """Power cuts at process or machine depth: every acknowledged crossing must be there once, at the kiosk and at HQ."""
    from appliance.bench import powercut

    cuts = cuts or (20 if depth == "machine" else 500)

    def progress(done: int, total: int) -> None:
        if not as_json and (done % 25 == 0 or done == total or depth == "machine"):
            click.echo(f"  {done}/{total} cuts", err=True)

    if depth == "machine":
        from appliance.bench import qemu

        if image_dir is None:
            raise click.UsageError("--depth machine needs --image DIR (the folder image-build/build --out wrote)")
        figures = qemu.run_machine(qemu.Image.find(image_dir), qemu.machine_settings(cuts, seed), progress=progress)
    else:
        settings = powercut.Settings(cuts=cuts, officers=officers, max_uptime_s=max_uptime, seed=seed)
        figures = powercut.run(settings, progress)
    emit(figures, as_json, _report)


def emit(figures: dict[str, Any], as_json: bool, report: Callable[[dict[str, Any]], None]) -> None:
    """Print a campaign's figures (one JSON object, or ``report``'s lines); exit 1 unless they say ``ok``."""
    if as_json:
        print_json(figures)
    else:
        report(figures)
    if not figures["ok"]:
        raise SystemExit(1)


def _report(f: dict[str, Any]) -> None:
    hq, ready, health = f["hq"], f["recovery_s"]["to_ready"], f["recovery_s"]["to_health"]
    what = (f"qemu kills of the booted image {f['image']} ({f['boots']} boots, first boot {f['first_boot_s']} s)"
            if f.get("depth") == "machine" else "SIGKILLs of kiosk run")
    click.echo(f"{f['cuts']} {what} ({f['cuts_during_startup']} during start-up), "
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
