"""Send a session that has not shown its second factor away from every page that acts for an
organizer (``accounts/factors.py`` says why and when)."""

from __future__ import annotations

from urllib.parse import quote

from django.shortcuts import redirect
from django.urls import reverse

from undersigned.accounts import factors

GUARDED = ("/organize/", "/accounts/", "/admin/")
# The way through the two steps, and out: reachable before the second factor.
OPEN = (
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/verify/",
    "/accounts/two-factor/",
    "/accounts/passkeys/login/",
    "/accounts/password-reset/",
    "/accounts/reset/",
    "/admin/login/",
    "/admin/logout/",
)


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if (
            path.startswith(GUARDED)  # first: asking for the user costs a session lookup
            and not path.startswith(OPEN)
            and request.user.is_authenticated
            and not factors.passes(request)
        ):
            step = "accounts:verify" if factors.has_factor(request.user) else "accounts:two_factor"
            return redirect(f"{reverse(step)}?next={quote(request.get_full_path())}")
        return self.get_response(request)
