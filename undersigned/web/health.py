"""The health endpoint (is the database answering?) and ``/ping``, the cheapest view."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse


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
