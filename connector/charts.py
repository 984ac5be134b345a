"""Charts as inline SVG, drawn on the server: the HTML report and the web app embed them.

Each function returns one ``<svg>`` element as a string, to be placed inside an HTML page (it
carries no ``xmlns``: HTML5 parsers put an inline ``<svg>`` in the SVG namespace themselves, and
the page then holds no URL at all). Nothing is fetched, nothing runs: no script, no external
font or style sheet.

Every text in a chart — titles, labels, legend entries — is data (segment names come from a
rules file, customer names from an ERP) and goes through :func:`html.escape`, quotes included.

Accessibility (WAI-ARIA Authoring Practices, "Graphics" and the SVG ``<title>`` element:
https://www.w3.org/WAI/tutorials/images/complex/ and
https://developer.mozilla.org/en-US/docs/Web/SVG/Element/title): each chart has
``role="img"``, a ``<title>`` (its accessible name) and a ``<desc>`` summarising the figures;
bars carry their value as text, stacked parts and points their own ``<title>``, and series are
told apart by text (legend entries and end labels) and by marker shape, never by colour alone.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Sequence

__all__ = ["PALETTE", "bar_chart", "line_chart", "stacked_bar_chart"]

# Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/), darkest first
# after black; text is never drawn in these colours on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
# The text colour on each palette colour (the one with the higher contrast).
_INK = ("#fff", "#000", "#000", "#000", "#000", "#000", "#000", "#fff")
_WIDTH = 720
_FONT = "font-family:system-ui,sans-serif;font-size:12px"
_ids = itertools.count(1)
_LEGEND_ROW = 18

Format = Callable[[float], str]


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float) -> str:
    return f"{value:,.0f}"


def _clip(text: str, limit: int) -> str:
    """A label shortened to ``limit`` characters for the axis (the ``<title>`` keeps it
    whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(title: str, desc: str, height: int) -> tuple[str, str]:
    """The ``<svg>`` start tag with its accessible name and description, and its id."""
    n = next(_ids)
    ident = f"chart{n}"
    return (f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height}" '
            f'width="100%" style="max-width:{_WIDTH}px;{_FONT}" '
            f'aria-labelledby="{ident}-t {ident}-d">'
            f'<title id="{ident}-t">{_esc(title)}</title>'
            f'<desc id="{ident}-d">{_esc(desc)}</desc>'), ident


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *,
              fmt: Format = _number, unit: str = "") -> str:
    """Horizontal bars, one per label, each with its value written at its end.

    Args:
        title: the chart's accessible name (shown by the page's own heading).
        labels: one per bar, top to bottom.
        values: one per label; negative values are drawn as zero-length bars.
        fmt: how a value is written.
        unit: appended to every written value (``" EUR"``).
    """
    if len(labels) != len(values):
        raise ValueError("bar_chart: one value per label")
    row, top, left = 26, 8, 170
    height = top * 2 + row * max(len(labels), 1)
    peak = max((v for v in values if v > 0), default=0) or 1
    span = _WIDTH - left - 110
    desc = "; ".join(f"{label}: {fmt(v)}{unit}" for label, v in zip(labels, values,
                                                                   strict=True))
    svg, _ = _open(title, desc or "no data", height)
    parts = [svg]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        w = max(value, 0) / peak * span
        text = f"{fmt(value)}{unit}"
        parts.append(
            f'<g><title>{_esc(label)}: {_esc(text)}</title>'
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{_esc(_clip(label, 24))}'
            f'</text>'
            f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 17}">{_esc(text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar_chart(title: str, labels: Sequence[str],
                      series: Sequence[tuple[str, Sequence[float]]], *,
                      fmt: Format = _number, unit: str = "") -> str:
    """Horizontal bars of stacked parts, one bar per label, one part per series (in the
    series' order, left to right), each bar as long as its total.

    A legend names the series in that order; each part has a ``<title>`` with its series and
    value and, when wide enough, its share of the bar written inside; each bar's total is
    written at its end.
    """
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"stacked_bar_chart: series {name!r} needs one value per label")
    legend, legend_h = _legend([name for name, _ in series], 8)
    row, top, left = 26, 16 + legend_h, 170
    height = top + 8 + row * max(len(labels), 1)
    totals = [sum(max(values[i], 0) for _, values in series) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    span = _WIDTH - left - 110
    desc = "; ".join(
        f"{label}: " + ", ".join(f"{name} {fmt(values[i])}{unit}" for name, values in series)
        for i, label in enumerate(labels))
    svg, _ = _open(title, desc or "no data", height)
    parts = [svg, legend]
    for i, label in enumerate(labels):
        y = top + i * row
        x = float(left)
        parts.append(f'<g><text x="{left - 8}" y="{y + 17}" text-anchor="end">'
                     f'<title>{_esc(label)}</title>{_esc(_clip(label, 24))}</text>')
        for k, (name, values) in enumerate(series):
            value = max(values[i], 0)
            if not value:
                continue
            w = value / peak * span
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                f'fill="{PALETTE[k % len(PALETTE)]}" stroke="#fff" stroke-width="1">'
                f'<title>{_esc(label)}, {_esc(name)}: {_esc(fmt(value) + unit)}</title></rect>')
            if totals[i] and w >= 34:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 17}" text-anchor="middle" '
                             f'fill="{_INK[k % len(_INK)]}" style="font-size:10px">'
                             f'{value / totals[i]:.0%}</text>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 17}">{_esc(fmt(totals[i]) + unit)}'
                     f'</text></g>')
    parts.append("</svg>")
    return "".join(parts)


