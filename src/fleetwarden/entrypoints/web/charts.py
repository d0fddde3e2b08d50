"""Charts for dashboard pages: inline SVG as ``Markup`` (horizontal bars, a donut, lines).

The dashboard's Content-Security-Policy forbids inline style and script, so a chart is
drawn with presentation attributes only (``x=``, ``width=``, ``fill=``, ``stroke=``)
and links are SVG ``<a href>``. Every piece of text (labels, titles, hrefs) goes
through ``Markup.format``, which escapes it: a label can say anything and still only
ever be text. Sizes are in user units of a ``viewBox``; the page's CSS scales the
chart to its panel.

Must not: emit ``style``, ``on*`` attributes, ``<script>`` or ``<foreignObject>``, or
mark anything safe that it did not build itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

ACCENT = "#1f5fa8"
GRID = "#d9dee6"
TRACK = "#eceff4"
"""The pale full length behind a bar of a fixed scale (a percentage)."""
MUTED = "#5b6576"
PALETTE = ("#1f5fa8", "#d0661a", "#2b7a3d", "#6b4fa8", "#a8201a", "#1f7a8c", "#c9a227",
           "#5b6576", "#b0487a", "#4f7a28")
LABEL_CHARS = 32
"""Longer labels are cut (with an ellipsis); the bar's tooltip has the whole label."""
CHAR_W = 6.6
"""The width of an average character of the charts' 11px text, in user units: wide
enough for DejaVu Sans, Chromium's usual system-ui face on Debian."""


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str | None = None
    part: float = 0
    """A part of the value drawn darker from the start of the bar (e.g. overdue of open)."""
    colour: str = ACCENT
    text: str | None = None
    """The figure written after the bar; the value, formatted, when None."""


@dataclass(frozen=True, slots=True)
class Slice:
    label: str
    value: float
    colour: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[tuple[date, float]]
    colour: str = ACCENT


def number(value: float) -> str:
    """12,345 or 12.5: thousands separated, one decimal only when there is one."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def compact(value: float) -> str:
    """An axis label that fits: 950, 1.2k, 960k, 1.5M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            scaled = value / size
            return (f"{scaled:.0f}" if abs(scaled) >= 10 else f"{scaled:.1f}") + suffix
    return number(round(value, 1))


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "\u2026"


def _linked(href: str | None, inner: Markup) -> Markup:
    if not href:
        return inner
    return Markup('<a href="{}">{}</a>').format(href, inner)


def _svg(width: float, height: float, title: str, body: Sequence[Markup]) -> Markup:
    """The chart at its natural size (one user unit a CSS pixel), scaled down by the
    page's CSS when its box is narrower."""
    return Markup('<svg class="chart" width="{}" height="{}" viewBox="0 0 {} {}" '
                  'role="img" aria-label="{}"><title>{}</title>{}</svg>').format(
        _n(width), _n(height), _n(width), _n(height), title, title,
        Markup("").join(body))


def _n(x: float) -> str:
    """A coordinate: short, no exponent."""
    return f"{round(x, 1):g}"


