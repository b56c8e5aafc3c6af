"""Organizer pages: create, preview, publish, close, watch the counts, review held
signatures, export."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from undersigned.accounts.models import OrganizerKey
from undersigned.letters import services
from undersigned.letters.forms import LetterForm
from undersigned.letters.models import Letter
from undersigned.letters.views import letter_context
from undersigned.moderation.forms import HeldForm, held_by_reason


def _get_letter_for_organizer(request, slug) -> Letter:
    """The letter at ``slug`` if the user organizes it; 404 otherwise (outsiders cannot tell a
    letter they do not organize from one that does not exist)."""
    return get_object_or_404(Letter.objects.organized_by(request.user), slug=slug)


@login_required
def dashboard(request):
    # The counts the counter keeps, no live number of pending signatures: one that moves with
    # each signature would tell an organizer whether an address they typed had signed.
    letters = Letter.objects.organized_by(request.user).order_by("-created_at")
    return render(request, "organize/dashboard.html", {"letters": letters})


@login_required
def create(request):
    form = LetterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        letter = services.create(
            form.save(commit=False), [request.user], actor=request.user, via="web"
        )
        messages.success(request, "Draft saved. Preview it, then publish when it is ready.")
        return redirect("organize:letter", slug=letter.slug)
    return render(request, "organize/edit.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def letter(request, slug):
    letter = _get_letter_for_organizer(request, slug)
    form = LetterForm(request.POST or None, instance=letter)
    if request.method == "POST" and form.is_valid():
        services.edit(form.save(commit=False), form.changed_data, actor=request.user, via="web")
        messages.success(request, "Saved.")
        return redirect("organize:letter", slug=letter.slug)
    return _letter_page(request, letter, form=form, status=400 if form.errors else 200)


def _letter_page(request, letter, form=None, held_form=None, status=200):
    sealing_keys = OrganizerKey.objects.for_letter(letter).select_related("user")
    context = {
        "letter": letter,
        "form": form or LetterForm(instance=letter),
        "held_form": held_form or HeldForm(),
        "held": held_by_reason(letter),
        "sealing_keys": sealing_keys,
    }
    return render(request, "organize/letter.html", context, status=status)


@login_required
@require_POST
def held(request, slug):
    """Review held signatures: count them, or remove them with a public reason."""
    letter = _get_letter_for_organizer(request, slug)
    form = HeldForm(request.POST)
    if not form.is_valid():
        return _letter_page(request, letter, held_form=form, status=400)
    messages.success(request, form.apply(letter, actor=request.user, via="web"))
    return redirect("organize:letter", slug=letter.slug)


@login_required
def preview(request, slug):
    letter = _get_letter_for_organizer(request, slug)
    return render(
        request, "letters/detail.html", {**letter_context(letter, request), "preview": True}
    )


def _act(request, slug, verb, done: str):
    """Apply a letter verb for the organizer; its refusal becomes a message on the page."""
    letter = _get_letter_for_organizer(request, slug)
    try:
        verb(letter, actor=request.user, via="web")
    except services.LetterError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("organize:letter", slug=letter.slug)


@login_required
@require_POST
def publish(request, slug):
    return _act(request, slug, services.publish, "Published: the letter is open for signatures.")


@login_required
@require_POST
def reopen(request, slug):
    return _act(request, slug, services.reopen, "Reopened: the letter takes signatures again.")


@login_required
@require_POST
def close(request, slug):
    return _act(request, slug, services.close, "Closed: the letter no longer takes signatures.")


@login_required
def export(request, slug, fmt):
    letter = _get_letter_for_organizer(request, slug)
    try:
        rows = services.export(letter, fmt, actor=request.user, via="web")
    except services.LetterError:
        raise Http404("Unknown export format") from None
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = StreamingHttpResponse(rows, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{letter.slug}-signatures.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response