# Marker shapes, so that series differ by more than colour.
_MARKERS = ("circle", "square", "triangle", "diamond")


def _marker(kind: str, x: float, y: float, colour: str, tip: str) -> str:
    tip = f"<title>{_esc(tip)}</title>"
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{tip}</circle>'
    if kind == "square":
        return (f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" '
                f'fill="{colour}">{tip}</rect>')
    if kind == "triangle":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x - 5:.1f},{y + 4:.1f} '
                f'{x + 5:.1f},{y + 4:.1f}" fill="{colour}">{tip}</polygon>')
    return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} '
            f'{x - 5:.1f},{y:.1f}" fill="{colour}">{tip}</polygon>')


def _legend(names: Sequence[str], y: int, markers: bool = False) -> tuple[str, int]:
    """Series names in order, each after a swatch (or its marker) of its colour, wrapped over
    as many rows as they need; returns the SVG and the height it takes."""
    parts, x, row = ['<g class="legend">'], 8.0, 0
    for k, name in enumerate(names):
        shown = _clip(name, 28)
        width = 24 + 7 * len(shown)
        if x > 8 and x + width > _WIDTH:
            x, row = 8.0, row + 1
        top = y + row * _LEGEND_ROW
        colour = PALETTE[k % len(PALETTE)]
        if markers:
            parts.append(_marker(_MARKERS[k % len(_MARKERS)], x + 5, top + 7, colour, name))
        else:
            parts.append(f'<rect x="{x:.1f}" y="{top + 2}" width="10" height="10" '
                         f'fill="{colour}"><title>{_esc(name)}</title></rect>')
        parts.append(f'<text x="{x + 14:.1f}" y="{top + 11}">{_esc(shown)}</text>')
        x += width
    parts.append("</g>")
    return "".join(parts), (row + 1) * _LEGEND_ROW if names else 0


def _spread(ys: list[float], gap: float = 13.0) -> list[float]:
    """Label heights moved apart (down) so that no two are closer than ``gap``; in order."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for prev, cur in itertools.pairwise(order):
        out[cur] = max(out[cur], out[prev] + gap)
    return out


def line_chart(title: str, x_labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[float]]], *, fmt: Format = _number,
               unit: str = "") -> str:
    """Lines over the ``x_labels`` (dates, in order), one per series, each point a marker with
    its value in a ``<title>``; each series has its own marker shape and is named in the
    legend and at its last point."""
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"line_chart: series {name!r} needs one value per x label")
    legend, legend_h = _legend([name for name, _ in series], 8, markers=True)
    top, left, bottom, right = 16 + legend_h, 56, 40, 130
    height = top + 186 + bottom
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom
    peak = max((v for _, values in series for v in values), default=0) or 1
    n = len(x_labels)

    def x_of(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y_of(v: float) -> float:
        return top + plot_h - max(v, 0) / peak * plot_h

    desc = "; ".join(f"{name}: " + ", ".join(f"{x} {fmt(v)}{unit}"
                                              for x, v in zip(x_labels, values, strict=True))
                     for name, values in series)
    svg, _ = _open(title, desc or "no data", height)
    parts = [svg, legend]
    # axes: zero and the peak written on the left, every label (or every k-th) below
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
                 f'y2="{top + plot_h}" stroke="#888"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>'
                 f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>'
                 f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">'
                 f'{_esc(fmt(peak))}</text>')
    step = max(1, -(-n // 8))
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            parts.append(f'<text x="{x_of(i):.1f}" y="{top + plot_h + 18}" '
                         f'text-anchor="middle">{_esc(label)}</text>')
    # each series named at its last point, the names moved apart where the lines end close
    ends = _spread([y_of(values[-1]) + 4 if values else 0.0 for _, values in series])
    for k, (name, values) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<g><polyline points="{points}" fill="none" stroke="{colour}" '
                     f'stroke-width="2"/>')
        for i, v in enumerate(values):
            parts.append(_marker(_MARKERS[k % len(_MARKERS)], x_of(i), y_of(v), colour,
                                 f"{name}, {x_labels[i]}: {fmt(v)}{unit}"))
        if values:
            parts.append(f'<text x="{x_of(n - 1) + 8:.1f}" y="{ends[k]:.1f}">'
                         f'{_esc(_clip(name, 16))}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