# ---------------------------------------------------------------------------- bars
def bars(items: Sequence[Bar], *, title: str, scale_to: float | None = None,
         part_label: str = "", width: float = 420, row: float = 22) -> Markup:
    """Horizontal bars, one row per item, in the given order. ``scale_to`` fixes the
    value of a full bar (100 for percentages): each bar is then drawn on a pale track
    of the full length, with its figure at the track's end, so 0 % reads as an empty
    track rather than as nothing; otherwise the largest value is full and the figure
    follows the bar. The label column is as wide as the longest (cut) label and the
    figures' column as the longest figure, so the bars get the rest of ``width``."""
    label_w, value_w = _label_width(items), _value_width(items)
    pad = 4.0
    track = width - label_w - value_w
    top = max([scale_to or 0.0, *(b.value for b in items)])
    rows: list[Markup] = []
    for i, b in enumerate(items):
        y = pad + i * row
        w = track * b.value / top if top > 0 else 0.0
        if b.value > 0:
            w = max(w, 1.5)  # a non-zero count never disappears
        part_w = min(w, track * b.part / top) if top > 0 and b.part > 0 else 0.0
        tip = f"{b.label}: {b.text or number(b.value)}"
        if part_w:
            tip += f" ({number(b.part)} {part_label})".rstrip()
        shapes = [Markup('<title>{}</title>').format(tip),
                  Markup('<text x="{}" y="{}" text-anchor="end">{}</text>').format(
                      _n(label_w - 6), _n(y + row * 0.68), _short(b.label))]
        if scale_to is not None:
            shapes.append(Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" '
                                 'stroke-width="{}"/>').format(
                _n(label_w), _n(y + row / 2), _n(label_w + track), _n(y + row / 2), TRACK,
                _n(row - 6)))
        shapes.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" fill="{}" rx="2"/>')
                      .format(_n(label_w), _n(y + 3), _n(w), _n(row - 6), b.colour))
        if part_w:
            shapes.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" fill="{}" '
                                 'rx="2"/>').format(_n(label_w), _n(y + 3), _n(part_w),
                                                    _n(row - 6), "#7a1410"))
        shapes.append(Markup('<text x="{}" y="{}">{}</text>').format(
            _n(label_w + (track if scale_to is not None else w) + 5), _n(y + row * 0.68),
            b.text or number(b.value)))
        rows.append(_linked(b.href, Markup('<g class="bar">{}</g>').format(
            Markup("").join(shapes))))
    if not items:
        rows.append(Markup('<text x="{}" y="{}" fill="{}">{}</text>').format(
            _n(label_w), _n(row * 0.7), MUTED, "none"))
    height = pad * 2 + max(len(items), 1) * row
    axis = Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
        _n(label_w), _n(pad), _n(label_w), _n(height - pad), GRID)
    return _svg(width, height, title, [axis, *rows])


def _label_width(items: Sequence[Bar]) -> float:
    longest = max((len(_short(b.label)) for b in items), default=4)
    return round(longest * CHAR_W + 12, 1)


def _value_width(items: Sequence[Bar]) -> float:
    longest = max((len(b.text or number(b.value)) for b in items), default=1)
    return round(longest * CHAR_W + 12, 1)


# --------------------------------------------------------------------------- donut
def donut(slices: Sequence[Slice], *, title: str, centre: str = "",
          width: float = 320, size: float = 130) -> Markup:
    """A ring of the slices (clockwise from the top) and a legend with counts and
    shares; slices of zero are in the legend only."""
    total = sum(s.value for s in slices)
    cx = cy = size / 2
    outer, inner = size / 2 - 4, size / 2 - 26
    parts: list[Markup] = []
    start = 0.0
    for s in slices:
        if s.value <= 0 or total <= 0:
            continue
        share = s.value / total
        tip = Markup("<title>{}: {} ({})</title>").format(s.label, number(s.value),
                                                          _share(share))
        if share >= 0.9999:
            shape = Markup('<circle cx="{}" cy="{}" r="{}" fill="none" stroke="{}" '
                           'stroke-width="{}"/>').format(
                _n(cx), _n(cy), _n((outer + inner) / 2), s.colour, _n(outer - inner))
        else:
            shape = Markup('<path d="{}" fill="{}"/>').format(
                _arc(cx, cy, outer, inner, start, start + share), s.colour)
        parts.append(_linked(s.href, Markup('<g class="slice">{}{}</g>').format(tip, shape)))
        start += share
    if total <= 0:
        parts.append(Markup('<circle cx="{}" cy="{}" r="{}" fill="none" stroke="{}" '
                            'stroke-width="{}"/>').format(
            _n(cx), _n(cy), _n((outer + inner) / 2), GRID, _n(outer - inner)))
    if centre:
        parts.append(Markup('<text x="{}" y="{}" text-anchor="middle" class="centre">{}'
                            "</text>").format(_n(cx), _n(cy + 5), centre))
    legend_x, line_h = size + 14, 20.0
    top = max(cy - line_h * len(slices) / 2, 4.0)
    for i, s in enumerate(slices):
        y = top + i * line_h
        part = _share(s.value / total) if total > 0 else "-"
        item = Markup('<rect x="{}" y="{}" width="12" height="12" fill="{}" rx="2"/>'
                      '<text x="{}" y="{}">{}: {} ({})</text>').format(
            _n(legend_x), _n(y + 2), s.colour, _n(legend_x + 18), _n(y + 12), s.label,
            number(s.value), part)
        parts.append(_linked(s.href, Markup('<g class="legend">{}</g>').format(item)))
    height = max(size, top + line_h * len(slices) + 4)
    return _svg(width, height, title, parts)


