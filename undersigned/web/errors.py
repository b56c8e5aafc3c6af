"""Error pages: JSON under /api/, a page for people."""

from __future__ import annotations

from undersigned.web.http import error_response


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
