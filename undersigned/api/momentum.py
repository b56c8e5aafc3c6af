"""How a letter grew: ``/api/v1/letters/<slug>/timeline?bucket=hour|day[&format=csv]``.
Cacheable, and open to other sites' scripts (``Access-Control-Allow-Origin: *``, never with
credentials), like the count."""

from __future__ import annotations

import csv
import io
import json
from functools import wraps

from django.http import HttpResponse

from undersigned.api.views import _members_only, _not_found, _published_letter, api_view, error
from undersigned.letters import growth
from undersigned.web.caching import cached_response, letter_key


def allow_any_origin(response: HttpResponse) -> HttpResponse:
    """Let any site's script read this public answer; cookies are never sent with it."""
    response["Access-Control-Allow-Origin"] = "*"
    return response


def cross_origin(view):
    """``view``'s answers, readable by any site's script (``allow_any_origin``)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return allow_any_origin(view(request, *args, **kwargs))

    return wrapper


@api_view(["GET", "HEAD"])
def timeline(request, slug):
    bucket = request.GET.get("bucket", "day")
    fmt = request.GET.get("format", "json")
    if bucket not in growth.BUCKETS:
        return allow_any_origin(error("'bucket' must be 'hour' or 'day'.", 400))
    if fmt not in ("json", "csv"):
        return allow_any_origin(error("'format' must be 'json' or 'csv'.", 400))

    def build():
        letter = _published_letter(slug)
        if letter is None:
            return _not_found(slug)
        if letter.members_only and letter.hide_count:
            return _members_only()
        shown = growth.effective_bucket(letter, bucket)
        points = growth.points(letter, bucket)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["t", "count"])
            writer.writerows([p["t"], p["count"]] for p in points)
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'inline; filename="{slug}-{shown}.csv"'
            return response
        body = json.dumps({"bucket": shown, "k": growth._k(), "points": points})
        return HttpResponse(body, content_type="application/json")

    key = letter_key("api-timeline", slug, bucket, fmt)
    return allow_any_origin(cached_response(request, key, 5, 60, build))
