"""The post's statistics screen, as SVG charts on two pages that each fit 800x480: crossings per day
and by direction, nationality and age band; then by sex, decision and purpose of travel."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance.domain import clock
from appliance.web import charts
from appliance.web.deps import ConfigDep, PageOfficer, StoreDep
from appliance.web.i18n import N_
from appliance.web.pages.render import DIRECTION_TEXT, purpose_text, render, translate
from appliance.workflow import stats

router = APIRouter(include_in_schema=False)

STATS_RANGES = (7, 30)
STATS_PAGES = ("travellers", "decisions")
SEX_TEXT = {"F": N_("Female"), "M": N_("Male"), "X": N_("Unspecified")}
# Short enough for a chart's label column (the result screen says "Refer to supervisor").
DECISION_STATS = {"cleared": N_("Cleared"), "referred": N_("Referred"), "refused": N_("Refused")}


@router.get("/stats")
def statistics(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep, days: int = 7,
               part: str = STATS_PAGES[0]) -> Response:
    _ = translate(request)
    days = days if days in STATS_RANGES else STATS_RANGES[0]
    part = part if part in STATS_PAGES else STATS_PAGES[0]
    last = clock.local_today(config.kiosk.timezone)
    first = last - timedelta(days=days - 1)
    daily = stats.daily(store, first, last, config.kiosk.timezone, training=config.kiosk.training)
    totals: dict[str, dict[str, int]] = {key: {} for key in (
        "by_direction", "by_nationality", "by_age_band", "by_sex", "by_decision", "by_purpose")}
    for day in daily:
        for key, counts in totals.items():
            for name, value in day[key].items():
                counts[name] = counts.get(name, 0) + value
    none = _("No crossings in this period.")
    direction = [(_(DIRECTION_TEXT[name]), totals["by_direction"].get(name, 0)) for name in ("entry", "exit")]
    nationality = [(name if name != "unknown" else _("unknown"), value) for name, value in
                   sorted(totals["by_nationality"].items(), key=lambda item: (-item[1], item[0]))]
    nationality = [(name if name != "unknown" else _("unknown"), value) for name, value in nationality]
    age = [(name if name != "unknown" else _("unknown"), value) for name, value in totals["by_age_band"].items()]
    other = _("other")
    if part == "travellers":
        figures = {
            "days": charts.day_chart(_("Crossings per day"), daily, _("Entry"), _("Exit"), height=180,
                                     today=_("today")),
            "direction": charts.bar_chart(_("By direction"), direction, empty=none),
            "nationality": charts.bar_chart(_("By nationality"), nationality, empty=none, other=other, max_rows=5),
            "age": charts.bar_chart(_("By age band"), age, empty=none),
        }
    else:
        def ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
            return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

        figures = {
            "sex": charts.bar_chart(_("By sex"), [(_(SEX_TEXT.get(key, key)), value)
                                                  for key, value in ordered(totals["by_sex"])], empty=none),
            "decision": charts.bar_chart(_("By decision"), [(_(DECISION_STATS.get(key, key)), value)
                                                            for key, value in ordered(totals["by_decision"])],
                                         empty=none),
            "purpose": charts.bar_chart(_("By purpose of travel"), [(purpose_text(key, _), value)
                                                                    for key, value in ordered(totals["by_purpose"])],
                                        empty=none, other=other, max_rows=6, label_w=196),
        }
    return render(request, "stats.html", officer, figures=figures, days=days, ranges=STATS_RANGES,
                  total=sum(day["total"] for day in daily), part=part)
