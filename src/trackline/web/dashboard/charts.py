"""SVG charts drawn on the server: bars, a histogram, lines over time and a heatmap.

No script, no CDN: each chart is one inline `<svg>` string. Every label is user data until
proven otherwise (a genre, a reason code, a member's id), so every text goes through
`markupsafe.escape`; numbers are formatted by Python, never taken as text from a request.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR = 18
PALETTE = ("#3b6ea8", "#d9822b", "#4c9a52", "#a34d8c", "#7a7a7a")


def _num(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == int(x):
        return str(int(x))
    return f"{x:.3g}"


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def bars(
    items: Sequence[tuple[str, float]], title: str, *, highlight: set[str] | None = None
) -> Markup:
    """Horizontal bars, one per (label, value); `highlight` labels are drawn in orange."""
    if not items:
        return Markup("")
    top = max((v for _, v in items), default=0) or 1
    label_w = 170
    room = WIDTH - label_w - 70
    height = len(items) * (BAR + 6) + 10
    body = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * (BAR + 6)
        w = max(1.0, room * value / top) if value else 0
        color = PALETTE[1] if highlight and label in highlight else PALETTE[0]
        text = label if len(label) <= 26 else label[:25] + "…"
        body.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{escape(text)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{BAR}" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{_num(value)}</text>'
        )
    return _svg(WIDTH, height, body, title)


def histogram(edges: Sequence[float], counts: Sequence[int], title: str) -> Markup:
    """Vertical bars over equal-width bins (`edges` has one more entry than `counts`)."""
    if not counts:
        return Markup("")
    height, pad, base = 180, 40, 150
    top = max(counts) or 1
    w = (WIDTH - 2 * pad) / len(counts)
    body = [f'<line x1="{pad}" y1="{base}" x2="{WIDTH - pad}" y2="{base}" stroke="#999"/>']
    for i, n in enumerate(counts):
        h = (base - 10) * n / top
        body.append(
            f'<rect x="{pad + i * w + 1:.1f}" y="{base - h:.1f}" width="{max(w - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{_num(edges[i])} to '
            f"{_num(edges[i + 1])}: {n}</title></rect>"
        )
    body.append(f'<text x="{pad}" y="{base + 16}" font-size="11">{_num(edges[0])}</text>')
    body.append(
        f'<text x="{WIDTH - pad}" y="{base + 16}" font-size="11" text-anchor="end">'
        f"{_num(edges[-1])}</text>"
    )
    body.append(f'<text x="{pad}" y="{base + 32}" font-size="11">max bin {top:,}</text>')
    return _svg(WIDTH, height, body, title)


def lines(
    xs: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str
) -> Markup:
    """One or more lines over the same x labels (times, shown first and last)."""
    if not xs or not series:
        return Markup("")
    height, pad, base = 200, 50, 160
    values = [v for _, vs in series for v in vs if v is not None]
    top = max(values, default=0) or 1
    step = (WIDTH - 2 * pad) / max(len(xs) - 1, 1)
    body = [
        f'<line x1="{pad}" y1="{base}" x2="{WIDTH - pad}" y2="{base}" stroke="#999"/>',
        f'<text x="{pad - 4}" y="{base - (base - 10) + 4}" font-size="11" text-anchor="end">'
        f"{_num(top)}</text>",
        f'<text x="{pad - 4}" y="{base + 4}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{pad}" y="{base + 16}" font-size="11">{escape(xs[0])}</text>',
        f'<text x="{WIDTH - pad}" y="{base + 16}" font-size="11" text-anchor="end">'
        f"{escape(xs[-1])}</text>",
    ]
    for k, (name, vs) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = [
            f"{pad + i * step:.1f},{base - (base - 10) * v / top:.1f}"
            for i, v in enumerate(vs)
            if v is not None
        ]
        if len(pts) == 1:
            x, y = pts[0].split(",")
            body.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>')
        elif pts:
            body.append(
                f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" '
                'stroke-width="2"/>'
            )
        body.append(
            f'<rect x="{pad + k * 150}" y="{base + 26}" width="10" height="10" fill="{color}"/>'
            f'<text x="{pad + k * 150 + 14}" y="{base + 35}" font-size="11">{escape(name)}</text>'
        )
    return _svg(WIDTH, height, body, title)


def heatmap(labels: Sequence[str], cells: dict[tuple[str, str], float], title: str) -> Markup:
    """A square grid: cell (a, b) shaded by its value in [0, 1] (pairwise overlap)."""
    if not labels:
        return Markup("")
    n = len(labels)
    cell = max(18, min(48, 420 // n))
    left = 120
    height = left + n * cell + 10
    width = max(left + n * cell + 10, 200)
    body = []
    for i, a in enumerate(labels):
        short = a if len(a) <= 14 else a[:13] + "…"
        body.append(
            f'<text x="{left - 6}" y="{left + i * cell + cell * 0.65:.1f}" text-anchor="end" '
            f'font-size="12">{escape(short)}</text>'
            f'<text transform="translate({left + i * cell + cell * 0.65:.1f},{left - 6}) '
            f'rotate(-60)" font-size="12">{escape(short)}</text>'
        )
        for j, b in enumerate(labels):
            v = 1.0 if a == b else cells.get((a, b), cells.get((b, a), 0.0))
            v = min(max(v, 0.0), 1.0)
            shade = int(245 - 190 * v)
            fill = f"rgb({shade},{shade + 5 if shade < 250 else 250},255)"
            body.append(
                f'<rect x="{left + j * cell}" y="{left + i * cell}" width="{cell - 1}" '
                f'height="{cell - 1}" fill="{fill}"><title>{escape(a)} / {escape(b)}: '
                f"{v:.2f}</title></rect>"
            )
    return _svg(width, height, body, title)
