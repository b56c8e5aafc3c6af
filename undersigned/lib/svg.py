"""Small server-side SVG drawings (no JavaScript, no library): the growth chart and the
badge. Every text is escaped; the drawings carry a ``<title>`` and a ``<desc>`` that state
their numbers for screen readers."""

from __future__ import annotations

from xml.sax.saxutils import escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD = 640, 280, 64, 36, 16


def growth_chart(title: str, points: list[tuple[str, int]], desc: str) -> str:
    """A line chart of ``points`` (label, cumulative count), one circle per point, with the
    first and last labels on the x axis and 0 and the top count on the y axis."""
    top = max((n for _, n in points), default=0) or 1
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD, HEIGHT - PAD_BOTTOM - PAD
    step = inner_w / max(len(points) - 1, 1)

    def xy(i: int, n: int) -> tuple[float, float]:
        return PAD_LEFT + i * step, PAD + inner_h * (1 - n / top)

    coords = [xy(i, n) for i, (_, n) in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    circles = "".join(
        f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>'
        f"{escape(label)}: {n:,}</title></circle>"
        for (x, y), (label, n) in zip(coords, points, strict=True)
    )
    labels = ""
    if points:
        labels = (
            f'<text x="{PAD_LEFT}" y="{HEIGHT - 12}">{escape(points[0][0])}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 12}" text-anchor="end">'
            f"{escape(points[-1][0])}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="t d">'
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>'
        "<style>text{font:13px system-ui,sans-serif;fill:#50535c}"
        ".axis{stroke:#767983}.line{fill:none;stroke:#0b57d0;stroke-width:2.5}"
        ".point{fill:#0b57d0}</style>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD + inner_h}" x2="{WIDTH - PAD}" '
        f'y2="{PAD + inner_h}"/>'
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD}" x2="{PAD_LEFT}" y2="{PAD + inner_h}"/>'
        f'<text x="{PAD_LEFT - 8}" y="{PAD + 5}" text-anchor="end">{top:,}</text>'
        f'<text x="{PAD_LEFT - 8}" y="{PAD + inner_h}" text-anchor="end">0</text>'
        f"{labels}"
        + (f'<polyline class="line" points="{line}"/>' if len(points) > 1 else "")
        + f"{circles}</svg>"
    )


def _text_width(text: str) -> int:
    """A fair guess of the width of ``text`` at 11 px in a sans-serif face."""
    return int(sum(4 if c in ",.:;il1 " else 7 for c in text)) + 12


def badge(label: str, value: str) -> str:
    """A shields-style badge: ``label | value``, with its text as its accessible name."""
    left, right = _text_width(label), _text_width(value)
    width = left + right
    label, value = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" '
        f'viewBox="0 0 {width} 20" role="img" aria-label="{label}: {value}">'
        f"<title>{label}: {value}</title>"
        f'<rect width="{left}" height="20" rx="3" fill="#50535c"/>'
        f'<rect x="{left}" width="{right}" height="20" rx="3" fill="#0d652d"/>'
        f'<rect x="{left}" width="4" height="20" fill="#0d652d"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14" text-anchor="middle">{label}</text>'
        f'<text x="{left + right / 2}" y="14" text-anchor="middle">{value}</text>'
        "</g></svg>"
    )
