"""Headers that every answer carries: a strict Content-Security-Policy (our own scripts and
styles only, nothing from anyone else, no framing), a Permissions-Policy that turns off what
the site never uses, and, on pages that carry a private link (a confirmation, a signer's
private page, a members-only pass) or a source's tip, ``Cache-Control: no-store`` and no
referrer.

The Django admin's pages use inline scripts and styles, so they get the same policy with
those allowed; it is only for operators who are logged in."""

from __future__ import annotations

import re

POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}
ADMIN = {**POLICY, "script-src": "'self' 'unsafe-inline'", "style-src": "'self' 'unsafe-inline'"}
PERMISSIONS = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
    "interest-cohort=(), browsing-topics=()"
)
PRIVATE_PATHS = ("/v/", "/s/", "/m/", "/u/", "/pv/", "/ps/", "/organize/join/", "/tips/")
# The tip line: ``/tips/...`` and each letter's ``/l/<slug>/tip/``.
TIP_PATH = re.compile(r"/tips/|/l/[^/]+/tip/")


def is_tip_path(path: str) -> bool:
    return TIP_PATH.match(path) is not None


def is_private(path: str) -> bool:
    return path.startswith(PRIVATE_PATHS) or is_tip_path(path)


def _header(policy: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy, self.admin = _header(POLICY), _header(ADMIN)

    def __call__(self, request):
        response = self.get_response(request)
        admin = request.path.startswith("/admin/")
        response.headers.setdefault("Content-Security-Policy", self.admin if admin else self.policy)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS)
        if is_private(request.path):
            response["Cache-Control"] = "private, no-store"
            response["Referrer-Policy"] = "no-referrer"
        return response
