"""Answers before a request gets far: a body larger than any form or API call needs (or, on
the tip line, than its files may be) gets 413 before it is read; a database or shared cache
that does not answer gets 503."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponsePermanentRedirect

from undersigned.web.http import error_response
from undersigned.web.security import is_tip_path

log = logging.getLogger(__name__)


def _unavailable() -> tuple[type[Exception], ...]:
    """The errors of a database or shared cache that does not answer. The Redis client is
    imported only when REDIS_URL is set: it costs every process 37 MB and 0.4 s otherwise."""
    errors: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
    if str(settings.CACHES["default"]["BACKEND"]).endswith("RedisCache"):
        from redis import exceptions as redis_errors

        errors += (redis_errors.ConnectionError, redis_errors.TimeoutError)
    return errors


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.path.startswith("/admin/"):
            return self.get_response(request)
        if is_tip_path(request.path):
            # A tip may carry files (sealed as they arrive, within their own limits).
            if length > settings.TIP_MAX_REQUEST_BYTES:
                return error_response(
                    request,
                    413,
                    f"The message and its files are too large ({length} bytes); the tip line "
                    f"takes at most {settings.TIP_MAX_UPLOAD_BYTES} bytes of files. Nothing "
                    "was kept. Go back and send fewer or smaller files.",
                )
        elif length > settings.MAX_REQUEST_BYTES:
            return error_response(
                request,
                413,
                f"The request is too large ({length} bytes); the limit is "
                f"{settings.MAX_REQUEST_BYTES} bytes.",
            )
        return self.get_response(request)


class LetterMovedMiddleware:
    """A letter whose slug changed keeps its old addresses: a permanent redirect for every
    page and API call under the old slug (301 for reads, 308 for a POST)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from undersigned.letters.views import LetterMoved

        if not isinstance(exception, LetterMoved):
            return None
        path = request.get_full_path()
        for old in (f"/{exception.old}/", f"/{exception.old}"):
            if old in path:
                new = old.replace(exception.old, exception.new)
                response = HttpResponsePermanentRedirect(path.replace(old, new, 1))
                if request.method not in ("GET", "HEAD"):
                    response.status_code = 308  # a signature POSTed there is POSTed again
                return response
        return None


class DatabaseUnavailableMiddleware:
    """A database that is restarting, unreachable or (SQLite) locked for longer than the busy
    timeout, or a shared cache (``REDIS_URL``) that does not answer, gets a 503 with a message
    and ``Retry-After``, not a 500 with a stack trace. Nothing was written: the request's
    transaction did not commit, and signing asks the cache (rate limits) before it writes."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.unavailable = _unavailable()

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, self.unavailable):
            log.warning("database or cache unavailable: %s", type(exception).__name__)
            response = error_response(
                request,
                503,
                "The site is busy or briefly unavailable; nothing was saved. Please try again "
                "in a few seconds.",
            )
            response["Retry-After"] = "5"
            return response
        return None
