"""The confirmation link: a GET shows a button and changes nothing (mail scanners open links);
the POST confirms."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from undersigned.letters.models import Letter
from undersigned.signatures import services
from undersigned.signatures.forms import DisplayForm
from undersigned.web.caching import MISSING, recent


@csrf_exempt  # the token is the proof; see web/http.py
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    try:
        if request.method == "POST":
            signature = services.confirm(token)
        else:
            signature = services.signature_for_token(token)
    except services.SigningError as exc:
        return render(request, "signatures/invalid.html", {"message": str(exc)}, status=exc.status)
    if signature.is_confirmed:
        return _confirmed(request, signature.letter_id)
    return render(request, "signatures/confirm.html", {"letter": signature.letter})


def _confirmed(request, letter_id: int) -> HttpResponse:
    """The thank-you page, the same for everyone who confirms on a letter. Rendered once a
    second or two per letter and process for visitors without cookies (no log-in, messages or
    member session to show); for others every time."""
    key = f"confirmed-page:{letter_id}"
    content = recent.get(key) if not request.COOKIES else MISSING
    if content is MISSING:
        letter = Letter.objects.get(pk=letter_id)
        content = render(request, "signatures/confirmed.html", {"letter": letter}).content
        if not request.COOKIES:
            recent.set(key, content, 2)
    return HttpResponse(content)


GONE = (
    "There is no signature behind this link. It may have been withdrawn, or the link may be "
    "mistyped."
)


@csrf_exempt  # the receipt is the proof; see web/http.py
@sensitive_post_parameters("name", "affiliation", "comment")
@require_http_methods(["GET", "HEAD", "POST"])
def manage(request, receipt):
    """The signer's private page. GET changes nothing; an unknown receipt and a withdrawn
    signature get the same answer, so the page cannot tell anyone whether someone signed."""
    signature = services.signature_for_receipt(receipt)
    if signature is None:
        return render(request, "signatures/gone.html", {"message": GONE}, status=404)
    form = DisplayForm(
        initial={
            "display": signature.display,
            "name": signature.name,
            "affiliation": signature.affiliation,
            "comment": signature.comment,
        }
    )
    if request.method == "POST":
        if request.POST.get("action") == "withdraw":
            services.withdraw(receipt)
            return render(request, "signatures/gone.html", {"message": WITHDRAWN}, status=404)
        form = DisplayForm(request.POST)
        if form.is_valid():
            services.change_display(receipt, **form.cleaned_data)
            signature.refresh_from_db()
            form = DisplayForm(initial={**form.cleaned_data})
            return render(
                request,
                "signatures/manage.html",
                {"signature": signature, "form": form, "saved": True},
            )
        return render(
            request, "signatures/manage.html", {"signature": signature, "form": form}, status=400
        )
    return render(request, "signatures/manage.html", {"signature": signature, "form": form})


WITHDRAWN = (
    "There is no signature behind this link. If you just withdrew it: it is gone, with the "
    "hash of your address; the count drops within seconds."
)
