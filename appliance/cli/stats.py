"""``kiosk stats``: the post's daily statistics."""

from __future__ import annotations

from datetime import datetime

import click

from appliance.cli.common import KioskGroup, load_config, print_json
from appliance.domain import clock
from appliance.storage.store import Store
from appliance.workflow import stats as post_stats


@click.group("stats", cls=KioskGroup)
def command() -> None:
    """Statistics of the post."""


@command.command("daily")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First post-local day (default: today).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: same as --from).")
@click.option("--training", is_flag=True, help="Count training records instead of real crossings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def daily(first: datetime | None, last: datetime | None, training: bool, as_json: bool) -> None:
    """Crossings per day by direction, nationality, sex, age band, decision and purpose of travel."""
    config = load_config()
    first_day = first.date() if first else clock.local_today(config.kiosk.timezone)
    last_day = last.date() if last else first_day
    with Store(config.db_path) as store:
        days = post_stats.daily(store, first_day, last_day, config.kiosk.timezone, training=training)
    if as_json:
        print_json({"timezone": config.kiosk.timezone, "training": training, "days": days})
        return
    for day in days:
        click.echo(f"{day['date']}: {day['total']} crossings "
                   f"(entry {day['by_direction']['entry']}, exit {day['by_direction']['exit']})")
        for key in ("by_nationality", "by_sex", "by_age_band", "by_decision", "by_purpose"):
            if day["total"]:
                parts = ", ".join(f"{k} {v}" for k, v in day[key].items())
                click.echo(f"  {key[3:].replace('_', ' ')}: {parts}")
