"""The Statistics page: entries and exits by post, period, nationality, sex, age band and decision; CSV/XLSX of each table."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance.domain import clock
from appliance.errors import WorkflowError
from hq import records
from hq.web import charts, exports
from hq.web.deps import DbDep, Viewer
from hq.web.i18n import N_
from hq.web.render import render, translate

router = APIRouter(include_in_schema=False)
TABLES = {"periods": N_("By period and post"), "post": N_("By post"), "nationality": N_("By nationality"),
          "sex": N_("By sex"), "age_band": N_("By age band"), "decision": N_("By decision")}


def _range(first: str, last: str) -> tuple[date, date]:
    today = clock.utcnow().date()
    try:
        return (date.fromisoformat(first) if first else today - timedelta(days=29),
                date.fromisoformat(last) if last else today)
    except ValueError as exc:
        raise WorkflowError(f"a date is not YYYY-MM-DD: {exc}") from None


def _stats(db, first: str, last: str, period: str, post: str) -> dict:
    start, end = _range(first, last)
    return records.statistics(db, start, end, period, post.strip())


@router.get("/statistics")
def statistics(request: Request, session: Viewer, db: DbDep, first: str = "", last: str = "", period: str = "day",
               post: str = "") -> Response:
    _ = translate(request)
    stats = _stats(db, first, last, period, post)
    none = _("No crossings in this period.")
    per_period: dict[str, int] = {}
    for row in stats["periods"]:
        per_period[row["period"]] = per_period.get(row["period"], 0) + row["total"]
    figures = {"periods": charts.bars(_("Crossings per period"), list(per_period.items())[-12:], none)}
    for table in ("post", "nationality", "sex", "age_band", "decision"):
        figures[table] = charts.bars(_(TABLES[table]), [(row["key"], row["total"]) for row in stats[table]], none)
    return render(request, "statistics.html", session, stats=stats, figures=figures, tables=TABLES,
                  periods=records.PERIODS, query=str(request.url.query))


@router.get("/statistics/export.{fmt}")
def export(session: Viewer, db: DbDep, fmt: str, table: str = "periods", first: str = "", last: str = "",
           period: str = "day", post: str = "") -> Response:
    """One table of the page; aggregate counts only, so every role may export it."""
    if fmt not in exports.FORMATS:
        raise WorkflowError(f"export format {fmt!r} is not csv or xlsx")
    if table not in TABLES:
        raise WorkflowError(f"no statistics table {table!r}; there are {', '.join(TABLES)}")
    stats = _stats(db, first, last, period, post)
    if table == "periods":
        headers = [stats["period"], "post", "entry", "exit", "total"]
        rows = [[r["period"], r["post"], r["entry"], r["exit"], r["total"]] for r in stats["periods"]]
    else:
        headers = [table, "entry", "exit", "total"]
        rows = [[r["key"], r["entry"], r["exit"], r["total"]] for r in stats[table]]
    return exports.download(fmt, f"statistics-{table}-{stats['first']}-{stats['last']}", table, headers, rows)
