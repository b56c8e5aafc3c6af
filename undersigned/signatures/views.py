"""The confirmation link (a GET shows what confirming will publish and a button, and changes
nothing, since mail scanners open links; the POST confirms) and the signer's private page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from undersigned.letters.models import Letter
from undersigned.moderation import limits
from undersigned.signatures import reveal, services
from undersigned.signatures.forms import DisplayForm
from undersigned.subscriptions import services as subscriptions
from undersigned.web.caching import MISSING, recent


@csrf_exempt  # the token is the proof; see web/http.py
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    """GET shows what confirming will publish, and a button; the POST confirms."""
    try:
        if request.method == "POST":
            confirmed = services.confirm(token)
            return _confirmed(request, confirmed.letter_id, held=confirmed.held)
        submission = services.submission_for_token(token)
    except services.SigningError as exc:
        return render(request, "signatures/invalid.html", {"message": str(exc)}, status=exc.status)
    if submission.confirmed and not submission.releases:
        return _confirmed(request, submission.letter.pk, held=submission.held)
    return render(
        request,
        "signatures/confirm.html",
        {
            "letter": submission.letter,
            "submission": submission,
            "held_reason": limits.REASONS.get(submission.held, ""),
        },
    )


def _confirmed(request, letter_id: int, held: str = "") -> HttpResponse:
    """The thank-you page, the same for everyone who confirms on a letter (one for counted
    signatures, one for each reason to hold one). Rendered once a second or two per letter
    and process for visitors without cookies (no log-in, messages or member session to show);
    for others every time."""
    key = f"confirmed-page:{letter_id}:{held}"
    content = recent.get(key) if not request.COOKIES else MISSING
    if content is MISSING:
        letter = Letter.objects.get(pk=letter_id)
        context = {"letter": letter, "held": limits.REASONS.get(held, held)}
        content = render(request, "signatures/confirmed.html", context).content
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
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "withdraw":  # a second step: withdrawing cannot be undone
        return render(request, "signatures/withdraw.html", {"signature": signature})
    if action == "withdraw-confirmed":
        services.withdraw(receipt)
        return render(request, "signatures/withdrawn.html", {"letter": signature.letter})
    if action == "reaffirm":
        services.reaffirm(receipt)
        signature.refresh_from_db()
    if action == "stop-updates":
        subscriptions.stop(signature.pk)
    context = {
        "signature": signature,
        "held_reason": limits.REASONS.get(signature.flag, "") if signature.is_held else "",
        "subscribed": subscriptions.receives(signature.pk),
    }
    # A waiting name (``reveal``): the server can read it, and shows it to its signer.
    waiting = reveal.opened(signature.letter, signature) or {}
    context["waiting_name"] = waiting.get("name", "")
    choices = signature.letter.public_after_options()
    if signature.public_after and signature.public_after not in choices:
        choices = sorted({*choices, signature.public_after})  # the organizers dropped it since
    if action in (None, "reaffirm", "stop-updates"):
        named = waiting or {k: getattr(signature, k) for k in ("name", "affiliation", "comment")}
        form = DisplayForm(
            initial={"display": signature.display, "public_after": signature.public_after, **named},
            public_after_choices=choices,
        )
        return render(request, "signatures/manage.html", {**context, "form": form})
    form = DisplayForm(request.POST, public_after_choices=choices)
    if form.is_valid():
        try:
            services.change_display(receipt, **form.cleaned_data)
        except services.SigningError as exc:
            form.add_error("name", str(exc))
    if not form.is_valid():
        return render(request, "signatures/manage.html", {**context, "form": form}, status=400)
    signature.refresh_from_db()
    context["waiting_name"] = (reveal.opened(signature.letter, signature) or {}).get("name", "")
    form = DisplayForm(initial={**form.cleaned_data}, public_after_choices=choices)
    return render(request, "signatures/manage.html", {**context, "form": form, "saved": True})
