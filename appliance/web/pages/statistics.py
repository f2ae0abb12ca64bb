"""The post's statistics screen: crossings per day and by direction, nationality and age band, as SVG charts."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance.domain import clock
from appliance.web import charts
from appliance.web.deps import ConfigDep, PageOfficer, StoreDep
from appliance.web.pages.render import DIRECTION_TEXT, render, translate
from appliance.workflow import stats

router = APIRouter(include_in_schema=False)

STATS_RANGES = (7, 30)


@router.get("/stats")
def statistics(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep, days: int = 7) -> Response:
    _ = translate(request)
    days = days if days in STATS_RANGES else STATS_RANGES[0]
    last = clock.local_today(config.kiosk.timezone)
    first = last - timedelta(days=days - 1)
    daily = stats.daily(store, first, last, config.kiosk.timezone, training=config.kiosk.training)
    totals: dict[str, dict[str, int]] = {"by_direction": {}, "by_nationality": {}, "by_age_band": {}}
    for day in daily:
        for key, counts in totals.items():
            for name, value in day[key].items():
                counts[name] = counts.get(name, 0) + value
    none = _("No crossings in this period.")
    direction = [(_(DIRECTION_TEXT[name]), totals["by_direction"].get(name, 0)) for name in ("entry", "exit")]
    nationality = [(name if name != "unknown" else _("unknown"), value) for name, value in
                   sorted(totals["by_nationality"].items(), key=lambda item: (-item[1], item[0]))]
    age = [(name if name != "unknown" else _("unknown"), value) for name, value in totals["by_age_band"].items()]
    figures = {
        "days": charts.day_chart(_("Crossings per day"), daily, _("Entry"), _("Exit")),
        "direction": charts.bar_chart(_("By direction"), direction, empty=none),
        "nationality": charts.bar_chart(_("By nationality"), nationality, empty=none),
        "age": charts.bar_chart(_("By age band"), age, empty=none),
    }
    return render(request, "stats.html", officer, figures=figures, days=days, ranges=STATS_RANGES,
                  total=sum(day["total"] for day in daily))
