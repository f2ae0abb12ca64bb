"""Server-side SVG charts for the console: values over time, the uplink's up/down band, and bars.

Each chart is one ``<svg role="img">`` with a ``<title>`` and an ``aria-label`` that says
what it shows in words (range, last value, or every bar's value), so a screen reader and
the tests read the same figures the eye does. No script, nothing fetched.
"""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from appliance.domain import clock

LINE = "#0b3d91"
UP, DOWN = "#0a6b2a", "#a30000"
TEXT = "#111111"
GRID = "#767676"


def _open(width: int, height: int, title: str, label: str) -> list[str]:
    return [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">',
            f"<title>{escape(title)}</title>",
            f'<text x="0" y="15" font-size="14" font-weight="bold" fill="{TEXT}">{escape(title)}</text>']


def _x(moment: str, since: datetime, until: datetime, left: float, span: float) -> float:
    total = max(1.0, (until - since).total_seconds())
    return left + span * min(1.0, max(0.0, (clock.parse_iso(moment) - since).total_seconds() / total))


def time_chart(title: str, points: list[tuple[str, float]], since: datetime, until: datetime, unit: str,
               empty: str, *, width: int = 440, height: int = 130) -> Markup:
    """A line of (ISO time, value) from ``since`` to ``until``; the y axis from 0 (or the lowest value) to the highest."""
    if points:
        low, high = min(0.0, min(v for _, v in points)), max(v for _, v in points)
        label = f"{title}: {len(points)} points, min {min(v for _, v in points):.1f} {unit}, " \
                f"max {high:.1f} {unit}, last {points[-1][1]:.1f} {unit}"
    else:
        low, high, label = 0.0, 1.0, f"{title}: {empty}"
    high = high if high > low else low + 1
    left, top, bottom = 44, 24, height - 18
    parts = _open(width, height, title, label)
    parts.append(f'<text x="{left - 4}" y="{top + 10}" font-size="12" text-anchor="end" fill="{TEXT}">'
                 f'{high:.0f}</text><text x="{left - 4}" y="{bottom}" font-size="12" text-anchor="end" '
                 f'fill="{TEXT}">{low:.0f}</text>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width}" y2="{bottom}" stroke="{GRID}"/>')
    parts.append(f'<text x="{left}" y="{height - 3}" font-size="12" fill="{TEXT}">{since:%m-%d %H:%M}</text>'
                 f'<text x="{width}" y="{height - 3}" font-size="12" text-anchor="end" fill="{TEXT}">'
                 f'{until:%m-%d %H:%M}</text>')
    if not points:
        parts.append(f'<text x="{left + 8}" y="{(top + bottom) / 2:.0f}" font-size="13" fill="{TEXT}">'
                     f'{escape(empty)}</text>')
    else:
        xy = [(_x(at, since, until, left, width - left), bottom - (bottom - top) * (value - low) / (high - low))
              for at, value in points]
        parts.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in xy)}" fill="none" '
                     f'stroke="{LINE}" stroke-width="2"/>')
        if len(xy) <= 48:  # few samples (a kiosk just enrolled, a short range): each one visible
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}"/>' for x, y in xy]
        parts.append(f'<text x="{width - 4}" y="15" font-size="13" text-anchor="end" fill="{TEXT}">'
                     f'{points[-1][1]:.1f} {escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def uplink_band(title: str, spans: list[tuple[str, str, bool | None]], since: datetime, until: datetime,
                up_text: str, down_text: str, *, width: int = 440, height: int = 56) -> Markup:
    """Green where the uplink was up, red where down, nothing before HQ first heard of the kiosk,
    over the same time axis as ``time_chart``."""
    left = 44
    up_s = sum((clock.parse_iso(b) - clock.parse_iso(a)).total_seconds() for a, b, up in spans if up)
    total = max(1.0, (until - since).total_seconds())
    label = f"{title}: {up_text} {100 * up_s / total:.0f} %, {sum(1 for *_, up in spans if up is False)} × {down_text}"
    parts = _open(width, height, title, label)
    parts.append(f'<line x1="{left}" y1="30" x2="{width}" y2="30" stroke="{GRID}"/>')
    for start, end, up in spans:
        if up is None:
            continue
        x1, x2 = _x(start, since, until, left, width - left), _x(end, since, until, left, width - left)
        parts.append(f'<rect x="{x1:.1f}" y="22" width="{max(0.5, x2 - x1):.1f}" height="16" '
                     f'fill="{UP if up else DOWN}"/>')
    parts.append(f'<rect x="{left - 40}" y="42" width="10" height="10" fill="{UP}"/>'
                 f'<text x="{left - 26}" y="52" font-size="12" fill="{TEXT}">{escape(up_text)}</text>'
                 f'<rect x="{left + 60}" y="42" width="10" height="10" fill="{DOWN}"/>'
                 f'<text x="{left + 74}" y="52" font-size="12" fill="{TEXT}">{escape(down_text)}</text></svg>')
    return Markup("".join(parts))


def bars(title: str, items: list[tuple[str, int]], empty: str, *, width: int = 420, row: int = 20,
         limit: int = 12) -> Markup:
    """Horizontal bars, one per (label, value), the biggest ``limit``."""
    items = items[:limit]
    height = 26 + row * max(1, len(items))
    label = f"{title}: " + (", ".join(f"{name} {value}" for name, value in items) if items else empty)
    parts = _open(width, height, title, label)
    top = max((value for _, value in items), default=0)
    if not top:
        parts.append(f'<text x="0" y="40" font-size="13" fill="{TEXT}">{escape(empty)}</text>')
    for index, (name, value) in enumerate(items if top else []):
        y = 22 + index * row
        span = (width - 150) * value / top
        parts.append(f'<text x="96" y="{y + 14}" font-size="13" text-anchor="end" fill="{TEXT}">{escape(name)}</text>'
                     f'<rect x="100" y="{y + 3}" width="{span:.1f}" height="{row - 6}" fill="{LINE}"/>'
                     f'<text x="{104 + span:.1f}" y="{y + 14}" font-size="13" fill="{TEXT}">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
