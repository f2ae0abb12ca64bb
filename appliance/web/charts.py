"""Small server-side SVG charts for the statistics screen (no script, no external service).

Each chart is one self-contained ``<svg>`` with ``role="img"``, a ``<title>`` and an
``aria-label`` that lists every value, so a screen reader (and the tests) can read the
numbers the bars show.
"""

from __future__ import annotations

from markupsafe import Markup, escape

# High-contrast colours that stay distinct in sun glare and for red-green colour blindness.
ENTRY_COLOUR = "#0b3d91"
EXIT_COLOUR = "#b35900"
BAR_COLOUR = "#0b3d91"
TEXT_COLOUR = "#111111"


def _label(title: str, items: list[tuple[str, int]]) -> str:
    return f"{title}: " + ", ".join(f"{name} {value}" for name, value in items) if items else title


# Chart text is at least 18 px as drawn (the officer reads it at arm's length in the sun).
FONT = 18
ROW = 22


def bar_chart(title: str, items: list[tuple[str, int]], *, width: int = 360, height: int | None = None,
              empty: str = "", other: str = "", max_rows: int = 6, label_w: int = 118) -> Markup:
    """Horizontal bars, one per (label, value); ``empty`` is shown when there is nothing to draw.

    With more than ``max_rows`` items, the smallest are summed into one last row labelled
    ``other``, so the bars always add up to the total."""
    row = ROW
    value_w = 44
    if len(items) > max_rows:
        items = items[: max_rows - 1] + [(other, sum(value for _, value in items[max_rows - 1:]))]
    height = height or 28 + max(len(items), 1) * row
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(_label(title, items))}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" font-size="{FONT}" font-weight="bold" fill="{TEXT_COLOUR}">{escape(title)}</text>',
    ]
    top = max((value for _, value in items), default=0)
    if top == 0:
        parts.append(f'<text x="0" y="46" font-size="{FONT}" fill="{TEXT_COLOUR}">{escape(empty)}</text>')
    for index, (name, value) in enumerate(items if top else []):
        y = 26 + index * row
        span = (width - label_w - value_w) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" font-size="{FONT}" text-anchor="end" fill="{TEXT_COLOUR}">'
            f"{escape(name)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{span:.1f}" height="{row - 6}" fill="{BAR_COLOUR}"/>'
            f'<text x="{label_w + span + 4:.1f}" y="{y + 17}" font-size="{FONT}" fill="{TEXT_COLOUR}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def day_chart(title: str, days: list[dict], entry_label: str, exit_label: str, *, width: int = 360,
              height: int = 160, today: str = "") -> Markup:
    """Stacked columns per day (entries below exits) from ``stats.daily`` output, with a legend;
    days are labelled by their day of the month, the last one ``today`` when given."""
    base = height - 20
    top = max((day["total"] for day in days), default=0)
    summary = [(day["date"][5:], day["total"]) for day in days]
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(_label(title, summary))}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" font-size="{FONT}" font-weight="bold" fill="{TEXT_COLOUR}">{escape(title)}</text>',
        f'<rect x="0" y="26" width="14" height="14" fill="{ENTRY_COLOUR}"/>'
        f'<text x="18" y="39" font-size="{FONT}" fill="{TEXT_COLOUR}">{escape(entry_label)}</text>'
        f'<rect x="110" y="26" width="14" height="14" fill="{EXIT_COLOUR}"/>'
        f'<text x="128" y="39" font-size="{FONT}" fill="{TEXT_COLOUR}">{escape(exit_label)}</text>',
    ]
    slot = width / max(1, len(days))
    bar_w = max(4.0, slot * 0.6)
    chart_h = base - 66
    for index, day in enumerate(days):
        x = index * slot + (slot - bar_w) / 2
        entries, exits = day["by_direction"]["entry"], day["by_direction"]["exit"]
        h_entry = chart_h * entries / top if top else 0
        h_exit = chart_h * exits / top if top else 0
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h_entry:.1f}" width="{bar_w:.1f}" height="{h_entry:.1f}" fill="{ENTRY_COLOUR}"/>'
            f'<rect x="{x:.1f}" y="{base - h_entry - h_exit:.1f}" width="{bar_w:.1f}" height="{h_exit:.1f}" '
            f'fill="{EXIT_COLOUR}"/>'
        )
        if day["total"]:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base - h_entry - h_exit - 3:.1f}" font-size="{FONT}" '
                f'text-anchor="middle" fill="{TEXT_COLOUR}">{day["total"]}</text>'
            )
        last = index == len(days) - 1
        if last and today:
            # The last column is today: named, in bold, kept inside the chart.
            parts.append(
                f'<text x="{width}" y="{height - 2}" font-size="{FONT}" font-weight="bold" text-anchor="end" '
                f'fill="{TEXT_COLOUR}">{escape(today)}</text>'
            )
        elif (len(days) <= 10 or index % max(1, len(days) // 6) == 0) and not (today and index >= len(days) - 3
                                                                                   and len(days) > 10):
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 2}" font-size="{FONT}" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{escape(day["date"][8:])}</text>'
            )
    parts.append(f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="{TEXT_COLOUR}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def power_chart(title: str, rows: list[dict], *, width: int = 360, height: int = 120) -> Markup:
    """Battery percent over time as a line (rows from ``storage.battery_history.read``, oldest first)."""
    points = [(row["at"], row["percent"]) for row in rows if row.get("percent") is not None]
    latest = f"{points[-1][1]:.0f} %" if points else "-"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(f"{title}: {latest}")}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-size="15" font-weight="bold" fill="{TEXT_COLOUR}">{escape(title)}</text>',
        f'<line x1="0" y1="{height - 2}" x2="{width}" y2="{height - 2}" stroke="{TEXT_COLOUR}" stroke-width="1"/>',
    ]
    if len(points) >= 2:
        top, span = 24, height - 28
        step = width / (len(points) - 1)
        path = " ".join(f"{index * step:.1f},{top + span * (1 - percent / 100):.1f}"
                        for index, (_, percent) in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{BAR_COLOUR}" stroke-width="3"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
