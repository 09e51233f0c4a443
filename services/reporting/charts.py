"""Charts drawn on the server as SVG (no script, no CDN): they print as they show."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 48, 36, 12
COLOURS = ("#0b5cad", "#e0a100", "#5b6b7b", "#1e7b34")


@dataclass(frozen=True)
class Series:
    key: str
    label: str


def nice_top(largest: int) -> int:
    """The axis' top: 1, 2 or 5 times a power of ten, at least the largest value."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= largest:
                return factor * magnitude
        magnitude *= 10


def stacked_bars(periods: Sequence[str], values: Mapping[str, Mapping[str, int]],
                 series: Sequence[Series], title: str) -> Markup:
    """Bars per period, each stacked by series; every bar says its figures in a tooltip
    (<title>) and the whole chart in its accessible name."""
    totals = [sum(values.get(p, {}).get(s.key, 0) for s in series) for p in periods]
    top = nice_top(max(totals, default=0) or 1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(periods), 1)
    bar = max(2.0, slot * 0.7)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for tick in (0, top // 2, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d5dde5"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end" font-size="11">{tick}</text>')
    every = max(1, len(periods) // 12)  # at most about twelve labels under the axis
    for i, period in enumerate(periods):
        x, base = LEFT + i * slot + (slot - bar) / 2, TOP + plot_h
        figures = values.get(period, {})
        tip = ", ".join(f"{s.label}: {figures.get(s.key, 0)}" for s in series)
        parts.append(f"<g><title>{escape(period)}: {escape(tip)}</title>")
        for j, s in enumerate(series):
            h = plot_h * figures.get(s.key, 0) / top
            if h:
                base -= h
                parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                             f'height="{h:.1f}" fill="{COLOURS[j % len(COLOURS)]}"/>')
        parts.append("</g>")
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle" font-size="11">{escape(period)}</text>')
    for j, s in enumerate(series):
        x = LEFT + j * 140
        parts.append(f'<rect x="{x}" y="{HEIGHT - 12}" width="10" height="10" '
                     f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{x + 14}" '
                     f'y="{HEIGHT - 3}" font-size="11">{escape(s.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
