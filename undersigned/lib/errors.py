"""Error pages (JSON under /api/) and the health endpoint."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse

from undersigned.lib.http import error_response


def bad_request(request, exception=None):
    return error_response(request, 400, "The request could not be understood.")


def permission_denied(request, exception=None):
    return error_response(request, 403, "You are not allowed to do this.")


def not_found(request, exception=None):
    return error_response(request, 404, "There is nothing at this address.")


def server_error(request):
    return error_response(request, 500, "Something went wrong on our side. Please try again.")


def csrf_failure(request, reason=""):
    return error_response(
        request,
        403,
        "The form expired or came from another site. Go back, reload the page and send it again "
        "(this needs cookies for this site).",
    )


def ping(request):
    """The cheapest view: no database. Benchmarks use it as the ceiling for Python here."""
    return HttpResponse(b"ok", content_type="text/plain")


def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse(
            {"status": "unavailable", "error": "The database does not answer."}, status=503
        )
    return JsonResponse({"status": "ok"})
