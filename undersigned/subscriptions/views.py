"""The unsubscribe link of every update mail (RFC 8058): a GET shows a button and changes
nothing (mail scanners open links); a POST unsubscribes, with no cookie and no form needed
(a mail client's one-click POST carries only ``List-Unsubscribe=One-Click``). A link that
leads nowhere looks the same as one that worked."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from undersigned.subscriptions import services


@csrf_exempt  # the token is the proof, and mail clients post without a form
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    if request.method == "POST":
        services.unsubscribe(token)
        return render(request, "subscriptions/unsubscribed.html")
    return render(request, "subscriptions/unsubscribe.html")
