"""The source's pages: send a tip (``/tips/``, ``/l/<slug>/tip/``), come back with the
codename (``/tips/reply/``). They work without JavaScript, set no cookie, take no CSRF token
(a forged post could only send a tip or use a codename its author knows; see web/http.py),
are never stored by a cache (``web/security.py``) and keep nothing of a refused request.

Uploads are sealed as they arrive (``uploads.SealingUploadHandler``), so the handler must
be in place before anything reads the body: these views are exempt from the CSRF check,
which would read it first."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from undersigned.letters.views import get_published_letter
from undersigned.lib import codenames
from undersigned.signatures.privacy import client_ip
from undersigned.tips import services
from undersigned.tips.forms import CodenameForm, TipForm
from undersigned.tips.uploads import Envelope, SealingUploadHandler, size_text

STATUS_TEXT = {
    services.Status.RECEIVED: "Received: it is waiting to be read.",
    services.Status.READ: "Read: a recipient has read it.",
    services.Status.ANSWERED: "Answered: a recipient replied (below).",
    services.Status.CLOSED: (
        "Closed: the recipients closed this conversation. You can still read it here until "
        "it expires; to tell them more, send a new tip."
    ),
}
UNKNOWN = (
    "No conversation has this codename. Check it word by word; conversations are also "
    "deleted when they have been idle for a while, or by their recipients."
)


def _limits() -> dict:
    return {
        "max_files": settings.TIP_MAX_FILES,
        "max_upload": size_text(settings.TIP_MAX_UPLOAD_BYTES),
        "max_message": services.MAX_MESSAGE,
        "retention_days": settings.TIP_RETENTION_DAYS,
    }


def _sealing_uploads(request) -> Envelope:
    """From here on, files in this request are sealed as they arrive (before the body is
    read: nothing above this view reads it)."""
    envelope = Envelope()
    request.upload_handlers = [SealingUploadHandler(request, envelope)]
    return envelope


def _read_tip(request, form: TipForm, envelope: Envelope) -> bool:
    """Whether the form and its files can be sent; adds the errors to ``form`` if not."""
    valid = form.is_valid()
    for reason in envelope.refused:
        form.add_error("files", reason)
    if envelope.files and not valid:
        form.add_error("files", "Nothing was kept: choose the files again.")
    return valid and not envelope.refused


_private = sensitive_post_parameters()  # nothing a source posts reaches an error report


@csrf_exempt
@_private
@require_http_methods(["GET", "HEAD", "POST"])
def instance(request):
    return _tip_page(request, None)


@csrf_exempt
@_private
@require_http_methods(["GET", "HEAD", "POST"])
def for_letter(request, slug):
    return _tip_page(request, get_published_letter(slug))


def _tip_page(request, letter):
    receivers = services.can_receive(letter)
    context = {"letter": letter, "receivers": receivers, **_limits()}
    if request.method != "POST":
        return render(request, "tips/new.html", {**context, "form": TipForm()})
    if not receivers:  # accept nothing: the body is not even read
        context["refused"] = services.NOBODY
        return render(request, "tips/new.html", {**context, "form": TipForm()}, status=409)
    envelope = _sealing_uploads(request)
    form = TipForm(request.POST)
    status = 400
    if _read_tip(request, form, envelope):
        try:
            services.count_attempt(client_ip(request))
            codename = services.submit(letter, form.cleaned_data["message"], envelope)
        except services.TipError as exc:
            form.add_error(None, str(exc))
            status = exc.status
        else:
            sent = {**context, "codename": codename, "files": len(envelope.files)}
            return render(request, "tips/sent.html", sent)
    return render(request, "tips/new.html", {**context, "form": form}, status=status)


@csrf_exempt
@_private
@require_http_methods(["GET", "HEAD", "POST"])
def come_back(request):
    """GET: the codename form. POST with ``codename``: the conversation (or the same answer
    for every codename that finds none); with ``action=send`` too, a new message in it."""
    if request.method != "POST":
        return render(request, "tips/return.html", {"form": CodenameForm()})
    envelope = _sealing_uploads(request)
    form = CodenameForm(request.POST)
    if not form.is_valid():
        return render(request, "tips/return.html", {"form": form}, status=400)
    try:
        services.count_attempt(client_ip(request))
        derived = services.derive(form.cleaned_data["codename"])
    except (services.TipError, codenames.CodenameError) as exc:
        status = getattr(exc, "status", 400)
        return render(
            request, "tips/return.html", {"form": CodenameForm(), "error": str(exc)}, status=status
        )
    conversation = services.find(derived)
    if conversation is None:
        return render(
            request, "tips/return.html", {"form": CodenameForm(), "error": UNKNOWN}, status=404
        )
    send_form, sent, status = TipForm(), False, 200
    if request.POST.get("action") == "send":
        send_form = TipForm(request.POST)
        status = 400
        if _read_tip(request, send_form, envelope):
            try:
                services.send_more(conversation, send_form.cleaned_data["message"], envelope)
            except services.TipError as exc:
                send_form.add_error(None, str(exc))
                status = exc.status
            else:
                conversation.refresh_from_db()
                send_form, sent, status = TipForm(), True, 200
    context = {
        "conversation": conversation,
        "letter": conversation.letter,
        "status_text": STATUS_TEXT[services.Status(conversation.status)],
        "entries": services.for_source(conversation, derived),
        "codename": form.cleaned_data["codename"],
        "form": send_form,
        "sent": sent,
        "receivers": services.can_receive(conversation.letter),
        **_limits(),
    }
    return render(request, "tips/conversation.html", context, status=status)
