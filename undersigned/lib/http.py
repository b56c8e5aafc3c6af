"""Error answers in the form the client asked for: JSON for the API, a page for people."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(request: HttpRequest, status: int, message: str, **extra) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": message, **extra}, status=status)
    html = render_to_string("error.html", {"status": status, "message": message}, request)
    return HttpResponse(html, status=status)
