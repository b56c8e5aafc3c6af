"""Reject request bodies that are larger than any form or API call needs, before reading them."""

from __future__ import annotations

from django.conf import settings

from undersigned.lib.http import error_response


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES and not request.path.startswith("/admin/"):
            return error_response(
                request,
                413,
                f"The request is too large ({length} bytes); the limit is "
                f"{settings.MAX_REQUEST_BYTES} bytes.",
            )
        return self.get_response(request)
