"""Error answers in the form the client asked for: JSON for the API, a page for people.

PUBLIC_FORMS_WITHOUT_CSRF: the signer's forms (sign, sign as a forge account, confirm, manage,
members-only link) take no CSRF token, on purpose. A forged cross-site POST could only do what
its sender could do directly: sign with an address that must then be confirmed by its owner,
sign with an SSH signature it would need to hold, or use a secret link it would need to know.
Without the token the letter page carries nothing per visitor and sets no cookie, so it can be
cached by anyone in front of the site during a surge, and people who block cookies can still
sign. Organizer and operator forms keep Django's CSRF protection."""

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
