"""The 1200x630 PNG share card that link previews show (Pillow): the title, the count and
the addressee. Pure: no models, no requests."""

from __future__ import annotations

import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
INK, MUTED, ACCENT, BG = (27, 27, 31), (80, 83, 92), (11, 87, 208), (255, 255, 255)


def rounded(count: int) -> tuple[int, bool]:
    """The count as the card shows it, and whether it is rounded down: exact below 100, then
    to two significant figures; so the card changes at each step, not with each signature."""
    if count < 100:
        return count, False
    step = 10 ** (len(str(count)) - 2)
    shown = count - count % step
    return shown, shown != count


def render(title: str, count_line: str, addressee: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), BG)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default
    draw.rectangle([0, 0, WIDTH, 16], fill=ACCENT)
    y = 70
    if addressee:
        draw.text((80, y), f"An open letter to {addressee}"[:80], font=font(34), fill=MUTED)
        y += 60
    for line in textwrap.wrap(title, 30)[:3]:
        draw.text((80, y), line, font=font(64), fill=INK)
        y += 80
    if count_line:
        draw.text((80, HEIGHT - 170), count_line, font=font(88), fill=ACCENT)
    draw.text((80, HEIGHT - 60), "Undersigned", font=font(30), fill=MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
