"""The confirmation link: a GET shows a button and changes nothing (mail scanners open links);
the POST confirms."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from undersigned.signatures import services


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    try:
        if request.method == "POST":
            signature = services.confirm(token)
        else:
            signature = services.signature_for_token(token)
    except services.SigningError as exc:
        return render(request, "signatures/invalid.html", {"message": str(exc)}, status=exc.status)
    template = "signatures/confirmed.html" if signature.is_confirmed else "signatures/confirm.html"
    return render(request, template, {"letter": signature.letter, "signature": signature})
