"""The growth chart as server-side SVG (``/l/<slug>/growth.svg``), drawn from the same
folded points as the timeline API (``letters.growth``), so it needs no JavaScript."""

from __future__ import annotations

from django.http import Http404

from undersigned.letters import growth
from undersigned.letters.growth import chart_points, describe
from undersigned.letters.views import get_published_letter
from undersigned.lib.svg import growth_chart
from undersigned.web.caching import MISSING, answer, etag_for, letter_key, recent


def growth_svg(request, slug):
    key = letter_key("growth-svg", slug, request.GET.get("bucket", "day"))
    hit = recent.get(key)
    if hit is MISSING:
        letter = get_published_letter(slug)
        if letter.members_only and letter.hide_count:
            raise Http404("No such chart")
        bucket = request.GET.get("bucket", "day")
        if bucket not in growth.BUCKETS:
            bucket = "day"
        shown, points = chart_points(letter, bucket)
        svg = growth_chart(
            f"How {letter.title} grew", points, describe(letter, shown, points)
        ).encode()
        hit = (svg, etag_for(svg))
        recent.set(key, hit, 5)
    return answer(request, hit[0], "image/svg+xml", 60, hit[1])