def _share(x: float) -> str:
    pct = 100 * x
    return f"{pct:.0f} %" if pct >= 10 or pct == 0 else f"{pct:.1f} %"


def _arc(cx: float, cy: float, outer: float, inner: float, a0: float, a1: float) -> str:
    """A ring segment between fractions ``a0`` and ``a1`` of a turn, from 12 o'clock."""
    def at(r: float, a: float) -> str:
        t = 2 * math.pi * a - math.pi / 2
        return f"{_n(cx + r * math.cos(t))} {_n(cy + r * math.sin(t))}"
    large = 1 if a1 - a0 > 0.5 else 0
    return (f"M {at(outer, a0)} A {_n(outer)} {_n(outer)} 0 {large} 1 {at(outer, a1)} "
            f"L {at(inner, a1)} A {_n(inner)} {_n(inner)} 0 {large} 0 {at(inner, a0)} Z")


# ---------------------------------------------------------------------------- lines
def line(series: Sequence[Series], *, title: str, unit: str = "", width: float = 320,
         height: float = 120) -> Markup:
    """Values over days, one line per series, on one scale from zero (to 100 for
    percentages): the first and last day and the scale's ends are labelled."""
    left, right, top, bottom = 44.0, 10.0, 8.0, 20.0
    points = [p for s in series for p in s.points]
    if not points:
        return _svg(width, height, title, [Markup(
            '<text x="{}" y="{}" fill="{}">{}</text>').format(
            _n(left), _n(height / 2), MUTED, "no data yet")])
    values = [v for _, v in points]
    low = min(0.0, *values)
    high = 100.0 if unit == "%" and max(values) <= 100 else max(values)
    if high <= low:
        high = low + 1
    first, last = min(d for d, _ in points), max(d for d, _ in points)
    span = max((last - first).days, 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(d: date, v: float) -> tuple[float, float]:
        x = left + (plot_w * (d - first).days / span if last != first else plot_w / 2)
        return x, top + plot_h * (high - v) / (high - low)

    suffix = " %" if unit == "%" else ""
    body = [
        Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
            _n(left), _n(top + plot_h), _n(width - right), _n(top + plot_h), GRID),
        Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-dasharray="3 3"/>')
        .format(_n(left), _n(top), _n(width - right), _n(top), GRID),
        Markup('<text x="{}" y="{}" text-anchor="end">{}</text>').format(
            _n(left - 4), _n(top + plot_h + 4), compact(low) + suffix),
        Markup('<text x="{}" y="{}" text-anchor="end">{}</text>').format(
            _n(left - 4), _n(top + 8), compact(high) + suffix),
        Markup('<text x="{}" y="{}">{}</text>').format(
            _n(left), _n(height - 4), first.isoformat()),
    ]
    if last != first:
        body.append(Markup('<text x="{}" y="{}" text-anchor="end">{}</text>').format(
            _n(width - right), _n(height - 4), last.isoformat()))
    for s in series:
        if not s.points:
            continue
        coords = [xy(d, v) for d, v in sorted(s.points)]
        tip = Markup("<title>{}: {} on {}</title>").format(
            s.label, number(sorted(s.points)[-1][1]) + suffix, sorted(s.points)[-1][0])
        body.append(Markup('<g class="series">{}<polyline points="{}" fill="none" '
                           'stroke="{}" stroke-width="2" stroke-linejoin="round"/>'
                           '<circle cx="{}" cy="{}" r="3" fill="{}"/></g>').format(
            tip, " ".join(f"{_n(x)},{_n(y)}" for x, y in coords), s.colour,
            _n(coords[-1][0]), _n(coords[-1][1]), s.colour))
    return _svg(width, height, title, body)
